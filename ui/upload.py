"""The Data page's upload widgets: read a file once, ask for choices, show what was understood, keep it."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import streamlit as st

from dlcore import plots
from dlcore.data import forecast
from dlcore.data.columns import action, categories, infer_column
from dlcore.data.limits import Limits
from dlcore.data.readers import RawUpload, read_bytes
from dlcore.data.stored import DatasetStore
from dlcore.data.upload import Choices, Preview, array_modality, understand
from dlcore.errors import DlcoreError
from dlcore.preview import example_images, histogram_rows
from ui.cache import workspace
from ui.fairness import data_group_views, sensitive_choice


def caps_caption() -> str:
    lim = Limits.from_env()
    return (f"Up to {lim.max_bytes // 2**20} MB, {lim.max_rows:,} rows, {lim.max_columns:,} columns, "
            f"{lim.max_images:,} images of at most {lim.max_pixels:,} pixels each "
            "(DLCORE_MAX_* variables change this).")


@st.cache_resource(show_spinner="Reading the file...", max_entries=4)
def _read(digest: str, filename: str, _data: bytes) -> RawUpload:
    return read_bytes(_data, filename)


def read_upload(data: bytes, filename: str) -> RawUpload | None:
    """The upload read once per content; None (with the error shown) when it cannot be used."""
    try:
        return _read(hashlib.sha256(data).hexdigest(), filename, data)
    except DlcoreError as exc:
        st.error(str(exc))
        return None


def choose(raw: RawUpload, key: str) -> Choices:
    """Target, task and columns to leave out (tables), or the task (arrays)."""
    if raw.kind == "images":
        return Choices()
    c1, c2 = st.columns(2)
    target = None
    if raw.frame is not None:
        columns = list(raw.frame.columns)
        default = understand_or_none(raw, Choices(), key)
        start = columns.index(default.target) if default else len(columns) - 1
        target = c1.selectbox("Target column", columns, index=start, key=f"target_{key}")
    task = c2.radio("Task", ["inferred", "classification", "regression"], horizontal=True, key=f"task_{key}")
    choices = Choices(target=target, task=None if task == "inferred" else task)
    if raw.frame is None:
        if raw.x is not None and raw.x.ndim == 3:  # (n, a, b): grey images or sequences, the user says which
            _, a, b = raw.x.shape
            options = {"image": f"grey images, {a} x {b} pixels", "sequence": f"sequences, {a} steps of {b} features"}
            inferred = array_modality(raw.x)  # what is read without a choice
            read_as = st.radio("Read x as", list(options), index=list(options).index(inferred),
                               format_func=options.get, horizontal=True, key=f"read_as_{key}",
                               help="images train CNNs; sequences train the rnn and transformer models step by step")
            choices = Choices(target=None, task=choices.task, read_as=read_as)
        return choices
    first = understand_or_none(raw, choices, key)
    flagged = [c.name for c in first.columns if not c.use] if first else []
    others = [c for c in raw.frame.columns if c != target]
    exclude = st.multiselect("Columns left out", others, default=flagged, key=f"exclude_{key}_{target}",
                             help="Flagged by default: IDs, free text, empty or constant columns, copies of the target")
    same = sorted(exclude) == sorted(flagged)  # untouched: keep the defaults (and their reasons)
    spec = forecast_choice(raw, key)
    if spec is not None:
        return Choices(target=spec.target, forecast=spec)
    sensitive, inputs = sensitive_choice(list(raw.frame.columns), target, key)
    return Choices(target=target, task=choices.task, exclude=None if same else tuple(exclude),
                   ordinal=_orders(raw, first, key), sensitive=sensitive, sensitive_inputs=inputs)


def forecast_choice(raw: RawUpload, key: str) -> forecast.ForecastSpec | None:
    """For a table with a date column: read it as a series to forecast (time, value columns, window, horizon)."""
    frame = raw.frame
    dates = [n for n in frame.columns if infer_column(n, frame[n]).kind == "date"] if frame is not None else []
    if not dates:
        return None
    with st.expander("Forecast a series"):
        on = st.toggle("Read the table as a series to forecast", key=f"fc_on_{key}",
                       help="windows of the value columns, split by time, for the rnn and transformer models")
        time = st.selectbox("Time column", dates, key=f"fc_time_{key}")
        numeric = list(forecast.numeric_columns(frame, time))
        values = st.multiselect("Value columns (the model's inputs)", numeric, default=numeric, key=f"fc_values_{key}")
        target = st.selectbox("Forecast column", values or numeric, index=max(0, len(values or numeric) - 1),
                              key=f"fc_target_{key}")
        c1, c2, c3 = st.columns(3)
        window = c1.number_input("Window (steps)", 1, 100_000, 24, key=f"fc_window_{key}")
        horizon = c2.number_input("Horizon (steps ahead)", 1, 100_000, 1, key=f"fc_horizon_{key}")
        season = c3.number_input("Season (steps, 0: inferred)", 0, 100_000, 0, key=f"fc_season_{key}")
    if not on:
        return None
    return forecast.ForecastSpec(time=time, window=int(window), horizon=int(horizon), target=target,
                                 values=tuple(values), season=int(season))


def show_forecast(preview: forecast.ForecastPreview, key: str) -> None:
    """Rows, windows and their split, gaps and disorder, the season, and the series itself."""
    s = preview.spec
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Times", f"{preview.n_rows:,}")
    c2.metric("Windows", f"{preview.n_windows:,}")
    c3.metric("Training / validation", f"{preview.n_train:,} / {preview.n_val:,}")
    c4.metric("Every", forecast.duration(preview.gaps.interval))
    st.caption(f"Windows of {s.window} steps of {', '.join(s.values)}; the target is {s.target!r} {s.horizon} "
               f"step(s) after each window. Split by time: the last {preview.n_val} windows validate, after a gap "
               f"of {s.horizon}. Seasonal baseline: {preview.season} steps ({preview.season_reason}).")
    for line in (*preview.raw.skipped, *preview.warnings):
        st.warning(line)
    st.line_chart(pd.DataFrame(preview.values, index=preview.times, columns=list(s.values)))


def _orders(raw: RawUpload, first: Preview | None, key: str) -> dict[str, tuple[str, ...]]:
    """Categorical columns the user says are ordered, with their order (() turns a recognised order off)."""
    cats = [c for c in first.columns if c.use in ("categorical", "ordinal")] if first else []
    if not cats:
        return {}
    with st.expander("Ordered categories: one scaled number instead of one-hot"):
        chosen = st.multiselect("Columns whose categories have an order", [c.name for c in cats],
                                default=[c.name for c in cats if c.use == "ordinal"], key=f"ordered_{key}")
        orders: dict[str, tuple[str, ...]] = {c.name: () for c in cats if c.use == "ordinal" and c.name not in chosen}
        for info in (c for c in cats if c.name in chosen):
            default = ", ".join(info.order or categories(raw.frame[info.name]))
            text = st.text_input(f"Order of {info.name}, lowest first", default, key=f"order_{key}_{info.name}",
                                 help="every category once, separated by commas")
            orders[info.name] = tuple(v.strip() for v in text.split(",") if v.strip())
    return orders


@st.cache_resource(show_spinner=False, max_entries=32)
def _understand(key: str, choices: str, _raw: RawUpload) -> Preview | forecast.ForecastPreview:
    return understand(_raw, Choices.from_dict(json.loads(choices)))


def understand_or_none(raw: RawUpload, choices: Choices, key: str) -> Preview | forecast.ForecastPreview | None:
    try:
        return _understand(key, json.dumps(choices.to_dict(), sort_keys=True), raw)
    except DlcoreError:
        return None


def understood(raw: RawUpload, choices: Choices, key: str) -> Preview | forecast.ForecastPreview | None:
    """What was understood with these choices (once per upload and choices); None, with the reason shown,
    when it cannot be used."""
    try:
        return _understand(key, json.dumps(choices.to_dict(), sort_keys=True), raw)
    except DlcoreError as exc:
        st.error(str(exc))
        return None


def show(preview: Preview | forecast.ForecastPreview, key: str) -> None:
    """Rows, columns and their use, warnings, class balance, sample images or texts, statistics (or, for a
    series to forecast, its windows: ``show_forecast``)."""
    if isinstance(preview, forecast.ForecastPreview):
        show_forecast(preview, key)
        return
    raw = preview.raw
    c1, c2, c3, c4 = st.columns(4)
    left_out = f"{preview.n_rows - raw.n_rows:,} left out" if preview.n_rows < raw.n_rows else None
    c1.metric("Rows used", f"{preview.n_rows:,}", delta=left_out)
    c2.metric("Features", len(preview.features) if raw.frame is not None else " x ".join(map(str, raw.x.shape[1:])))
    c3.metric("Task", preview.task)
    c4.metric("Data", preview.modality)
    st.caption("Read as: " + "; ".join(raw.notes))
    for line in (*raw.skipped, *preview.warnings):
        st.warning(line)
    if preview.columns:
        rows = [{"column": c.name, "type": c.kind, "missing": c.missing, "used": bool(c.use),
                 "what will be done": action(c)} for c in preview.columns]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"columns_{key}",
                     column_config={"what will be done": st.column_config.TextColumn(width="large")})
    if preview.task == "classification":
        st.plotly_chart(plots.class_balance(preview.y, preview.class_names), key=f"balance_{key}")
    if preview.sensitive and raw.frame is not None:
        st.subheader("Sensitive columns")
        data_group_views(raw.frame, preview.keep, preview.y, preview.sensitive, preview.class_names, key)
    if preview.modality == "image" and raw.x is not None:
        x, labels = example_images(preview)
        st.plotly_chart(plots.sample_images(x, labels, preview.class_names), key=f"images_{key}")
    elif preview.modality == "text" and raw.frame is not None:
        st.caption("Texts stay strings: the Train page's text model learns its vocabulary from the training texts.")
        st.dataframe(raw.frame.loc[preview.examples(), [preview.features[0], preview.target]], hide_index=True,
                     key=f"texts_{key}")
    numbers = preview.numbers()
    if not numbers.empty:
        st.dataframe(preview.statistics(), key=f"stats_{key}")
        sample = histogram_rows(numbers)
        if len(sample) < len(numbers):
            st.caption(f"Histograms of {len(sample):,} rows drawn at random (seed 0) from {len(numbers):,}.")
        st.plotly_chart(plots.feature_histograms(sample.to_numpy(), list(sample.columns)), key=f"hist_{key}")


def keep_form(data: bytes, filename: str, choices: Choices) -> None:
    """Name the upload and keep it in the workspace."""
    with st.form("keep_upload"):
        default = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem)[:64] or "upload"
        name = st.text_input("Name", default, help="letters, digits, '_', '-' or '.'")
        if st.form_submit_button("Keep this data set", type="primary"):
            try:
                DatasetStore(workspace()).save(name.strip(), data, filename, choices)
                st.success(f"Kept as `{name.strip()}`: choose it on the Train page.")
            except DlcoreError as exc:
                st.error(str(exc))


def kept_list() -> None:
    """The kept uploads, with a way to delete each."""
    store = DatasetStore(workspace())
    kept = store.list()
    if not kept:
        st.info("No kept uploads yet: upload a file above and keep it.")
        return
    st.dataframe(pd.DataFrame([{"name": d.name, "file": d.filename, "rows": d.summary.rows,
                                "target": d.summary.target, "task": d.summary.task, "kind": d.summary.kind,
                                "kept": d.created} for d in kept]), hide_index=True, key="kept_table")
    name = st.selectbox("Kept data set", [d.name for d in kept], key="kept_choice")
    with st.popover("Delete"):
        st.write(f"Delete the kept data set `{name}`? Models trained on it stay.")
        if st.button("Yes, delete", type="primary", key=f"delete_{name}"):
            store.delete(name)
            st.rerun()
