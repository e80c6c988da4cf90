"""Streamlit helpers of the Explain page: inputs, explanations run once with a progress bar and kept for
the server, trust tables and downloads. Pages -> ui -> dlcore."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from dlcore import plots
from dlcore.errors import DlcoreError
from dlcore.explain.inputs import check_fits, image_input, model_dataset, row_fields, row_input, text_input
from dlcore.store import ModelRecord
from ui.cache import model as load_model

MAX_KEPT = 48  # explanations kept per server (each is a few arrays of the input's size)
AUTO_RUN_ROWS = 3_000_000  # explanations cheaper than this many model evaluations run without a click


@st.cache_resource(show_spinner=False)
def _kept() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


@st.cache_resource(show_spinner=False)
def warm_up_shap() -> threading.Thread:
    """Compile shap's table helpers in the background once per server (see ``dlcore.explain.warm_up``)."""
    from dlcore.explain import warm_up

    thread = threading.Thread(target=warm_up, name="shap-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner="Loading the model's data set...", max_entries=8)
def dataset_of(config_json: str) -> Any:
    """The data set a model was trained on, split as in training (one load per training config)."""
    return model_dataset({"config": json.loads(config_json)})


def model_and_data(record: ModelRecord) -> tuple[Any, Any]:
    """The stored model and its data set (both cached); a model imported without one is explained with a
    data set the user picks, checked to fit it."""
    config = dict(record.meta.get("config") or {})
    if not config.get("data"):
        from ui.widgets import dataset_picker

        config = {"data": dataset_picker("explain_data", "Data set to explain it with (the model was imported "
                                                         "without its training data)")}
    ds = dataset_of(json.dumps(config, sort_keys=True))
    check_fits(record.meta, ds)
    return load_model(record.model_id), ds


def pick_input(record: ModelRecord, ds: Any) -> tuple[np.ndarray, str, int | None]:
    """The input to explain as ``(1, *input_shape)``, a label, and its validation index (None for the user's)."""
    image = ds.modality == "image"
    sources = ["Validation row", "Upload an image" if image else "Type a text" if ds.modality == "text" else "Type a row"]
    source = st.radio("Input", sources, horizontal=True, key="explain_source")
    if source == "Validation row":
        index = int(st.number_input(f"Row of the validation split (0 to {ds.n_val - 1})", 0, ds.n_val - 1, 0, key="explain_index"))
        truth = ds.class_names[int(ds.y_val[index])] if ds.class_names else f"{float(ds.y_val[index]):.4g}"
        return ds.x_val[index:index + 1], f"validation row {index} (true: {truth})", index
    if source == "Type a text":
        text = st.text_area("Text", str(ds.x_val[0]), key="explain_text")
        return text_input(record.meta, text), "typed text", None
    if image:
        upload = st.file_uploader("Image (PNG or JPEG, under 5 MB)", type=["png", "jpg", "jpeg", "bmp"], key="explain_upload")
        invert = st.checkbox("Dark drawing on a light background (invert)", key="explain_invert")
        if upload is None:
            st.info("Upload an image to explain, or pick a validation row.")
            st.stop()
        return image_input(record.meta, upload.getvalue(), invert=invert), f"uploaded {upload.name}", None
    return _typed_row(record), "typed row", None


def _typed_row(record: ModelRecord) -> np.ndarray:
    fields = row_fields(record.meta)
    import pandas as pd

    start = pd.DataFrame([{f["name"]: f["default"] for f in fields}])
    st.caption("Raw values, before preprocessing: numbers start at the training means, categories at a value "
               "the model knows.")
    choices = {f["name"]: st.column_config.SelectboxColumn(options=f["options"]) for f in fields if f.get("options")}
    edited = st.data_editor(start, hide_index=True, key="explain_row", column_config=choices)
    return row_input(record.meta, edited.iloc[0].to_dict())


def input_key(x: np.ndarray) -> str:
    """A short digest of an input (texts by their characters: an object array's bytes are pointers)."""
    data = json.dumps([str(t) for t in x.ravel()]).encode() if x.dtype == object else np.ascontiguousarray(x).tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


def explanation(key: tuple, plan_text: str, cost: int, compute: Callable[[Callable[[float, str], None]], Any],
                button_key: str) -> Any | None:
    """``compute(progress)`` run once for ``key`` and kept; shows the cost first, a progress bar while it
    runs, and waits for a click when it would take more than ``AUTO_RUN_ROWS`` model evaluations."""
    st.caption(plan_text)  # what is (or was) run, every time: it says what the figures below are made of
    kept, lock = _kept()
    with lock:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    if cost > AUTO_RUN_ROWS and not st.button("Run", key=button_key, type="primary"):
        return None
    bar = st.progress(0.0, text="starting...")
    try:
        result = compute(lambda fraction, text: bar.progress(min(1.0, max(0.0, fraction)), text=text))
    except DlcoreError as exc:
        bar.empty()
        st.error(str(exc))
        return None
    bar.empty()
    with lock:
        kept[key] = result
        while len(kept) > MAX_KEPT:
            kept.popitem(last=False)
    return result


def downloads(fig: Any, attr: Any, cls: int | None, name: str, key: str) -> None:
    """The figure as HTML, and the numbers behind it as CSV and JSON."""
    with st.popover("Download", icon=":material/download:"):
        st.download_button("Figure (HTML)", data=lambda: plots.figure_html(fig), file_name=f"{name}.html",
                           mime="text/html", key=f"{key}_html", on_click="ignore")
        st.download_button("Numbers (CSV)", data=lambda: attr.to_frame(cls).to_csv(index=False), file_name=f"{name}.csv",
                           mime="text/csv", key=f"{key}_csv", on_click="ignore")
        st.download_button("Numbers (JSON)", data=lambda: json.dumps(attr.to_dict(cls)), file_name=f"{name}.json",
                           mime="application/json", key=f"{key}_json", on_click="ignore")


def figure(fig: Any, attr: Any, cls: int | None, name: str, key: str) -> None:
    """A chart with its download menu under it (at its own width when it has one, such as the text view)."""
    st.plotly_chart(fig, key=key, width="content" if fig.layout.width else "stretch")
    downloads(fig, attr, cls, name, key)


def trust_table(trust: Any) -> None:
    """The trust figures as a small table that wraps its text."""
    import pandas as pd

    st.table(pd.DataFrame(trust.rows()).set_index("check"))


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's outputs for one input, as a vector."""
    from dlcore.explain.plan import BatchedPredict

    return BatchedPredict(model)(x)[0]


def class_names(record: ModelRecord, ds: Any) -> tuple[str, ...] | None:
    """The names of the model's outputs: its own (given when it was trained or imported) when it has as many
    as the data set has classes, else the data set's."""
    own = tuple(str(c) for c in record.meta.get("class_names") or ())
    data = tuple(str(c) for c in ds.class_names or ())
    return own if own and len(own) == len(data) else (data or None)


def naming_note(record: ModelRecord, ds: Any) -> str | None:
    """A sentence when the model and the data set name the same outputs differently (an imported model)."""
    own, data = class_names(record, ds), tuple(str(c) for c in ds.class_names or ())
    if not own or own == data:
        return None
    same = " (the same names in another order: check the model was trained with this order)" if sorted(own) == sorted(data) else ""
    return (f"The model names its outputs {', '.join(own)}; {ds.name!r} names its classes {', '.join(data)}{same}. "
            "Output k is read as the data set's k-th class; predictions are shown in the model's names, "
            "true classes in the data set's.")


def _options(record: ModelRecord, ds: Any) -> dict[str, Any]:
    return {"target": "all", "feature_names": ds.feature_names, "class_names": class_names(record, ds)}


def sample_options(ds: Any) -> dict[str, dict[str, int]]:
    """Sample counts per method, starting at shap's and lime's defaults: more for closer estimates (the trust
    table says when SHAP's sampled values do not add up), fewer for speed."""
    from dlcore.explain.plan import DEFAULTS, EXACT_MAX_FEATURES

    shap: dict[str, int] = {}
    with st.expander("Sample counts: more for closer estimates, fewer for speed"):
        c1, c2 = st.columns(2)
        if ds.modality == "text":
            lime = int(c1.number_input("LIME: copies of the text with words removed", 500, 50_000,
                                       DEFAULTS["lime_text_samples"], step=500, key="explain_lime_samples"))
        elif ds.modality == "tabular":
            shap["background_size"] = int(c1.number_input(
                "SHAP: background rows", 10, 1000, DEFAULTS["background_size"], step=10, key="explain_background",
                help="the rows expectations are taken over (a seeded sample of the training rows)"))
            if len(ds.feature_names) > EXACT_MAX_FEATURES:
                shap["max_evals"] = int(c1.number_input("SHAP: model evaluations per row (permutation)", 2 * len(ds.feature_names) + 1,
                                                        100_000, max(DEFAULTS["max_evals"], 2 * len(ds.feature_names) + 1),
                                                        step=100, key="explain_max_evals"))
            lime = int(c2.number_input("LIME: perturbed rows", 500, 50_000, DEFAULTS["lime_tabular_samples"], step=500,
                                       key="explain_lime_samples"))
        else:
            shap["nsamples"] = int(c1.number_input("SHAP: gradient samples per class", 20, 5000, DEFAULTS["nsamples"],
                                                   step=100, key="explain_nsamples",
                                                   help="interpolation points between the input and background rows"))
            lime = int(c2.number_input("LIME: perturbed inputs", 100, 20_000, DEFAULTS["lime_image_samples"], step=100,
                                       key="explain_lime_samples"))
    return {"shap": shap, "lime": {"num_samples": lime}}


def explain_input(record: ModelRecord, model: Any, ds: Any, x: np.ndarray, method: str, seed: int,
                  stable: bool, samples: dict[str, int] | None = None) -> tuple[Any, list[Any]] | None:
    """One input explained for every class with ``method`` (and, for ``stable``, two more seeds), with the
    sample counts of ``sample_options``."""
    from dlcore.explain import estimate, explain
    from dlcore.explain.trust import rerun_seeds

    samples = dict(samples or {})
    options = {**_options(record, ds), **samples}
    plan = estimate(model, x, method, ds.x_train, **options)
    runs = 3 if stable else 1

    def compute(progress: Callable[[float, str], None]) -> tuple[Any, list[Any]]:
        attr = explain(model, x, method, ds.x_train, seed=seed, progress=lambda f, t: progress(f / runs, t), **options)
        if not stable:
            return attr, []
        return attr, rerun_seeds(model, x, attr, ds.x_train, progress=lambda f, t: progress((1 + 2 * f) / 3, f"stability check, {t}"),
                                 **options)

    key = (record.model_id, record.meta.get("created"), input_key(x), method, seed, stable, tuple(sorted(samples.items())))
    text = plan.describe() + (" (x3 for the stability check)" if stable else "")
    return explanation(key, text, plan.model_rows * runs, compute, f"run_{method}")


def method_view(attr: Any, cls: int, key: str) -> None:
    """The figures of one explanation of one input, for class ``cls``."""
    name = f"{attr.method}_{attr.algorithm}_class{cls}"
    if attr.texts:
        figure(plots.text_highlight(attr, 0, cls), attr, cls, f"{name}_text", f"{key}_text")
        figure(plots.lime_weights(attr, 0, cls), attr, cls, f"{name}_weights", f"{key}_weights")
    elif attr.is_image and attr.method == "shap":
        figure(plots.image_attribution(attr, 0, cls), attr, cls, name, f"{key}_map")
    elif attr.is_image:
        figure(plots.lime_superpixels(attr, 0, cls), attr, cls, name, f"{key}_superpixels")
        figure(plots.lime_weights(attr, 0, cls), attr, cls, f"{name}_weights", f"{key}_weights")
    elif attr.method == "shap":
        figure(plots.waterfall(attr, 0, cls), attr, cls, name, f"{key}_waterfall")
    else:
        figure(plots.lime_weights(attr, 0, cls), attr, cls, name, f"{key}_weights")
    notes = "".join(f" {n}." for n in attr.notes)
    units = "" if attr.is_image or attr.texts else " Feature values are model inputs (after the model's preprocessing)."
    st.caption(f"{attr.algorithm}, {attr.seconds:.2f} s, {attr.model_rows:,} model evaluations, seed {attr.seed}.{notes}{units}")


def global_views(record: ModelRecord, model: Any, ds: Any, cls: int, seed: int) -> None:
    """SHAP over a seeded sample of validation rows: importance, beeswarm and dependence."""
    from dlcore.explain import estimate, explain

    n = int(st.slider("Rows to explain", 5, min(200, ds.n_val), min(50, ds.n_val), key="explain_global_rows"))
    rows = np.sort(np.random.default_rng(seed).choice(ds.n_val, n, replace=False))
    options = {**_options(record, ds), "background_size": 50}
    plan = estimate(model, ds.x_val[rows], "shap", ds.x_train, **options)
    key = (record.model_id, record.meta.get("created"), "global", n, seed)
    attr = explanation(key, plan.describe(), plan.model_rows,
                       lambda progress: explain(model, ds.x_val[rows], "shap", ds.x_train, seed=seed, progress=progress, **options),
                       "run_global")
    if attr is None:
        return
    left, right = st.columns(2)
    with left:
        figure(plots.importance_bar(attr, cls), attr, cls, f"importance_class{cls}", "global_importance")
    with right:
        figure(plots.beeswarm(attr, cls, seed=seed), attr, cls, f"beeswarm_class{cls}", "global_beeswarm")
    names = list(attr.feature_names)
    order = list(np.argsort(-np.abs(attr.flat(cls)).mean(axis=0), kind="stable"))
    c1, c2 = st.columns(2)
    feature = c1.selectbox("Dependence of", [names[j] for j in order], key="explain_dep_feature")
    colour = c2.selectbox("Coloured by", ["(strongest interaction)", *names], key="explain_dep_colour")
    fig = plots.dependence(attr, feature, None if colour.startswith("(") else colour, cls)
    figure(fig, attr, cls, f"dependence_{feature}", "global_dependence")
