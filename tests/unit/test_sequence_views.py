"""The sequence views: a step x feature heat map and each feature's series with the steps shaded by their
attribution, drawn from an Attribution of (steps, features) inputs; the Explain page uses them for sequences."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore.explain.attribution import Attribution


def sequence_attribution() -> Attribution:
    x = np.zeros((1, 30, 2))
    x[0, 10:16, 0] = 2.0
    values = np.zeros((1, 30, 2))
    values[0, 10:16, 0], values[0, 3, 1] = 0.1, -0.05
    return Attribution(values=values, base_values=np.array([0.25]), inputs=x, predictions=np.array([[0.1, 0.9]]),
                       targets=np.array([1]), method="shap", algorithm="gradient", seed=0, seconds=0.0,
                       feature_names=tuple(f"x{j}" for j in range(60)), class_names=("flat", "bump"))


def test_the_heat_map_puts_steps_across_and_features_down() -> None:
    from dlcore import plots

    fig = plots.sequence_heatmap(sequence_attribution())
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2, 30) and list(fig.data[0].y) == ["f0", "f1"]
    assert z[0, 10:16].tolist() == [0.1] * 6 and z[1, 3] == -0.05 and z[0, :10].sum() == 0
    assert fig.data[0].zmin == -0.1 and fig.data[0].zmax == 0.1  # centred at 0
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "feature"
    assert "bump" in fig.layout.title.text


def test_the_series_shades_each_step_by_its_summed_attribution() -> None:
    from dlcore import plots

    attr = sequence_attribution()
    fig = plots.sequence_series(attr)
    assert len(fig.data) == 2 and list(fig.data[0].y[9:12]) == [0.0, 2.0, 2.0]
    shapes = fig.layout.shapes
    assert len(shapes) == 60 and shapes[2 * 12].fillcolor == "rgba(214,39,61,0.600)"  # one a step a panel; red
    assert shapes[2 * 12 + 1].fillcolor == shapes[2 * 12].fillcolor
    assert shapes[2 * 3].fillcolor == "rgba(31,119,212,0.300)" and shapes[0].fillcolor.endswith(",0.000)")
    assert plots.step_scores(attr).tolist()[10] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="steps, features"):
        plots.sequence_series(Attribution(values=np.zeros((1, 3)), base_values=np.zeros(1), inputs=np.zeros((1, 3)),
                                          predictions=np.zeros((1, 1)), targets=np.zeros(1, dtype=int), method="shap",
                                          algorithm="exact", seed=0, seconds=0.0, feature_names=("a", "b", "c"),
                                          class_names=("y",)))


def test_the_explain_page_draws_sequences_with_the_sequence_views(monkeypatch) -> None:
    from ui import explain as page

    drawn = []
    monkeypatch.setattr(page, "figure", lambda fig, attr, cls, name, key: drawn.append(fig.layout.title.text))
    monkeypatch.setattr(page.st, "caption", lambda *a, **k: None)
    page.method_view(sequence_attribution(), 1, "k")
    assert len(drawn) == 2 and drawn[0].startswith("SHAP per step and feature") and "shaded" in drawn[1]
