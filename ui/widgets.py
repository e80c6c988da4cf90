"""Widgets that turn choices into dlcore configs."""
from __future__ import annotations

import streamlit as st

from dlcore.data import Dataset, list_builtin
from dlcore.data.stored import DatasetStore
from dlcore.errors import DlcoreError
from dlcore.models import ACTIVATIONS, OPTIMIZERS, ModelSpec, TrainConfig, architectures_for
from ui.cache import workspace


def data_choices(modality: str | None = None) -> list[str]:
    """Every data set the user can pick (of ``modality`` only, if given): the built-in ones, then the uploads
    kept in the workspace."""
    kept = [(d.name, (d.meta.get("summary") or {}).get("modality")) for d in DatasetStore(workspace()).list()]
    every = [(info.name, info.modality) for info in list_builtin()] + kept
    return [name for name, kind in every if modality is None or kind == modality]


def dataset_picker(key: str, label: str = "Data set", modality: str | None = None) -> str:
    """A select box of data sets (of ``modality`` only, if given); remembers the last choice across pages."""
    choices = data_choices(modality)
    remembered = st.session_state.get("last_dataset", choices[0])
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


def train_form(ref: str, dataset: Dataset, gpu: bool) -> TrainConfig | None:
    """The training settings; returns a config when Train is pressed and the settings are valid."""
    archs = architectures_for(dataset.modality)
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        arch = c1.selectbox("Architecture", archs, index=len(archs) - 1 if dataset.modality == "image" else 0,
                            help="cnn: convolution blocks for images; mlp: dense layers")
        units = c1.text_input("Dense layer sizes", "64,32", help="comma-separated, e.g. 128,64")
        filters = c1.text_input("Conv filters per block (cnn)", "16,32")
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
        submitted = st.form_submit_button("Train", type="primary")
    if not submitted:
        return None
    try:
        spec = ModelSpec(arch=arch, units=_ints(units, "Dense layer sizes"), filters=_ints(filters, "Conv filters"),
                         activation=activation, dropout=float(dropout), batch_norm=batch_norm, l1=float(l1), l2=float(l2))
        return TrainConfig(data=ref, model=spec, optimizer=optimizer, learning_rate=float(lr), epochs=int(epochs),
                           batch_size=int(batch_size), early_stopping=int(patience), validation_split=float(split),
                           seed=int(seed), name=name.strip(), mixed_precision=bool(mixed))
    except DlcoreError as exc:
        st.error(str(exc))
        return None
