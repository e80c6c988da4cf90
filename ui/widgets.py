"""Widgets that turn choices into dlcore configs."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

from dlcore.data import Dataset, list_builtin
from dlcore.data.stored import DatasetStore
from dlcore.errors import DlcoreError
from dlcore.models import (
    ACTIVATIONS,
    CELLS,
    OPTIMIZERS,
    ModelSpec,
    TrainConfig,
    architecture_help,
    architectures_for,
    default_architecture,
)
from ui.cache import workspace

NOTHING = object()  # ``with_progress``'s answer when the work failed (its error is shown)
CHARTS_STARTED = "charts_started"  # session state: this browser tab has drawn a Plotly chart


@contextlib.contextmanager
def loading(message: str) -> Iterator[None]:
    """A spinner saying ``message`` around the slow work before a page's first chart (loading a model: TensorFlow's
    import on a fresh server). The first time in a browser tab, an empty chart is drawn meanwhile and removed
    after: the browser fetches and starts Plotly's chart code (4.7 MB of JavaScript) while the server works. Without
    it that came after the work: measured on a fresh server, the first SHAP waterfall appeared 3.3 s after the
    server had sent it, and 0.1-0.3 s with it."""
    slot = st.empty()
    if not st.session_state.get(CHARTS_STARTED):
        from dlcore import plots

        slot.plotly_chart(plots.placeholder(), config={"staticPlot": True, "displayModeBar": False},
                          key="loading_charts")
    try:
        with st.spinner(message):
            yield
    finally:
        slot.empty()
        st.session_state[CHARTS_STARTED] = True


def with_progress(compute: Callable[[Callable[[float, str], None]], Any]) -> Any:
    """``compute(progress)`` with a progress bar that goes away at the end; ``NOTHING`` (the error shown) when
    it raises a ``DlcoreError``."""
    bar = st.progress(0.0, text="starting...")
    try:
        return compute(lambda fraction, text: bar.progress(min(1.0, max(0.0, fraction)), text=text))
    except DlcoreError as exc:
        st.error(str(exc))
        return NOTHING
    finally:
        bar.empty()


def data_choices(modality: str | None = None) -> list[str]:
    """Every data set the user can pick (of ``modality`` only, if given): the built-in ones, then the uploads
    kept in the workspace."""
    kept = [(d.name, d.summary.modality) for d in DatasetStore(workspace()).list()]
    every = [(info.name, info.modality) for info in list_builtin()] + kept
    return [name for name, kind in every if modality is None or kind == modality]


def dataset_picker(key: str, label: str = "Data set", modality: str | None = None, default: str | None = None) -> str:
    """A select box of data sets (of ``modality`` only, if given); remembers the last choice across pages and
    starts at ``default`` (else the first) before there is one."""
    choices = data_choices(modality)
    remembered = st.session_state.get("last_dataset", default if default in choices else choices[0])
    index = choices.index(remembered) if remembered in choices else 0
    ref = st.selectbox(label, choices, index=index, key=key)
    st.session_state["last_dataset"] = ref
    return ref


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise DlcoreError(f"{what}: write whole numbers separated by commas, e.g. 64,32") from None
    if not values or min(values) < 1:
        raise DlcoreError(f"{what}: give at least one positive size, e.g. 64,32")
    return values


def architecture_picker(dataset: Dataset) -> str:
    """The architectures that fit the data set's modality, its usual one first chosen (outside the form, so the
    form shows the settings of the architecture chosen)."""
    archs = architectures_for(dataset.modality)
    default = default_architecture(dataset.modality)
    return st.selectbox("Architecture", archs, index=archs.index(default) if default in archs else 0,
                        key=f"train_arch_{dataset.modality}", help=architecture_help())


def _layer_knobs(col: Any, arch: str, dataset: Dataset) -> dict[str, Any]:
    """The layer widgets that apply to ``arch`` in the order data flows, as ModelSpec keywords (layer sizes still
    as typed)."""
    knobs: dict[str, Any] = {}
    if arch == "cnn":
        knobs["filters"] = col.text_input("Conv filters per block", "16,32")
    elif arch == "rnn":
        knobs["seq_units"] = col.text_input("Recurrent layer sizes", "64", help="units of each LSTM or GRU layer")
        knobs["cell"] = col.selectbox("Recurrent cell", CELLS)
        knobs["bidirectional"] = col.checkbox("Bidirectional", help="read each sequence both ways")
    elif arch == "transformer":
        knobs["seq_units"] = col.text_input("Encoder block widths", "64", help="one attention block per width")
        knobs["heads"] = int(col.number_input("Attention heads", 1, 16, 4))
        if dataset.modality == "image":
            knobs["patch"] = int(col.number_input("Patch side (0: each row is a token)", 0, 64, 0))
    knobs["units"] = col.text_input("Dense layer sizes", "64,32", help="comma-separated, e.g. 128,64")
    return knobs


def _spec(arch: str, knobs: dict[str, Any], **common: Any) -> ModelSpec:
    names = {"units": "Dense layer sizes", "filters": "Conv filters",
             "seq_units": "Recurrent layer sizes" if arch == "rnn" else "Encoder block widths"}
    sizes = {k: _ints(v, names[k]) for k, v in knobs.items() if k in names}
    return ModelSpec(arch=arch, **{**knobs, **sizes}, **common)


def submit_once(label: str, key: str, **kwargs: Any) -> bool:
    """A form's submit button that is True once per press. When a rerun cuts a run short (a live job view
    refreshing the page as its job ends), Streamlit replays the pressed button into the next run, so a plain
    ``form_submit_button`` could start the same job twice; its callback runs once per press and counts it."""
    presses, handled = f"{key}_presses", f"{key}_handled"
    st.session_state.setdefault(presses, 0)
    st.session_state.setdefault(handled, 0)

    def count() -> None:
        st.session_state[presses] += 1

    pressed = st.form_submit_button(label, on_click=count, **kwargs)
    if not pressed or st.session_state[presses] <= st.session_state[handled]:
        return False  # not pressed, or this press was already acted on in the run it cut short
    st.session_state[handled] = st.session_state[presses]
    return True


def train_form(ref: str, dataset: Dataset, gpu: bool) -> TrainConfig | None:
    """The training settings; returns a config when Train is pressed and the settings are valid."""
    arch = architecture_picker(dataset)
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        knobs = _layer_knobs(c1, arch, dataset)
        activation = c2.selectbox("Activation", ACTIVATIONS)
        dropout = c2.slider("Dropout", 0.0, 0.8, 0.0, 0.05)
        batch_norm = c2.checkbox("Batch normalization")
        l1 = c2.number_input("L1 penalty", 0.0, 1.0, 0.0, format="%.5f")
        l2 = c2.number_input("L2 penalty", 0.0, 1.0, 0.0, format="%.5f")
        optimizer = c3.selectbox("Optimizer", OPTIMIZERS, help="sgd uses momentum 0.9")
        lr = c3.number_input("Learning rate", 1e-6, 10.0, 1e-3, format="%.5f")
        epochs = c3.number_input("Epochs", 1, 1000, 10)
        batch_size = c3.number_input("Batch size", 1, 4096, 32)
        with st.expander("More: early stopping, validation split, seed, name, mixed precision"):
            d1, d2 = st.columns(2)
            patience = d1.number_input("Early stopping patience (0: off)", 0, 100, 0)
            split = d1.slider("Validation split", 0.1, 0.5, 0.2, 0.05)
            seed = d2.number_input("Seed", 0, 2**31 - 1, 0)
            name = d2.text_input("Model name", "")
            mixed = d2.checkbox("Mixed precision (GPU only)", disabled=not gpu)
        reweigh = False
        if dataset.sensitive and dataset.task == "classification":
            reweigh = st.checkbox(f"Reweigh by the sensitive columns ({', '.join(dataset.sensitive)})",
                                  help="weights that make group and label independent in the training rows "
                                       "(Kamiran and Calders 2012): a model that learns less of a biased history")
        submitted = submit_once("Train", "train_form", type="primary")
    if not submitted:
        return None
    try:
        spec = _spec(arch, knobs, activation=activation, dropout=float(dropout), batch_norm=batch_norm,
                     l1=float(l1), l2=float(l2))
        return TrainConfig(data=ref, model=spec, optimizer=optimizer, learning_rate=float(lr), epochs=int(epochs),
                           batch_size=int(batch_size), early_stopping=int(patience), validation_split=float(split),
                           seed=int(seed), name=name.strip(), mixed_precision=bool(mixed), reweigh=reweigh)
    except DlcoreError as exc:
        st.error(str(exc))
        return None
