"""Widgets and views of the Generate page: the training form, samples, latent map, interpolation,
traversal and reconstruction. Each view turns widget values into ``dlcore.generative`` calls and figures."""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dlcore import plots
from dlcore.data import Dataset
from dlcore.errors import DlcoreError
from dlcore.generative import sampling
from dlcore.images import npz_bytes, png_bytes
from dlcore.models import ModelSpec, TrainConfig
from dlcore.store import ModelRecord
from ui.cache import dataset, store

# proven starting points on digits (see the README): epochs, learning rate, units, filters
DEFAULTS = {"vae": (30, 1e-3, "128", "32,64"), "gan": (60, 1e-3, "", "32,64")}
TRAVERSE_DIMS = 6


def generative_records() -> list[ModelRecord]:
    """Stored VAEs and GANs, newest first."""
    return [r for r in store().list() if r.generative]


def record_dataset(record: ModelRecord) -> Dataset | None:
    """The data set (same split) a generative model was trained on, or None when it is gone."""
    cfg = record.meta.get("config") or {}
    try:
        return dataset(cfg.get("data", ""), cfg.get("target"), cfg.get("validation_split", 0.2), cfg.get("seed", 0))
    except DlcoreError:
        return None


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise DlcoreError(f"layer sizes: write whole numbers separated by commas, not {text!r}") from None


def generative_form(ref: str, arch: str) -> TrainConfig | None:
    """Settings of a VAE or GAN job; a config when Train is pressed and the settings are valid."""
    epochs, lr, units, filters = DEFAULTS[arch]
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
        g_lr = c3.number_input("Learning rate" + (" (generator)" if arch == "gan" else ""), 1e-6, 1.0, lr, format="%.5f")
        n_epochs = c3.number_input("Epochs", 1, 2000, epochs)
        batch = c3.number_input("Batch size", 2, 4096, 32)
        seed = c3.number_input("Seed", 0, 2**31 - 1, 0)
        submitted = st.form_submit_button("Train", type="primary")
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


def _classes(record: ModelRecord) -> list[str]:
    return [str(c) for c in record.meta.get("class_names", [])]


def samples_view(model: Any, record: ModelRecord) -> None:
    """A seeded grid of new images (a row per class when conditional), with PNG and .npz downloads."""
    c1, c2 = st.columns(2)
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="sample_seed"))
    classes = _classes(record) if model.n_classes else []
    if classes:
        per_row = int(c1.slider("Samples per class", 1, 16, 8, key="sample_per"))
        labels, n = np.repeat(np.arange(len(classes)), per_row), per_row * len(classes)
    else:
        n = int(c1.slider("Samples", 4, 144, 64, 4, key="sample_n"))
        labels, per_row = None, int(np.ceil(np.sqrt(n)))
    x, y = sampling.generate(model, n, seed=seed, labels=labels)
    st.plotly_chart(plots.image_grid(x, per_row, title=f"{len(x)} samples, seed {seed}", row_labels=classes or None),
                    key="sample_grid")
    d1, d2 = st.columns(2)
    name = f"{record.model_id}-seed{seed}"
    d1.download_button("Download PNG", png_bytes(x, per_row), f"{name}.png", "image/png")
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
    from sklearn.decomposition import PCA

    mean, _ = sampling.encode(model, ds.x_val, ds.y_val)
    pca = None if model.latent_dim == 2 else PCA(2, random_state=0).fit(mean)
    pts = mean if pca is None else pca.transform(mean)
    titles = ("z1", "z2") if pca is None else tuple(f"PC{i + 1} ({v:.0%} of variance)" for i, v in
                                                     enumerate(pca.explained_variance_ratio_))
    event = st.plotly_chart(plots.latent_map(pts, ds.y_val, ds.class_names, ds.x_val, titles), key="latent_map",
                            on_select="rerun", selection_mode=("points", "box", "lasso"))
    if model.n_classes:
        st.caption("The class is given to this conditional VAE separately, so its latent space holds the style "
                   "of a digit (slant, thickness), not its class: the colours mix.")
    rows = _picked_rows(event)[:16]
    if rows:
        recon = sampling.decode(model, mean[rows], ds.y_val[rows])
        st.plotly_chart(plots.image_grid(np.concatenate([ds.x_val[rows], recon]), len(rows),
                                         "Picked images and their decodings", ["image", "decoded"]), key="picked")
    else:
        st.caption("Click a point, or draw a box or lasso, to see those images decoded.")
    c1, c2, c3 = st.columns(3)
    u = c1.slider(titles[0], float(pts[:, 0].min()), float(pts[:, 0].max()), float(np.median(pts[:, 0])))
    v = c2.slider(titles[1], float(pts[:, 1].min()), float(pts[:, 1].max()), float(np.median(pts[:, 1])))
    label = c3.selectbox("Class to decode with", range(len(ds.class_names)), format_func=lambda k: ds.class_names[k]) \
        if model.n_classes else None
    z = np.array([[u, v]], np.float32) if pca is None else pca.inverse_transform([[u, v]])
    c3.plotly_chart(plots.image_grid(sampling.decode(model, z, None if label is None else [label]), 1,
                                     "Decoded at this place", tile_pixels=120), key="decoded_point")


