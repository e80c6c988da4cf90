"""The quality report of a generative model (stored as its evaluation): scores and their figures."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dlcore import plots


def quality_panel(report: Mapping[str, Any], key: str, class_names: Sequence[str] | None = None) -> None:
    """Tiles for the scores, then class coverage and the memorisation check side by side."""
    memo = report["memorisation"]
    c = st.columns(6)
    c[0].metric("Mean confidence", f"{report['mean_confidence']:.3f}",
                help=f"Top class probability of the reference classifier; {report['real_confidence']:.3f} "
                     "on real images")
    c[1].metric(f"Class entropy (max {report['max_entropy']:.2f})", f"{report['class_entropy']:.2f}",
                help="Entropy (nats) of the predicted classes of the samples; the maximum: all classes equally often")
    c[2].metric("Classes present", f"{report['classes_present']} / {report['n_classes']}")
    c[3].metric("Frechet distance", f"{report['frechet_distance']:.3g}",
                help=f"Between classifier features of samples and training images; held-out real images: "
                     f"{report['frechet_floor']:.3g}")
    c[4].metric("Kernel distance", f"{report['kernel_distance']:.3g}",
                help=f"KID-style squared MMD, ± {report['kernel_distance_std']:.2g}; held-out real images: "
                     f"{report['kernel_floor']:.3g}")
    c[5].metric("Memorisation check", "passed" if memo["passed"] else "failed",
                help="Samples near training images without being copies of them")
    accuracy = report.get("classifier_accuracy", float("nan"))
    agreement = report.get("label_agreement")
    st.caption(f"{report['n_samples']} samples (seed {report['seed']}) judged by the reference classifier "
               f"`{report.get('classifier_id', '?')}` (validation accuracy {accuracy:.3f})"
               + (f"; {agreement:.1%} labelled as the class asked for." if agreement is not None else "."))
    left, right = st.columns(2)
    left.plotly_chart(plots.class_coverage(report, class_names), key=f"coverage_{key}")
    right.plotly_chart(plots.memorisation_histogram(memo), key=f"memo_{key}")
