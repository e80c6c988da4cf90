"""Widgets and views of the Generate page: the training form, samples, latent map, interpolation,
traversal and reconstruction. Each view turns widget values into ``dlcore.generative`` calls and figures."""
from __future__ import annotations

from typing import Any

import streamlit as st

from dlcore import plots
from dlcore.data import Dataset
from dlcore.errors import DlcoreError
from dlcore.generative import explore, sampling
from dlcore.images import npz_bytes, png_bytes
from dlcore.models import ModelSpec, TrainConfig, architecture
from dlcore.store import ModelRecord
from ui.cache import dataset, store
from ui.widgets import submit_once

# proven starting points on digits (see the README): epochs and learning rate; layer sizes from the catalog
DEFAULTS = {"vae": (30, 1e-3), "gan": (60, 1e-3)}


def generative_records() -> list[ModelRecord]:
    """Stored VAEs and GANs, newest first."""
    return [r for r in store().list() if r.generative]


def record_dataset(record: ModelRecord) -> Dataset | None:
    """The data set (same split) a generative model was trained on, or None when it is gone."""
    try:
        return dataset(*record.meta.data_key())
    except DlcoreError:
        return None


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise DlcoreError(f"layer sizes: write whole numbers separated by commas, not {text!r}") from None


def generative_form(ref: str, arch: str) -> TrainConfig | None:
    """Settings of a VAE or GAN job; a config when Train is pressed and the settings are valid."""
    epochs, lr = DEFAULTS[arch]
    spec = architecture(arch)
    units, filters = ",".join(map(str, spec.units)), ",".join(map(str, spec.filters))
    with st.form(f"gen_form_{arch}"):
        c1, c2, c3 = st.columns(3)
        latent = c1.number_input("Latent size", 2, 256, 8 if arch == "vae" else 32)
        conditional = c1.checkbox("Conditional (the class is given)")
        filters = c1.text_input("Conv filters per block (empty: dense)", filters)
        units = c1.text_input("Dense layer sizes", units)
        beta = c2.number_input("Beta (KL weight)", 0.0, 20.0, 0.5, disabled=arch != "vae",
                               help="1 is the plain VAE; less gives sharper images, more a smoother latent space")
        smoothing = c2.slider("Label smoothing (real target 1 - s)", 0.0, 0.4, 0.1, disabled=arch != "gan")
        d_lr = c2.number_input("Discriminator learning rate", 1e-6, 1.0, lr, format="%.5f", disabled=arch != "gan")
        g_lr = c3.number_input("Learning rate" + (" (generator)" if arch == "gan" else ""), 1e-6, 1.0, lr,
                               format="%.5f")
        n_epochs = c3.number_input("Epochs", 1, 2000, epochs)
        batch = c3.number_input("Batch size", 2, 4096, 32)
        seed = c3.number_input("Seed", 0, 2**31 - 1, 0)
        submitted = submit_once("Train", "generative_form", type="primary")
    if not submitted:
        return None
    try:
        spec = ModelSpec(arch=arch, units=_sizes(units), filters=_sizes(filters), latent_dim=int(latent),
                         beta=float(beta), conditional=conditional, label_smoothing=float(smoothing))
        return TrainConfig(data=ref, model=spec, learning_rate=float(g_lr), epochs=int(n_epochs),
                           batch_size=int(batch), seed=int(seed), name=f"{arch} on {ref}",
                           d_learning_rate=float(d_lr) if arch == "gan" else None)
    except DlcoreError as exc:
        st.error(str(exc))
        return None


def samples_view(model: Any, record: ModelRecord) -> None:
    """A seeded grid of new images (a row per class when conditional), with PNG and .npz downloads."""
    c1, c2 = st.columns(2)
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="sample_seed"))
    classes = list(record.meta.class_names) if model.n_classes else []
    if classes:
        layout = explore.sample_layout(len(classes), int(c1.slider("Samples per class", 1, 16, 8, key="sample_per")))
    else:
        layout = explore.sample_layout(0, int(c1.slider("Samples", 4, 144, 64, 4, key="sample_n")))
    x, y = sampling.generate(model, layout.n, seed=seed, labels=layout.labels)
    st.plotly_chart(plots.image_grid(x, layout.per_row, title=f"{len(x)} samples, seed {seed}",
                                     row_labels=classes or None), key="sample_grid")
    d1, d2 = st.columns(2)
    name = f"{record.model_id}-seed{seed}"
    d1.download_button("Download PNG", png_bytes(x, layout.per_row), f"{name}.png", "image/png")
    d2.download_button("Download .npz", npz_bytes(x, y), f"{name}.npz", "application/octet-stream")


def _picked_rows(event: Any) -> list[int]:
    rows = []
    for point in (getattr(event, "selection", None) or {}).get("points", []):
        data = point.get("customdata")
        rows.append(int(data[0] if isinstance(data, list) else data))
    return rows


