"""The upload widget for model files: everything goes through the safe importer, refusals are explained."""
from __future__ import annotations

import streamlit as st

from dlcore.errors import DlcoreError
from dlcore.safe_import import MAX_FILE_BYTES
from ui.cache import workspace


def import_widget(key: str) -> str | None:
    """An uploader that imports a ``.keras`` file into the store; returns the new model's id once imported.

    Any file type may be chosen, so that a refused one (``.h5``, a pickle...) gets the reason and how to
    convert it rather than a silent filter. Each upload is imported once, not on every rerun.
    """
    classes = st.text_input("Class names, one per output (optional, comma-separated)", key=f"{key}_classes")
    upload = st.file_uploader("Model file (.keras)", key=key, help=(
        "Keras 3 .keras files only. The file is checked before it is loaded: no Lambda layers, no code from "
        "modules outside Keras, no layers that read files, no zip tricks. It is then first loaded in a separate "
        "process with a memory and time limit. Text models take one string per row."))
    if upload is None:
        return None
    token = f"{upload.name}:{upload.size}:{getattr(upload, 'file_id', '')}"
    done = st.session_state.setdefault(f"{key}_done", {})
    if token not in done:
        if upload.size > MAX_FILE_BYTES:
            done[token] = (None, f"refused {upload.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        else:
            from dlcore.importer import import_bytes

            names = [c.strip() for c in classes.split(",") if c.strip()] or None
            try:
                with st.spinner("Checking and importing..."):
                    record = import_bytes(upload.getvalue(), upload.name, workspace(), class_names=names)
                meta = record.meta
                what = f"{meta.arch}, draw from it on the Generate page" if record.generative else meta.task
                done[token] = (record.model_id, f"imported {meta.name!r} as model `{record.model_id}` "
                               f"({what}; {meta.input_label()})")
            except DlcoreError as exc:
                done[token] = (None, str(exc))
    model_id, message = done[token]
    (st.success if model_id else st.error)(message)
    return model_id
