"""Data: what a data set holds, at a glance."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dlcore import plots
from ui.cache import dataset
from ui.widgets import dataset_picker

st.title("Data")
ref = dataset_picker("data_ref")
ds = dataset(ref)
st.caption(ds.description)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Training rows", ds.n_train)
c2.metric("Validation rows", ds.n_val)
c3.metric("Task", ds.task)
c4.metric("Input shape", " x ".join(map(str, ds.input_shape)))

if ds.task == "classification":
    st.plotly_chart(plots.class_balance(np.concatenate([ds.y_train, ds.y_val]), ds.class_names), key="balance")
if ds.modality == "image":
    st.plotly_chart(plots.sample_images(ds.x_train, ds.y_train, ds.class_names), key="samples")
elif ds.modality == "tabular":
    st.caption("Values after preprocessing (median imputation, standard scaling fitted on the training split).")
    import pandas as pd

    st.dataframe(pd.DataFrame(ds.x_train[:50], columns=list(ds.feature_names)), hide_index=True)
    st.plotly_chart(plots.feature_histograms(ds.x_train, ds.feature_names), key="hists")
