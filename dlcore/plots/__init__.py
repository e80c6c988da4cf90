"""Pure functions from results to ``plotly.graph_objects.Figure``: no Streamlit, no matplotlib.

One module per subject (training, data, explanations, trust, generative, fairness); all are re-exported here, so
``from dlcore import plots; plots.confusion_matrix(...)`` works for every figure.
"""
from __future__ import annotations

from dlcore.plots.compare import before_after, compare_curves, summary_scores
from dlcore.plots.data import class_balance, feature_histograms, image_mosaic, sample_images, sample_series
from dlcore.plots.explain import (
    beeswarm,
    dependence,
    figure_html,
    image_attribution,
    importance_bar,
    lime_superpixels,
    lime_weights,
    placeholder,
    prediction_bar,
    text_highlight,
    waterfall,
)
from dlcore.plots.fairness import (
    confusion_matrices,
    disparity_bars,
    group_metrics,
    group_shares,
    proxy_bars,
    selection_rates,
    tradeoff,
)
from dlcore.plots.forecast import forecast_plot
from dlcore.plots.generative import class_coverage, image_grid, latent_map, memorisation_histogram
from dlcore.plots.sequence import sequence_heatmap, sequence_series, step_scores
from dlcore.plots.training import (
    confusion_matrix,
    per_class_scores,
    predicted_vs_true,
    residuals,
    training_curves,
)
from dlcore.plots.trust import agreement_heatmap, faithfulness_curves, randomisation_curve, spread_map

__all__ = ["class_balance", "feature_histograms", "image_mosaic", "sample_images", "sample_series",
           "confusion_matrix", "per_class_scores", "predicted_vs_true", "residuals", "training_curves",
           "beeswarm", "dependence", "figure_html", "image_attribution", "importance_bar", "lime_superpixels",
           "lime_weights", "placeholder", "prediction_bar", "text_highlight", "waterfall", "before_after",
           "compare_curves", "summary_scores",
           "class_coverage", "image_grid", "latent_map", "memorisation_histogram",
           "agreement_heatmap", "faithfulness_curves", "randomisation_curve", "spread_map",
           "confusion_matrices", "disparity_bars", "group_metrics", "group_shares", "proxy_bars", "selection_rates",
           "tradeoff", "sequence_heatmap", "sequence_series", "step_scores", "forecast_plot"]
