"""Entry point: ``streamlit run app.py``. Navigation over app_pages/ and the shared sidebar."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dlcore import __version__
from ui.cache import device_info, workspace
from ui.explain import script_runs, warm_up_shap

LOGO = str(Path(__file__).parent / "assets" / "logo.png")
st.set_page_config(page_title="Interpretable deep learning", page_icon=LOGO, layout="wide")
warm_up_shap()  # once per server, from the first page on: the first SHAP of a table then needs no compiling

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/table_chart:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("app_pages/finetune.py", title="Fine-tune", icon=":material/tune:"),
    st.Page("app_pages/explain.py", title="Explain", icon=":material/psychology:"),
    st.Page("app_pages/fairness.py", title="Fairness", icon=":material/balance:"),
    st.Page("app_pages/models.py", title="Models", icon=":material/inventory_2:"),
]

st.logo(LOGO)
page = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"Training device: **{device_info().label}**")
    st.caption(f"Workspace: `{workspace()}`")
    st.caption(f"dlcore {__version__}")
with script_runs().running():  # the warm-up compiles only while no page is being drawn
    page.run()
