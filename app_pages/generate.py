"""Generate: train or pick a VAE or GAN, draw samples, explore its latent space, and see how good it is."""
from __future__ import annotations

import streamlit as st

from dlcore.errors import DlcoreError
from dlcore.generative import explore
from dlcore.models import generative_architectures
from ui import generative as gen
from ui.cache import dataset, model
from ui.jobview import job_view, start_job
from ui.quality import quality_panel
from ui.widgets import dataset_picker

st.title("Generate")
st.caption("Variational autoencoders and GANs learn to draw new images like those of a data set. "
           "Train one here (it runs as a job, like any model), then sample it and look inside.")

with st.expander("Train a new generative model", expanded=not gen.generative_records()):
    c1, c2 = st.columns(2)
    with c1:
        ref = dataset_picker("gen_ref", modality="image")  # built-in or uploaded images
    arch = c2.radio("Model", generative_architectures(), horizontal=True, key="gen_arch",
                    format_func={"vae": "VAE (encoder + decoder)", "gan": "GAN (generator + discriminator)"}.get)
    ds = dataset(ref)
    if ds.modality != "image":
        st.warning(f"{ref!r} is {ds.modality} data; generative models here draw images: pick an image data set.")
    else:
        config = gen.generative_form(ref, arch)
        if config is not None and (started := start_job(config)):
            st.session_state["gen_job"] = started
    if st.session_state.get("gen_job"):
        job_view(st.session_state["gen_job"])

records = gen.generative_records()
if not records:
    st.info("No generative models yet: train one above (a VAE on digits takes well under a minute).")
    st.stop()
by_id = {r.model_id: r for r in records}
chosen = st.selectbox("Generative model", list(by_id), key="gen_model",
                      format_func=lambda i: f"{i} · {by_id[i].meta.name}")
record = by_id[chosen]
meta = record.meta
try:
    net = model(chosen)
except DlcoreError as exc:
    st.error(str(exc))
    st.stop()
data = gen.record_dataset(record)
kind = "conditional " * bool(net.n_classes) + meta.arch.upper()
origin = f"imported from `{meta.imported.file}`" if meta.imported is not None else \
    f"trained on {meta.data_name or '?'}"
st.caption(f"A {kind} with a {net.latent_dim}-number latent code for {'x'.join(map(str, net.image_shape))} images, "
           f"{origin}.")

views = ["Samples", "Interpolation", "Latent traversal", "Quality"]
if explore.encodes(net) and data is not None:
    views[1:1] = ["Latent map", "Reconstruction"]
view = st.radio("View", views, horizontal=True, key="gen_view", label_visibility="collapsed")
if view == "Samples":
    gen.samples_view(net, record)
elif view == "Latent map":
    gen.latent_map_view(net, data)
elif view == "Reconstruction":
    gen.reconstruction_view(net, data)
elif view == "Interpolation":
    gen.interpolation_view(net, data)
elif view == "Latent traversal":
    gen.traversal_view(net, data)
elif meta.evaluation.get("kind") == "generative":
    quality_panel(meta.evaluation, chosen, meta.class_names)
else:
    st.info("This model has no quality report (it was stored without its evaluation).")
