"""Data: upload your own file and see what was understood, keep it, or look at a built-in data set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dlcore import plots
from ui.cache import dataset
from ui.fairness import data_group_views
from ui.upload import caps_caption, choose, keep_form, kept_list, read_upload, show, understood
from ui.widgets import dataset_picker

st.title("Data")
upload_tab, kept_tab, builtin_tab = st.tabs(["Upload", "Kept uploads", "Browse data sets"])

with upload_tab:
    file = st.file_uploader("A CSV table or CSV of texts, a ZIP of images in one folder per class, "
                            "or an NPZ with arrays x and y", type=["csv", "tsv", "txt", "zip", "npz"], key="upload")
    st.caption(caps_caption())
    if file is not None:
        data = file.getvalue()
        raw = read_upload(data, file.name)
        if raw is not None:
            choices = choose(raw, key=file.file_id)
            preview = understood(raw, choices, key=file.file_id)
            if preview is not None:
                show(preview, key=file.file_id)
                keep_form(data, file.name, choices)

with kept_tab:
    kept_list()

with builtin_tab:
    ref = dataset_picker("data_ref")
    ds = dataset(ref)
    st.caption(ds.description)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Training rows", ds.n_train)
    c2.metric("Validation rows", ds.n_val)
    c3.metric("Task", ds.task)
    c4.metric("Input shape", " x ".join(map(str, ds.input_shape)) or "text")
    if ds.task == "classification":
        st.plotly_chart(plots.class_balance(ds.labels(), ds.class_names), key="balance")
    if ds.sensitive:
        st.subheader("Sensitive columns")
        st.caption(f"Kept for the fairness audit, not given to the model: {', '.join(ds.sensitive)}.")
        group_frame = pd.DataFrame({c: np.concatenate([ds.sensitive_train[c], ds.sensitive_val[c]])
                                    for c in ds.sensitive})
        data_group_views(group_frame, np.ones(len(group_frame), bool), ds.labels(), ds.sensitive, ds.class_names,
                         "builtin")
    if ds.modality == "image":
        st.plotly_chart(plots.sample_images(ds.x_train, ds.y_train, ds.class_names), key="samples")
    elif ds.modality == "text":
        st.dataframe(pd.DataFrame({"text": ds.x_train[:20], "label": [ds.class_names[k] for k in ds.y_train[:20]]}),
                     hide_index=True, key="texts")
    elif ds.modality == "sequence":
        st.plotly_chart(plots.sample_series(ds.x_train, ds.y_train, ds.class_names), key="series")
    elif ds.modality == "tabular":
        st.caption("Values after preprocessing (fitted on the training split).")
        st.dataframe(pd.DataFrame(ds.x_train[:50], columns=list(ds.feature_names)), hide_index=True)
        st.plotly_chart(plots.feature_histograms(ds.x_train, ds.feature_names), key="hists")
