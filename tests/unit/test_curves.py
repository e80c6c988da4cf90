"""One rule for which history keys are curves (``dlcore.record.curve_names``), used by the training figure,
the Models page's curve choice and the pair it compares first: never the epoch, its seconds or its time."""
from __future__ import annotations

import json

from dlcore import plots
from dlcore.plots.compare import comparison_partner, overlay_curves, shared_curves
from dlcore.plots.training import curve_panels
from dlcore.record import ModelMeta, curve_names

ROWS = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 0.5 + 0.1 * e, "val_accuracy": 0.4 + 0.1 * e,
         "seconds": 0.3, "time": 1.7e9 + e} for e in (1, 2, 3)]


def _meta(data: str, *curves: str, bookkeeping: tuple[str, ...] = ("epoch", "seconds", "time")) -> ModelMeta:
    return ModelMeta.from_dict({"config": {"data": data}, "history": [dict.fromkeys((*bookkeeping, *curves), 0.5)]})


def test_time_is_never_a_curve() -> None:
    assert curve_names(ROWS) == ["val_accuracy", "val_loss", "accuracy", "loss"]
    assert curve_panels(ROWS) == ["loss", "accuracy"]
    assert overlay_curves({"a": ROWS, "b": [{"epoch": 1, "time": 2.0, "kl_loss": 0.1}]}) == \
        ["val_accuracy", "val_loss", "accuracy", "kl_loss", "loss"]


def test_the_training_figure_draws_a_panel_per_curve_and_none_for_time() -> None:
    spec = json.loads(plots.training_curves(ROWS).to_json())
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles == ["loss", "accuracy"]
    assert sorted(t["name"] for t in spec["data"]) == ["training accuracy", "training loss", "validation accuracy",
                                                       "validation loss"]


def test_models_sharing_only_epoch_seconds_and_time_share_no_curve() -> None:
    a, b = _meta("iris"), _meta("digits")
    assert a.curves() == [] and shared_curves(a, b) == set()
    assert shared_curves(_meta("iris", "loss", "val_loss"), _meta("digits", "loss", "kl_loss")) == {"loss"}


def test_the_partner_shares_the_most_curves_then_the_data_set_then_comes_first() -> None:
    first = _meta("digits", "loss")
    bare, old = _meta("digits"), _meta("titanic", "loss", bookkeeping=("epoch",))
    assert comparison_partner(first, [bare, old]) == 1  # a shared loss beats a shared wall clock and data set
    same_data = _meta("digits", "loss")
    assert comparison_partner(first, [old, same_data]) == 1  # equal curves: the same data set
    assert comparison_partner(first, [_meta("x", "g_loss"), _meta("y", "d_loss")]) == 0  # nothing alike: the first
