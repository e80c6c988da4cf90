"""Entry point: ``streamlit run app.py``. Navigation over pages/ and the shared sidebar."""
from __future__ import annotations

import streamlit as st

from dlcore import __version__
from ui.cache import device_info, workspace

st.set_page_config(page_title="Interpretable deep learning", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"Training device: **{device_info().label}**")
    st.caption(f"Workspace: `{workspace()}`")
    st.caption(f"dlcore {__version__}")
page.run()