def latent_map_view(model: Any, ds: Dataset) -> None:
    """The validation images encoded in 2-D (the latent itself, or its first two principal components);
    picking points shows them and their reconstructions; sliders decode any place of the map."""
    lmap = explore.latent_map(model, ds.x_val, ds.y_val)
    event = st.plotly_chart(plots.latent_map(lmap.points, ds.y_val, ds.class_names, ds.x_val, lmap.titles),
                            key="latent_map", on_select="rerun", selection_mode=("points", "box", "lasso"))
    if model.n_classes:
        st.caption("The class is given to this conditional VAE separately, so its latent space holds the style "
                   "of a digit (slant, thickness), not its class: the colours mix.")
    rows = _picked_rows(event)[:16]
    if rows:
        st.plotly_chart(plots.image_grid(explore.picked_images(model, lmap, ds.x_val, ds.y_val, rows), len(rows),
                                         "Picked images and their decodings", ["image", "decoded"]), key="picked")
    else:
        st.caption("Click a point, or draw a box or lasso, to see those images decoded.")
    c1, c2, c3 = st.columns(3)
    u = c1.slider(lmap.titles[0], *lmap.axis_range(0))
    v = c2.slider(lmap.titles[1], *lmap.axis_range(1))
    label = c3.selectbox("Class to decode with", range(len(ds.class_names)), format_func=lambda k: ds.class_names[k]) \
        if model.n_classes else None
    c3.plotly_chart(plots.image_grid(sampling.decode(model, lmap.code_at(u, v), None if label is None else [label]), 1,
                                     "Decoded at this place", tile_pixels=120), key="decoded_point")


def _endpoint(model: Any, ds: Dataset | None, side: str, default: int, column: Any) -> explore.Start:
    """One end of an interpolation: a validation image's code (VAE) or a seed's (with a class if conditional)."""
    if explore.encodes(model) and ds is not None:
        row = int(column.number_input(f"Image {side} (validation row)", 0, ds.n_val - 1, default, key=f"interp_{side}"))
        return explore.image_start(model, ds.x_val, ds.y_val, row)
    seed = int(column.number_input(f"Seed {side}", 0, 2**31 - 1, default, key=f"interp_{side}"))
    label = column.selectbox(f"Class {side}", range(model.n_classes), key=f"interp_class_{side}") \
        if model.n_classes else None
    return explore.seed_start(model, seed, label)


def interpolation_view(model: Any, ds: Dataset | None) -> None:
    """The path between two images (VAE) or two seeds (GAN, along the great circle) decoded in steps;
    for a conditional model the class vector moves from one class to the other too."""
    c1, c2, c3 = st.columns(3)
    a = _endpoint(model, ds, "A", 0, c1)
    b = _endpoint(model, ds, "B", 1 if ds is None else explore.first_other_class(ds.y_val), c2)
    path = explore.interpolation(model, a, b, int(c3.slider("Steps", 2, 16, 9)))
    st.plotly_chart(plots.image_grid(path.images, len(path.images), "Interpolation", column_labels=list(path.names)),
                    key="interp")


def traversal_view(model: Any, ds: Dataset | None) -> None:
    """Sliders for the latent dimensions that matter most, decoded live, and each swept from -3 to 3."""
    c1, c2 = st.columns(2)
    if explore.encodes(model) and ds is not None:
        row = int(c1.number_input("Start from validation image", 0, ds.n_val - 1, 0, key="trav_row"))
        start, key = explore.image_start(model, ds.x_val, ds.y_val, row), f"r{row}"
    else:
        seed = int(c1.number_input("Start from seed", 0, 2**31 - 1, 0, key="trav_seed"))
        label = int(c1.selectbox("Class", range(model.n_classes))) if model.n_classes else None
        start, key = explore.seed_start(model, seed, label), f"s{seed}"
    label = None if start.label is None else [start.label]
    active = explore.active_dimensions(model, None if ds is None else ds.x_val, None if ds is None else ds.y_val)
    z = start.code.copy()
    lim = explore.SWEEP_LIMIT
    for d, name in zip(active.dims, active.labels):
        z[d] = c2.slider(name, -lim, lim, explore.slider_start(z, d), 0.1, key=f"trav_{key}_{d}")
    c1.plotly_chart(plots.image_grid(sampling.decode(model, z[None], label), 1, "Decoded", tile_pixels=160),
                    key="trav_one")
    values = explore.SWEEP_VALUES
    sweep = explore.traversal_sweep(z, active.dims, values)
    labels = None if label is None else label * len(sweep)
    st.plotly_chart(plots.image_grid(sampling.decode(model, sweep, labels), len(values),
                                     f"Each dimension from {-lim:g} to {lim:g}", [n.split()[0] for n in active.labels],
                                     [f"{v:g}" for v in values]), key="trav_sweep")


def reconstruction_view(model: Any, ds: Dataset) -> None:
    """Validation images beside their reconstructions (decoded from their latent means)."""
    c1, c2 = st.columns(2)
    n = int(c1.slider("Images", 4, 24, 12, key="recon_n"))
    seed = int(c2.number_input("Seed (which images)", 0, 2**31 - 1, 0, key="recon_seed"))
    rec = explore.reconstruction(model, ds.x_val, ds.y_val, n, seed)
    st.plotly_chart(plots.image_grid(rec.images, len(rec.rows),
                                     f"Reconstructions (mean absolute pixel error {rec.error:.3f})",
                                     ["original", "reconstructed"]), key="recon")