def _endpoints(model: Any, ds: Dataset | None, side: str, default: int, column: Any) -> tuple[np.ndarray, Any, Any]:
    """A latent code and class vector for one end of an interpolation: an image's code (VAE) or a seed's."""
    if hasattr(model, "encoder") and ds is not None:
        row = int(column.number_input(f"Image {side} (validation row)", 0, ds.n_val - 1, default, key=f"interp_{side}"))
        mean, _ = sampling.encode(model, ds.x_val[row:row + 1], ds.y_val[row:row + 1])
        return mean[0], sampling.class_vectors(model, ds.y_val[row:row + 1], 1), ds.x_val[row]
    seed = int(column.number_input(f"Seed {side}", 0, 2**31 - 1, default, key=f"interp_{side}"))
    label = column.selectbox(f"Class {side}", range(model.n_classes), key=f"interp_class_{side}") if model.n_classes else None
    return sampling.noise(1, model.latent_dim, seed)[0], sampling.class_vectors(model, label, 1), None


def interpolation_view(model: Any, ds: Dataset | None) -> None:
    """The path between two images (VAE) or two seeds (GAN, along the great circle) decoded in steps;
    for a conditional model the class vector moves from one class to the other too."""
    c1, c2, c3 = st.columns(3)
    za, ca, xa = _endpoints(model, ds, "A", 0, c1)
    zb, cb, xb = _endpoints(model, ds, "B", 1 if ds is None else int(np.argmax(ds.y_val != ds.y_val[0])), c2)
    steps = int(c3.slider("Steps", 2, 16, 9))
    path = sampling.interpolate(za, zb, steps, spherical=not hasattr(model, "encoder"))
    mix = None if ca is None else sampling.interpolate(ca, cb, steps)
    images = sampling.decode(model, path, mix)
    names = [f"{t:.2f}" for t in np.linspace(0, 1, steps)]
    if xa is not None:
        images, names = np.concatenate([xa[None], images, xb[None]]), ["A", *names, "B"]
    st.plotly_chart(plots.image_grid(images, len(images), "Interpolation", column_labels=names), key="interp")


def _active_dims(model: Any, ds: Dataset | None) -> tuple[np.ndarray, list[str]]:
    """The latent dimensions to offer: a VAE's most used ones (highest mean KL over the validation images,
    since beta > 0 leaves some unused), else the first ones; with a label for each slider."""
    dims = min(TRAVERSE_DIMS, model.latent_dim)
    if not hasattr(model, "encoder") or ds is None:
        return np.arange(dims), [f"z{d + 1}" for d in range(dims)]
    mean, log_var = sampling.encode(model, ds.x_val, ds.y_val)
    kl = (0.5 * (mean**2 + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)
    order = np.argsort(-kl)[:dims]
    return order, [f"z{d + 1} ({kl[d]:.2f} nats)" for d in order]


def traversal_view(model: Any, ds: Dataset | None) -> None:
    """Sliders for the latent dimensions that matter most, decoded live, and each swept from -3 to 3."""
    c1, c2 = st.columns(2)
    if hasattr(model, "encoder") and ds is not None:
        row = int(c1.number_input("Start from validation image", 0, ds.n_val - 1, 0, key="trav_row"))
        base, _ = sampling.encode(model, ds.x_val[row:row + 1], ds.y_val[row:row + 1])
        label, key = ([int(ds.y_val[row])] if model.n_classes else None), f"r{row}"
    else:
        seed = int(c1.number_input("Start from seed", 0, 2**31 - 1, 0, key="trav_seed"))
        base, key = sampling.noise(1, model.latent_dim, seed), f"s{seed}"
        label = [int(c1.selectbox("Class", range(model.n_classes)))] if model.n_classes else None
    dims, names = _active_dims(model, ds)
    z = base[0].copy()
    for d, name in zip(dims, names):
        z[d] = c2.slider(name, -3.0, 3.0, float(np.clip(z[d], -3, 3)), 0.1, key=f"trav_{key}_{d}")
    c1.plotly_chart(plots.image_grid(sampling.decode(model, z[None], label), 1, "Decoded", tile_pixels=160),
                    key="trav_one")
    values = np.linspace(-3, 3, 9)
    sweep = np.repeat(z[None], len(dims) * len(values), axis=0)
    for i, d in enumerate(dims):
        sweep[i * len(values):(i + 1) * len(values), d] = values
    labels = None if label is None else label * len(sweep)
    st.plotly_chart(plots.image_grid(sampling.decode(model, sweep, labels), len(values), "Each dimension from -3 to 3",
                                     [n.split()[0] for n in names], [f"{v:g}" for v in values]), key="trav_sweep")


def reconstruction_view(model: Any, ds: Dataset) -> None:
    """Validation images beside their reconstructions (decoded from their latent means)."""
    c1, c2 = st.columns(2)
    n = int(c1.slider("Images", 4, 24, 12, key="recon_n"))
    seed = int(c2.number_input("Seed (which images)", 0, 2**31 - 1, 0, key="recon_seed"))
    rows = np.random.default_rng(seed).choice(ds.n_val, size=min(n, ds.n_val), replace=False)
    recon = sampling.reconstruct(model, ds.x_val[rows], ds.y_val[rows])
    error = float(np.abs(recon - ds.x_val[rows]).mean())
    st.plotly_chart(plots.image_grid(np.concatenate([ds.x_val[rows], recon]), len(rows),
                                     f"Reconstructions (mean absolute pixel error {error:.3f})",
                                     ["original", "reconstructed"]), key="recon")
