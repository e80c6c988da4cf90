"""Fine-tune page pieces: choosing a base, the adaptation plan, the job form, and before/after results (the
explanations through ``dlcore.explain.service``, as on the Explain page)."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dlcore import backbones, plots
from dlcore.errors import DlcoreError, ModelError
from dlcore.explain.service import Request, cost, explain_record, trust_cost, trust_record
from dlcore.explain.views import before_after_method, compare_row
from dlcore.finetune import Plan, build_plan, finetune_config, layer_table, seeded_plan, shipped_bases
from dlcore.models.spec import TrainConfig
from dlcore.record import ModelMeta
from dlcore.store import ModelRecord
from ui import explain as ux
from ui.cache import dataset, model, store, workspace
from ui.imports import import_widget
from ui.trust import verdict_box
from ui.widgets import submit_once

SOURCES = ("Shipped base", "Stored model", "Upload a .keras file", "Keras backbone")


def base_picker() -> tuple[str | None, ModelMeta | None]:
    """Where the base comes from; returns its reference (path, model id or ``keras:...``) and typed record."""
    source = st.radio("Base model", SOURCES, horizontal=True, key="ft_source")
    if source == "Shipped base":
        bases = {b.path: b for b in shipped_bases()}
        path = st.selectbox("Shipped base", list(bases), format_func=lambda p: bases[p].name) if bases else None
        if not path:
            return None, None
        meta = bases[path].meta
        trained_on = meta.config.data if meta.config is not None else "?"
        st.caption(f"Trained on `{trained_on}` by `{meta.extra.get('made_by', '')}`; "
                   f"validation accuracy {meta.metrics.get('val_accuracy', float('nan')):.3f}.")
        return path, meta
    if source == "Stored model":
        records = {r.model_id: r for r in store().list() if not r.generative}  # a VAE or GAN has no head to adapt
        if not records:
            st.info("No stored classifiers or regressors yet: train one on the Train page, or upload one.")
            return None, None
        model_id = st.selectbox("Stored model", list(records), format_func=lambda i: f"{i} · {records[i].meta.name}")
        return model_id, records[model_id].meta
    if source == "Upload a .keras file":
        model_id = import_widget("ft_upload")
        return (model_id, store().get(model_id).meta) if model_id else (None, None)
    return _backbone_picker()


def _backbone_picker() -> tuple[str | None, ModelMeta | None]:
    found = backbones.available(workspace())
    if not found:
        st.info("No backbone weights on this machine, and nothing is downloaded. Upload the weights file Keras "
                "publishes (e.g. `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`), or copy it "
                f"into {' or '.join(f'`{d}`' for d in backbones.weight_dirs(workspace()))}.")
        upload = st.file_uploader("Backbone weights (.h5)", key="ft_weights")
        if upload is not None:
            try:
                with st.spinner("Checking the weights..."):
                    path = backbones.save_uploaded_weights(upload.getvalue(), upload.name, workspace())
                st.success(f"Kept {path.name}.")
                st.rerun()
            except DlcoreError as exc:
                st.error(str(exc))
        return None, None
    refs = {b["ref"]: b for b in found}
    ref = st.selectbox("Backbone", list(refs), format_func=lambda r: f"{refs[r]['name']} (alpha {refs[r]['alpha']}, "
                       f"{refs[r]['size']}x{refs[r]['size']})")
    name = str(refs[ref]["name"])
    return ref, ModelMeta(arch=name, name=name)


@st.cache_resource(show_spinner="Adapting the base to the data...", max_entries=6)
def plan_for(ref: str, data: str, head: str, freeze: int, root: str) -> Plan:
    """The adapted model for these choices (built once per combination)."""
    from dlcore.models.spec import FineTuneSpec

    return build_plan(FineTuneSpec(base=ref, head=head, freeze=freeze), dataset(data), root)


def plan_view(plan: Plan) -> None:
    """What happens to the base, then its layers as a table."""
    (st.warning if plan.head != "kept" else st.info)(plan.notes[0].capitalize())
    for note in plan.notes[1:]:
        st.caption(f"• {note}")
    table = pd.DataFrame(layer_table(plan.model, plan.head_start))
    st.dataframe(table, hide_index=True, height=min(740, 38 + 35 * len(table)))


def finetune_form(ref: str, data: str, meta: ModelMeta | None, head: str, freeze: int) -> TrainConfig | None:
    """Training settings for the job, with the optional second phase; a config when Start is pressed."""
    with st.form("finetune_form"):
        c1, c2, c3 = st.columns(3)
        epochs = c1.number_input("Epochs (first phase)", 1, 1000, 10)
        lr = c1.number_input("Learning rate", 1e-6, 1.0, 1e-3, format="%.5f")
        batch = c2.number_input("Batch size", 1, 4096, 32)
        limit = c2.number_input("Use at most N training rows (0: all)", 0, 10**7, 0)
        seed = c3.number_input("Seed", 0, 2**31 - 1, 0)
        name = c3.text_input("Model name", "")
        two = st.checkbox("Second phase: unfreeze the top layers and train on at a lower learning rate")
        d1, d2, d3 = st.columns(3)
        unfreeze = d1.number_input("Layers with weights to unfreeze", 1, 1000, 2)
        fine_epochs = d2.number_input("Second-phase epochs", 1, 1000, 5)
        fine_lr = d3.number_input("Second-phase learning rate", 1e-7, 1.0, 1e-4, format="%.6f")
        if not submit_once("Start fine-tuning", "finetune_form", type="primary"):
            return None
    second = int(fine_epochs) if two else 0
    try:
        return finetune_config(ref, data, base_meta=meta, head=head, freeze=int(freeze),
                               epochs=int(epochs) + second, learning_rate=float(lr), batch_size=int(batch),
                               train_limit=int(limit), seed=int(seed), name=name.strip(),
                               unfreeze=int(unfreeze) if two else 0, fine_epochs=second,
                               fine_learning_rate=float(fine_lr))
    except DlcoreError as exc:
        st.error(str(exc))
        return None


def before_after_view(record: ModelRecord) -> None:
    """The base before and the tuned model after, side by side on the same validation split."""
    meta = record.meta
    ev, tune = meta.evaluation, meta.finetune_report
    before = ev.get("before")
    if not before:
        return
    st.subheader("Before and after fine-tuning")
    st.caption(f"Base: {tune.get('base_label', '?')}; {tune.get('notes', [''])[0]}. Both on the validation split "
               f"of `{meta.data_name or '?'}`.")
    st.plotly_chart(plots.before_after(before, ev, ("before (base)", "after (fine-tuned)")),
                    key=f"ba_{record.model_id}")
    left, right = st.columns(2)
    for col, label, report in ((left, "Before", before), (right, "After", ev)):
        if report.get("kind") == "classification":
            fig = plots.confusion_matrix(report["confusion_matrix"], report["class_names"])
        else:
            fig = plots.predicted_vs_true(report["y_true"], report["y_pred"])
        fig.update_layout(title=f"{label}: {fig.layout.title.text}")
        col.plotly_chart(fig, key=f"ba_{label}_{record.model_id}")
    if meta.config is not None:
        explanations_before_after(record)


@st.cache_resource(show_spinner="Loading the base as the job started...", max_entries=4)
def _base_as_started(model_id: str, created: str, root: str) -> Any:
    """The model the job started from: kept in its job folder, or (older jobs) rebuilt with the job's seed."""
    from dlcore.finetune import load_before
    from dlcore.jobs import job_folder

    meta = store().get(model_id).meta
    try:
        folder = job_folder(meta.job or "", root)
    except DlcoreError:  # the job folder is gone
        folder = None
    kept = load_before(folder) if folder is not None else None
    if kept is not None:
        return kept
    if meta.config is None:
        raise ModelError(f"model {model_id} has no training config to rebuild its base from")
    return seeded_plan(meta.config, dataset(*meta.data_key()), root).model


