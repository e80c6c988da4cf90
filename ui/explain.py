"""Streamlit helpers of the Explain page: inputs, explanations run once with a progress bar and kept for
the server, trust tables and downloads. The explanations themselves are ``dlcore.explain.service``'s; the
global view's rows and feature order are ``dlcore.explain.views``'. Pages -> ui -> dlcore."""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import streamlit as st

from dlcore import plots
from dlcore.explain.attribution import GAP_METHODS
from dlcore.explain.inputs import image_input, row_fields, row_input, text_input
from dlcore.explain.plan import is_text_model
from dlcore.explain.readable import readable
from dlcore.explain.report import seed_spread
from dlcore.explain.service import (
    LABELS,
    Cost,
    Request,
    Result,
    applicable_methods,
    cost,
    explain_record,
    sample_counts,
    true_label,
)
from dlcore.explain.views import feature_order, global_request, global_rows
from dlcore.store import ModelRecord
from ui.cache import dataset
from ui.cache import model as load_model
from ui.widgets import NOTHING, loading, with_progress

MAX_KEPT = 48  # explanations kept per server (each is a few arrays of the input's size)
AUTO_RUN_ROWS = 3_000_000  # explanations cheaper than this many model evaluations run without a click
COUNT_KEYS = {"background_size": "explain_background", "max_evals": "explain_max_evals",
              "nsamples": "explain_nsamples", "num_samples": "explain_lime_samples"}  # widget key per sample count


@st.cache_resource(show_spinner=False)
def _kept() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


WARM_UP_ENV = "DLCORE_WARM_UP"  # "0" turns the background warm-up off (to measure what it saves)
QUIET_S = 5.0  # seconds without a script run before the warm-up starts compiling
IMPORT_QUIET_S = 0.5  # ... and before its imports: after the first page has been drawn, not while it is


class ScriptRuns:
    """The script runs in progress on this server, and when the last one ended.

    The warm-up's numba compiling holds the interpreter for seconds to tens of seconds; run while a page is being
    drawn, it slows that page by as much (measured: a fresh server's Explain page opened at once drew its first
    SHAP 6 s later with the warm-up than without). It waits for a quiet moment instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._ended = time.monotonic()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Count a script run while the block runs (a page stopping or rerunning early ends it too)."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._ended = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last script run ended; 0 while one runs."""
        with self._lock:
            return 0.0 if self._running else time.monotonic() - self._ended

    def wait_quiet(self, seconds: float, poll: float = 0.2) -> None:
        """Return once no script has run for ``seconds``."""
        while (quiet := self.quiet_for()) < seconds:
            time.sleep(max(poll, seconds - quiet) if quiet else poll)


@st.cache_resource(show_spinner=False)
def script_runs() -> ScriptRuns:
    """This server's ``ScriptRuns`` (``app.py`` runs every page inside ``script_runs().running()``)."""
    return ScriptRuns()


def warm_up_server(compile: bool = True, runs: ScriptRuns | None = None, quiet_s: float = QUIET_S,
                   import_quiet_s: float = IMPORT_QUIET_S) -> None:
    """What the Explain page would otherwise wait for on a fresh server, none of it TensorFlow: shap's and lime's
    imports, the data set of the model the page opens with (the newest that predicts; its loaders' imports), then
    (``compile``) shap's numba helpers for large tables and texts (``dlcore.explain.warm_up``).

    Given ``runs``, the imports start once no page has been drawn for ``import_quiet_s`` seconds and the compiling
    after ``quiet_s``: the first page is drawn first (when it is the Explain page, it imports what it needs itself;
    measured, the warm-up's imports beside it made its first SHAP about 1 s later)."""
    from dlcore.errors import DlcoreError
    from dlcore.explain import warm_up
    from ui.cache import dataset, store

    if runs is not None:
        runs.wait_quiet(import_quiet_s)
    warm_up(compile=False)
    records = [r for r in store().list() if not r.generative]
    if records and records[0].meta.has_training_data:
        try:
            dataset(*records[0].meta.data_key())  # into the page's own cache: it is not read a second time
        except (DlcoreError, OSError, ValueError):
            pass  # the page says what is wrong with it
    if compile:
        if runs is not None:
            runs.wait_quiet(quiet_s)
        warm_up(compile=True)


