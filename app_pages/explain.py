"""Explain: why a stored model predicts what it does, SHAP and LIME side by side for the same input."""
from __future__ import annotations

import streamlit as st

from dlcore import plots
from dlcore.errors import DlcoreError
from dlcore.explain.service import LABELS, predictions
from ui import explain as ux
from ui import trust as ut

st.title("Explain")
record = ux.predicting_model("explain_model", "No models that predict yet: train a classifier or regressor on the "
                             "Train page, then come back to see why it decides what it decides (VAEs and GANs are "
                             "explored on the Generate page).")
ux.warm_up_shap()
model_id = record.model_id
try:
    model, ds = ux.model_and_data(record)
    x, label, index = ux.pick_input(record, ds)
except DlcoreError as exc:
    st.error(str(exc))
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1])
methods = ux.method_picker(c1, model, key=f"explain_methods_{model_id}")
seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="explain_seed"))
stable = c3.checkbox("Stability check", value=True, key="explain_stable",
                     help="Explain twice more with seeds seed+1 and seed+2 and compare the rankings")
samples = ux.sample_options(ds)
group = ux.group_choice(ds)

outputs = predictions(model, x)[0]
classes = record.meta.output_names(ds.class_names) or ("prediction",)  # the model's own names, or the data set's
if note := record.meta.naming_note(ds.name, ds.class_names):
    st.warning(note)
predicted = int(outputs.argmax())
cls = st.selectbox("Class explained", range(len(classes)), index=predicted,
                   key=f"explain_class_{model_id}_{ux.input_key(x)}",
                   format_func=lambda k: classes[k] + (" (predicted)" if k == predicted else ""))
st.markdown(f"**{label}**: the model predicts **{classes[predicted]}** ({outputs[predicted]:.3f}).")
st.plotly_chart(plots.prediction_bar(outputs, classes, cls), key="explain_outputs")

results = {}
for column, method in ux.method_columns(methods):
    with column:
        st.subheader(LABELS[method])
        got = ux.explain_input(record, model, ds, x, method, seed, stable, samples.get(method), index)
        if got is None:
            continue
        results[method] = got
        shown, spread = ux.readable_view(got.attribution, got.reruns, record, cls, group)
        ux.method_view(shown, cls, f"explain_{method}", spread, model=model)
        with st.expander("How it was made"):
            ux.trust_table(got.trust_for(cls))  # with the object masks of a validation row, where the data set has them

if results:
    st.subheader("How far to trust it")
    st.caption("Faithfulness: does the output fall when the parts the explanation ranks first are removed, faster "
               "than for random orders? Randomisation: does the explanation change when the model is destroyed? "
               "Agreement: do the methods rank the parts alike? Uncertainty: how much do the values move between "
               "seeds (the error bars above)?")
    randomise, baseline = ut.settings(ds, "trust")
    for column, (method, got) in ux.method_columns(list(results.items())):
        with column:
            st.markdown(f"**{LABELS[method]}**")
            others = {LABELS[m]: r.attribution for m, r in results.items() if m != method}
            request = ux.page_request(method, seed, stable, samples.get(method))
            report = ut.run_report(record, model, ds, x, got, request, cls, others, randomise, baseline, index)
            if report is not None:
                ut.panel(report, f"trust_{method}")

if ds.modality == "tabular":
    st.subheader("Global views")
    st.caption("SHAP over a seeded sample of validation rows, for the class chosen above.")
    ux.global_views(record, model, ds, cls, seed, group)