def explanations_before_after(record: ModelRecord) -> None:
    """The same validation inputs explained for the base as the job started and for the tuned model, with
    the same method, seed and background (``dlcore.explain.service``); one chosen row's figures side by side,
    compared by ``dlcore.explain.views.compare_row``."""
    meta = record.meta
    ds = dataset(*meta.data_key())
    method = before_after_method(ds)
    st.markdown(f"**Explanations before and after** ({method.upper()}, the same seed and background for both)")
    c1, c2, c3 = st.columns(3)
    n = int(c1.number_input("Validation rows explained", 1, min(10, ds.n_val), min(3, ds.n_val), key="ft_xai_rows"))
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="ft_xai_seed"))
    try:
        nets = {"before": _base_as_started(record.model_id, meta.created, str(workspace())),
                "after": model(record.model_id)}
    except DlcoreError as exc:
        st.info(f"The base cannot be rebuilt to explain it ({exc}).")
        return
    x, request = ds.x_val[:n], Request(method, seed=seed, target="all")
    results = {}
    for label, net in nets.items():
        results[label] = ux.explanation(
            (record.model_id, meta.created, "finetune", label, n, seed), cost(meta, net, ds, x, request),
            lambda progress, net=net: explain_record(meta, net, ds, x, request, progress=progress), f"ft_run_{label}")
    if any(r is None for r in results.values()):
        return
    row = int(c2.selectbox("Row shown", range(n), key="ft_xai_row"))
    shown = compare_row(results["before"].attribution, results["after"].attribution, ds, row)
    st.caption(f"Row {row}, explained for {shown.what}. Rank agreement of the two explanations: "
               f"{shown.agreement:.2f} (1: the same ranking; lower: fine-tuning changed what the model looks at).")
    for column, label in zip(st.columns(2), ("before", "after")):
        with column:
            output = shown.before if label == "before" else shown.after
            st.markdown(f"*{'Before (base)' if label == 'before' else 'After (fine-tuned)'}*: output {output:.4g}"
                        + (f" for {shown.class_name}" if shown.class_name is not None else ""))
            ux.method_view(results[label].attribution.row(row), shown.cls, f"ft_xai_{label}")
    st.markdown("**How far to trust each** (faithfulness and randomisation of the row shown, for the same class)")
    for column, label in zip(st.columns(2), ("before", "after")):
        with column:
            net, got = nets[label], results[label]
            key = (record.model_id, meta.created, "finetune_trust", label, n, seed, row, shown.cls)
            plan = trust_cost(meta, net, ds, x[row:row + 1], request, compare=False)
            report = ux.explanation(key, plan, lambda progress, net=net, got=got: trust_record(
                meta, net, ds, x, got, request, row=row, cls=shown.cls, compare=False, progress=progress),
                f"ft_trust_{label}")
            if report is not None:
                verdict_box(report, f"{'Before' if label == 'before' else 'After'}: ")