@st.cache_resource(show_spinner=False)
def warm_up_shap() -> threading.Thread | None:
    """``warm_up_server`` in a background thread, once per server; None when ``DLCORE_WARM_UP=0``."""
    import os

    if os.environ.get(WARM_UP_ENV, "1").strip() == "0":
        return None
    thread = threading.Thread(target=warm_up_server, args=(True, script_runs()), name="explain-warm-up", daemon=True)
    thread.start()
    return thread


def predicting_model(key: str, empty: str) -> ModelRecord:
    """The stored model that predicts (not a VAE or GAN) the user picks, newest first; ``empty`` is said, and the
    page stopped, when there is none."""
    from ui.cache import store

    records = [r for r in store().list() if not r.generative]
    if not records:
        st.info(empty)
        st.stop()
    by_id = {r.model_id: r for r in records}
    model_id = st.selectbox("Model", list(by_id), key=key, format_func=lambda i: f"{i} · {by_id[i].meta.name}")
    return by_id[model_id]


def model_and_data(record: ModelRecord) -> tuple[Any, Any]:
    """The stored model and the data set it was trained on (both cached, the data set by
    ``ModelMeta.data_key``); a model imported without one is explained with a data set the user picks,
    checked to fit it."""
    meta, data = record.meta, None
    if not meta.has_training_data:
        from ui.widgets import dataset_picker

        data = dataset_picker("explain_data", "Data set to explain it with (the model was imported "
                                              "without its training data)")
    with loading("Loading the model and its data..."):
        ds = dataset(*meta.data_key(data))
        meta.check_fits(ds)
        return load_model(record.model_id), ds


def pick_input(record: ModelRecord, ds: Any) -> tuple[np.ndarray, str, int | None]:
    """The input to explain as ``(1, *input_shape)``, a label, and its validation index (None for the user's)."""
    image = ds.modality == "image"
    own = "Upload an image" if image else "Type a text" if ds.modality == "text" else "Type a row"
    sources = ["Validation row", own]
    source = st.radio("Input", sources, horizontal=True, key="explain_source")
    if source == "Validation row":
        index = int(st.number_input(f"Row of the validation split (0 to {ds.n_val - 1})", 0, ds.n_val - 1, 0,
                                    key="explain_index"))
        truth = true_label(ds, index)
        shown = truth if isinstance(truth, str) else f"{truth:.4g}"
        return ds.x_val[index:index + 1], f"validation row {index} (true: {shown})", index
    if source == "Type a text":
        text = st.text_area("Text", str(ds.x_val[0]), key="explain_text")
        return text_input(record.meta, text), "typed text", None
    if image:
        upload = st.file_uploader("Image (PNG or JPEG, under 5 MB)", type=["png", "jpg", "jpeg", "bmp"],
                                  key="explain_upload")
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
    if x.dtype == object:
        data = json.dumps([str(t) for t in x.ravel()]).encode()
    else:
        data = np.ascontiguousarray(x).tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


