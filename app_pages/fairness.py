"""Fairness: a model's decisions compared across the groups of sensitive columns (Fairlearn), the proxies that
carry a sensitive column, shortcuts and leaks, and mitigation by group thresholds."""
from __future__ import annotations

import streamlit as st

from dlcore.errors import DlcoreError
from dlcore.fairness.mitigation import CONSTRAINTS
from dlcore.fairness.service import check_shortcuts, postprocess, run_audit
from ui import explain as ux
from ui import fairness as uf
from ui import widgets as uw
from ui.cache import store

st.title("Fairness")
record = ux.predicting_model("fair_model", "No models that decide yet: train a classifier on the Train page (the "
                             "built-in `hiring` table has a known bias to find), then come back.")
model_id = record.model_id
try:
    model, ds = ux.model_and_data(record)
except DlcoreError as exc:
    st.error(str(exc))
    st.stop()
uf.mitigation_record(record)
if ds.modality != "tabular":
    st.info(f"{ds.name!r} holds {ds.modality} data and no group column. To audit this model by group, give it "
            "rows with a group beside them: upload a CSV table that has the features and a column such as `sex` "
            "or `age` on the Data page, mark that column as sensitive, and train on it.")
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1])
explain = c3.checkbox("Explain with SHAP", value=True, key="fair_explain",
                      help="SHAP on up to 200 validation rows: features by group, and proxies and shortcuts ranked "
                           "by the model's own attributions")
seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="fair_seed"))
st.header("Groups")
sensitive, bins, positive, result = list(ds.sensitive), 0, None, None
if not ds.sensitive:
    st.info(f"{ds.name!r} keeps no sensitive column. Mark one when you upload the table on the Data page (or train "
            "with `--sensitive COL`), and this page compares the model's decisions across its groups.")
else:
    sensitive = c1.multiselect("Sensitive columns", list(ds.sensitive), default=list(ds.sensitive), key="fair_cols",
                               help="two or more: their intersections are audited too")
    bins = int(c2.number_input("Bands for numeric columns", 0, 10, 0, key="fair_bins",
                               help="cut a column with many values (age) into bands of equal size; 0: refuse"))
    if ds.task == "classification" and len(ds.class_names) > 2:
        positive = c2.selectbox("Class against the rest", range(len(ds.class_names)), key="fair_positive",
                                format_func=lambda k: ds.class_names[k])
    if sensitive:
        key = ("audit", model_id, tuple(sensitive), bins, positive, explain, seed)
        result = uf.kept(key, lambda p: run_audit(record.meta, model, ds, sensitive, bins=bins, positive=positive,
                                                  explain=explain, seed=seed, progress=p))
        if result is not None:
            uf.audit_view(result, f"fair_{model_id}")

st.header("Shortcuts and leaks")
st.caption("Does one column alone predict the target nearly as well as the model? Is the column the model leans "
           "on most an ID, the row order or a date part, which would not hold for new data?")
if result is not None:  # the audit found them already, with the same attributions
    check = result.shortcut_check()
else:
    check = uf.kept(("shortcuts", model_id, explain, seed),
                    lambda p: check_shortcuts(record.meta, model, ds, explain=explain, seed=seed, progress=p))
if check is not None:
    uf.shortcut_view(check, f"fair_{model_id}")

if sensitive and ds.task == "classification" and record.meta.postprocessing is None:
    st.header("Mitigation")
    st.caption("Retrain with reweighing (Train page: 'Reweigh by the sensitive columns'), or post-process this "
               "model: Fairlearn's ThresholdOptimizer picks a threshold per group on the training rows. The result "
               "is stored as a model of its own; this one stays as it is.")
    with st.form("fair_mitigate"):
        constraint = st.radio("Constraint", CONSTRAINTS, horizontal=True, format_func=lambda c: c.replace("_", " "))
        go = uw.submit_once("Post-process and store", "fair_mitigate", type="primary")
    if go:
        try:
            mitigated, meta = postprocess(record.meta, model, ds, sensitive, constraint, bins=bins, positive=positive,
                                          seed=seed)
            saved = store().save(mitigated, meta)
            st.success(f"Stored as `{saved.model_id}` ({meta.name}); choose it above to audit it.")
            uf.mitigation_record(saved)
        except DlcoreError as exc:
            st.error(str(exc))