def explanation(key: tuple, plan: Cost, compute: Callable[[Callable[[float, str], None]], Any],
                button_key: str) -> Any | None:
    """``compute(progress)`` run once for ``key`` and kept; shows the cost (``plan``) first, a progress bar
    while it runs, and waits for a click when it would take more than ``AUTO_RUN_ROWS`` model evaluations."""
    st.caption(plan.describe())  # what is (or was) run, every time: it says what the figures below are made of
    kept, lock = _kept()
    with lock:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    if plan.model_rows > AUTO_RUN_ROWS and not st.button("Run", key=button_key, type="primary"):
        return None
    result = with_progress(compute)
    if result is NOTHING:
        return None
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
        st.download_button("Numbers (CSV)", data=lambda: attr.to_frame(cls).to_csv(index=False),
                           file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore")
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


def sample_options(ds: Any) -> dict[str, dict[str, int]]:
    """The sample counts ``dlcore.explain.service.sample_counts`` offers for ``ds``, as number inputs starting
    at shap's and lime's defaults; ``{"shap": {option: value}, "lime": {option: value}}``."""
    counts = sample_counts(ds.modality, len(ds.feature_names))
    chosen: dict[str, dict[str, int]] = {"shap": {}, "lime": {}}
    has_shap = any(c.method == "shap" for c in counts)
    with st.expander("Sample counts: more for closer estimates, fewer for speed"):
        columns = st.columns(2)
        for c in counts:
            column = columns[1 if has_shap and c.method == "lime" else 0]
            chosen[c.method][c.option] = int(column.number_input(c.label, c.low, c.high, c.default, step=c.step,
                                                                 key=COUNT_KEYS[c.option], help=c.help or None))
    return chosen


def page_request(method: str, seed: int, stable: bool, samples: dict[str, int] | None = None) -> Request:
    """The explanation the page runs: every class of one input, with the sample counts of ``sample_options``
    (and, for ``stable``, two more seeds)."""
    return Request(method, seed=seed, target="all", stability=stable).with_counts(samples or {})


def explain_input(record: ModelRecord, model: Any, ds: Any, x: np.ndarray, method: str, seed: int,
                  stable: bool, samples: dict[str, int] | None = None, index: int | None = None) -> Result | None:
    """One input explained for every class with ``method`` (and, for ``stable``, two more seeds), with the
    sample counts of ``sample_options``; ``index``: the validation row ``x`` is, if it is one."""
    request = page_request(method, seed, stable, samples)
    rows = None if index is None else [index]
    key = (record.model_id, record.meta.created, input_key(x), index, request)
    return explanation(key, cost(record, model, ds, x, request),
                       lambda progress: explain_record(record, model, ds, x, request, rows=rows, progress=progress),
                       f"run_{method}")


def method_picker(container: Any, model: Any, key: str) -> list[str]:
    """The methods to run: a choice among those that apply to ``model`` (SHAP and LIME first), with the
    others named and why they do not apply."""
    found = applicable_methods(model)
    offered = [m for m, why in found.items() if not why]
    # texts: LIME first; SHAP's Partition explainer takes longer on texts, one click away
    default = [m for m in (("lime",) if is_text_model(model) else ("shap", "lime")) if m in offered]
    chosen = container.multiselect("Methods", offered, default=default, format_func=LABELS.get, key=key,
                                   help="Explanations side by side; the trust panel compares every pair")
    missing = [f"{LABELS[m]}: {why}" for m, why in found.items() if why]
    if missing:
        container.caption("Not offered for this model. " + " ".join(f"{line}." for line in missing))
    return list(chosen)


def method_columns(items: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    """Each item with a column to draw it in: two columns a row (one when there is one item)."""
    items = list(items)
    for start in range(0, len(items), 2):
        yield from zip(st.columns(1 if len(items) == 1 else 2), items[start:start + 2])


def readable_view(attr: Any, reruns: Sequence[Any], record: ModelRecord, cls: int,
                  group: bool = True) -> tuple[Any, Any]:
    """The attribution as people read it (``dlcore.explain.readable``: raw values, and for ``group`` the
    one-hot and date-part columns summed back) and the spread of its seed reruns on the same columns."""
    shown = readable(attr, record.meta.preprocessing, group=group)
    again = tuple(readable(r, record.meta.preprocessing, group=group) for r in reruns)
    return shown, seed_spread(shown, again, 0, cls)


def method_view(attr: Any, cls: int, key: str, spread: np.ndarray | None = None, model: Any = None) -> None:
    """The figures of one explanation of one input, for class ``cls``; ``spread`` (the standard deviation
    of each value across seed reruns, shaped like the row's values) draws error bars and, for images, a
    spread map; ``model``: the model, for the attention heads of an attention explanation."""
    name = f"{attr.method}_{attr.algorithm}_class{cls}"
    if attr.method == "attention":
        _attention_view(attr, cls, key, name, model)
    elif attr.texts:
        figure(plots.text_highlight(attr, 0, cls), attr, cls, f"{name}_text", f"{key}_text")
        figure(plots.lime_weights(attr, 0, cls, spread=spread), attr, cls, f"{name}_weights", f"{key}_weights")
    elif attr.is_image and attr.method == "lime":
        figure(plots.lime_superpixels(attr, 0, cls), attr, cls, name, f"{key}_superpixels")
        figure(plots.lime_weights(attr, 0, cls, spread=spread), attr, cls, f"{name}_weights", f"{key}_weights")
    elif attr.is_image:
        figure(plots.image_attribution(attr, 0, cls), attr, cls, name, f"{key}_map")
    elif len(attr.input_shape) == 2:  # a sequence (steps, features): time x feature, and the shaded series
        figure(plots.sequence_heatmap(attr, 0, cls), attr, cls, f"{name}_heatmap", f"{key}_heatmap")
        figure(plots.sequence_series(attr, 0, cls), attr, cls, f"{name}_series", f"{key}_series")
    elif attr.method in GAP_METHODS:  # values that add up to the output: a waterfall from the base value
        figure(plots.waterfall(attr, 0, cls, spread=spread), attr, cls, name, f"{key}_waterfall")
    else:
        figure(plots.lime_weights(attr, 0, cls, spread=spread), attr, cls, name, f"{key}_weights")
    if attr.is_image and spread is not None:
        st.plotly_chart(plots.spread_map(spread, "Spread across seeds (standard deviation per pixel)"),
                        key=f"{key}_spread")
    notes = "".join(f" {n}." for n in attr.notes)
    units = "" if attr.is_image or attr.texts else (
        " Feature values are as uploaded." if attr.display else
        " Feature values are model inputs (after the model's preprocessing).")
    st.caption(f"{attr.algorithm}, {attr.seconds:.2f} s, {attr.model_rows:,} model evaluations, "
               f"seed {attr.seed}.{notes}{units}")


def _attention_view(attr: Any, cls: int, key: str, name: str, model: Any) -> None:
    """Attention rollout over the input, and each head's map of the first attention layer."""
    from dlcore.explain.attention import attention_maps
    from dlcore.plots.attention import attention_heads, rollout_map

    figure(rollout_map(attr, 0), attr, cls, name, f"{key}_rollout")
    if model is not None:
        maps = attention_maps(model, np.array(attr.texts, dtype=object) if attr.texts else attr.inputs[:1])
        st.plotly_chart(attention_heads(maps, layer=None, row=0), key=f"{key}_heads")


def group_choice(ds: Any) -> bool:
    """Whether to sum the columns derived from one uploaded column back into it (tables only; on by default)."""
    if ds.modality != "tabular":
        return True
    return bool(st.checkbox("One feature per uploaded column", value=True, key="explain_group",
                            help="Sum the one-hot columns of a category (sex=female, sex=male) and the parts of "
                                 "a date back into the column they came from"))


def global_views(record: ModelRecord, model: Any, ds: Any, cls: int, seed: int, group: bool = True) -> None:
    """SHAP over a seeded sample of validation rows: importance, beeswarm and dependence."""
    n = int(st.slider("Rows to explain", 5, min(200, ds.n_val), min(50, ds.n_val), key="explain_global_rows"))
    rows, request = global_rows(ds.n_val, n, seed), global_request(seed)
    x = ds.x_val[rows]
    key = (record.model_id, record.meta.created, "global", n, seed)
    got = explanation(key, cost(record, model, ds, x, request),
                      lambda progress: explain_record(record, model, ds, x, request, rows=rows, progress=progress),
                      "run_global")
    if got is None:
        return
    attr = readable(got.attribution, record.meta.preprocessing, group=group)
    by_column = attr if group else readable(got.attribution, record.meta.preprocessing, group=True)
    shortcut_notes(ds, dict(zip(by_column.feature_names, np.abs(by_column.flat(cls)).mean(axis=0))))
    left, right = st.columns(2)
    with left:
        figure(plots.importance_bar(attr, cls), attr, cls, f"importance_class{cls}", "global_importance")
    with right:
        figure(plots.beeswarm(attr, cls, seed=seed), attr, cls, f"beeswarm_class{cls}", "global_beeswarm")
    c1, c2 = st.columns(2)
    feature = c1.selectbox("Dependence of", feature_order(attr, cls), key="explain_dep_feature")
    colour = c2.selectbox("Coloured by", ["(strongest interaction)", *attr.feature_names], key="explain_dep_colour")
    fig = plots.dependence(attr, feature, None if colour.startswith("(") else colour, cls)
    figure(fig, attr, cls, f"dependence_{feature}", "global_dependence")


def shortcut_notes(ds: Any, importance: dict[str, float]) -> None:
    """A warning when the columns the model leans on most are an ID, the row order or a date part, or when a
    column copies the target (``dlcore.fairness.shortcuts``; the Fairness page has the whole check)."""
    from dlcore.fairness.shortcuts import find_shortcuts

    for found in find_shortcuts(ds, None, importance):
        st.warning(f"{found.message} (Fairness page: shortcuts and leaks)", icon=":material/report:")
