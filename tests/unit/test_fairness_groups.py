"""Sensitive columns and their groups, the audit's numbers against Fairlearn's own, and the mitigations'
arithmetic, on generated data and on the shared real tables (no Keras: the audit takes predictions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlcore.data import load_dataset
from dlcore.data.upload import Choices, load_file
from dlcore.errors import DataError, FairnessError
from dlcore.fairness.audit import audit
from dlcore.fairness.groups import MISSING, as_groups, data_groups, suggest
from dlcore.fairness.mitigation import apply_thresholds, fit_thresholds, positive_probability, reweigh
from dlcore.fairness.proxies import ALL_INPUTS, find_proxies

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared real tables sit beside the project checkout, not in a fresh clone")
    return path


def test_names_that_look_sensitive_are_suggested_and_lookalikes_are_not():
    names = ["Sex", "age", "MaritalStatus", "race_ethnicity", "mileage", "page_views", "average", "stage", "club"]
    assert suggest(names) == ["Sex", "age", "MaritalStatus", "race_ethnicity"]


def test_missing_values_form_a_group_of_their_own():
    groups = as_groups(np.array(["f", None, "m", " ", "f", np.nan], dtype=object), "sex")
    assert list(groups) == ["f", MISSING, "m", MISSING, "f", MISSING]


def test_a_single_group_is_refused():
    with pytest.raises(FairnessError, match="single group.*at least two"):
        as_groups(np.array(["x"] * 20 + [None] * 0, dtype=object), "sex")


def test_500_distinct_values_are_refused_with_the_hint_to_bin_and_bins_make_bands():
    ages = np.arange(500, dtype=float)
    with pytest.raises(FairnessError, match=r"500 distinct values.*bin it.*--bins"):
        as_groups(ages.astype(object), "age")
    bands = as_groups(ages.astype(object), "age", bins=4)
    counts = pd.Series(bands).value_counts()
    assert len(counts) == 4 and counts.min() >= 124 and counts.max() <= 126
    assert "0-125" in counts.index


def test_text_with_many_values_is_refused_without_the_binning_hint():
    with pytest.raises(FairnessError, match="merge its values"):
        as_groups(np.array([f"city{i}" for i in range(30)], dtype=object), "nationality")


def test_a_small_group_is_flagged_and_kept():
    values = np.array(["a"] * 60 + ["b"] * 60 + ["c"] * 4, dtype=object)
    y = np.r_[np.zeros(30), np.ones(30), np.zeros(30), np.ones(30), np.ones(4)].astype(int)
    d = data_groups(values, y, "group", ("no", "yes"))
    assert [g.group for g in d.groups] == ["a", "b", "c"] and d.groups[2].n == 4
    assert any("'c'" in w and "4 row(s)" in w for w in d.warnings)
    report = audit(y, y, {"group": as_groups(values, "group")}, class_names=("no", "yes"))
    assert report.group("c").small and any("'c' has 4 row(s)" in w for w in report.warnings)


def test_the_biased_table_shows_its_label_gap_before_any_model():
    ds = load_dataset("hiring")
    assert ds.sensitive == ("sex",) and not any(n.startswith("sex") for n in ds.feature_names)
    d = data_groups(ds.sensitive_train["sex"], ds.y_train, "sex", ds.class_names)
    rates = {g.group: g.label_rates[1] for g in d.groups}
    assert rates["male"] - rates["female"] > 0.1
    assert any("'yes'" in w for w in d.warnings)


def _fairlearn(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, positive: int) -> tuple[pd.DataFrame, dict]:
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    yb, pb = (y == positive).astype(int), (pred == positive).astype(int)
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                 "fpr": false_positive_rate}, y_true=yb, y_pred=pb, sensitive_features=groups)
    return frame.by_group, {"dpd": demographic_parity_difference(yb, pb, sensitive_features=groups),
                            "dpr": demographic_parity_ratio(yb, pb, sensitive_features=groups),
                            "eod": equalized_odds_difference(yb, pb, sensitive_features=groups)}


def _predictions(ds) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000).fit(ds.x_train, ds.y_train).predict(ds.x_val)


def _check_equal(ds, pred: np.ndarray, sensitive: dict[str, np.ndarray], positive: int) -> None:
    report = audit(ds.y_val, pred, sensitive, ds.task, ds.class_names, positive)
    from dlcore.fairness.groups import combine

    by_group, figures = _fairlearn(ds.y_val, pred, combine(list(sensitive.values())), positive)
    for g in report.groups:
        row = by_group.loc[g.group]
        assert g.selection_rate == pytest.approx(row["selection_rate"])
        assert g.tpr == pytest.approx(row["tpr"], nan_ok=True) and g.fpr == pytest.approx(row["fpr"], nan_ok=True)
        assert g.accuracy == pytest.approx(np.mean((ds.y_val == pred)[combine(list(sensitive.values())) == g.group]))
    assert report.demographic_parity_difference == pytest.approx(figures["dpd"])
    assert report.demographic_parity_ratio == pytest.approx(figures["dpr"])
    assert report.equalized_odds_difference == pytest.approx(figures["eod"])


def test_titanic_by_sex_and_age_bands_equals_fairlearn():
    ds = load_file(shared("titanic.csv"), target="survived", choices=Choices(sensitive=("sex", "age")))
    assert "sex" not in ds.feature_names and "age" not in ds.feature_names
    pred = _predictions(ds)
    sex = as_groups(ds.sensitive_val["sex"], "sex")
    ages = as_groups(np.concatenate([ds.sensitive_train["age"], ds.sensitive_val["age"]]), "age", bins=4)[ds.n_train:]
    assert MISSING in set(ages)  # titanic's missing ages are a group of their own
    _check_equal(ds, pred, {"sex": sex}, 1)
    _check_equal(ds, pred, {"sex": sex, "age": ages}, 1)  # the intersections, as Fairlearn groups several columns
    both = audit(ds.y_val, pred, {"sex": sex, "age": ages}, ds.task, ds.class_names)
    assert set(both.by_column) == {"sex", "age"} and any(" & " in g.group for g in both.groups)


def test_penguins_by_sex_one_species_against_the_rest_equals_fairlearn():
    ds = load_file(shared("penguins.csv"), target="species", choices=Choices(sensitive=("sex",)))
    pred = _predictions(ds)
    sex = as_groups(ds.sensitive_val["sex"], "sex")
    for positive in range(len(ds.class_names)):
        _check_equal(ds, pred, {"sex": sex}, positive)
    report = audit(ds.y_val, pred, {"sex": sex}, ds.task, ds.class_names, positive=2)
    assert report.positive == ds.class_names[2]


def test_titanic_proxies_of_sex_are_the_columns_that_spell_it():
    ds = load_file(shared("titanic.csv"), target="survived", choices=Choices(sensitive=("sex",)))
    both = as_groups(np.concatenate([ds.sensitive_train["sex"], ds.sensitive_val["sex"]]), "sex")
    proxies = find_proxies(ds, both[:ds.n_train], both[ds.n_train:])
    top = {p.feature for p in proxies[:3] if p.flagged}
    assert {"who", "adult_male"} & top, [(p.feature, round(p.score, 2)) for p in proxies]
    assert next(p for p in proxies if p.feature == "parch").score < 0.7
    assert proxies[-1].feature == ALL_INPUTS and proxies[-1].flagged


def test_hiring_names_club_as_the_proxy_and_nothing_else():
    ds = load_dataset("hiring")
    g = as_groups(np.concatenate([ds.sensitive_train["sex"], ds.sensitive_val["sex"]]), "sex")
    proxies = find_proxies(ds, g[:ds.n_train], g[ds.n_train:], importance={"club": 0.3, "test_score": 0.5})
    flagged = [p.feature for p in proxies if p.flagged and p.feature != ALL_INPUTS]
    assert flagged == ["club"] and proxies[0].importance_rank == 2


def test_a_sensitive_column_can_also_be_an_input_when_asked(tmp_path: Path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], 200), "x": rng.normal(size=200),
                          "y": rng.choice(["a", "b"], 200)})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    kept = load_file(path, target="y", choices=Choices(sensitive=("sex",), sensitive_inputs=("sex",)))
    assert "sex" in kept.preprocessing.column_inputs() and kept.sensitive == ("sex",)
    left = load_file(path, target="y", choices=Choices(sensitive=("sex",)))
    assert left.feature_names == ("x",) and len(left.sensitive_val["sex"]) == left.n_val
    with pytest.raises(DataError, match="no column 'gender'"):
        load_file(path, target="y", choices=Choices(sensitive=("gender",)))
    with pytest.raises(DataError, match="is the target"):
        load_file(path, target="y", choices=Choices(sensitive=("y",)))


def test_images_have_no_sensitive_column_and_the_message_says_how_to_add_one():
    from dlcore.fairness.service import sensitive_groups

    with pytest.raises(FairnessError, match="has no sensitive column.*table that has a group column"):
        sensitive_groups(load_dataset("digits"), ())


def test_reweighing_makes_group_and_label_independent():
    rng = np.random.default_rng(1)
    groups = rng.choice(["f", "m"], 2000, p=[0.3, 0.7])
    y = (rng.uniform(size=2000) < np.where(groups == "f", 0.2, 0.5)).astype(int)
    w = reweigh(groups, y)
    assert w.mean() == pytest.approx(1.0)
    rates = {g: np.average(y[groups == g], weights=w[groups == g]) for g in ("f", "m")}
    assert rates["f"] == pytest.approx(rates["m"]) and rates["f"] == pytest.approx(y.mean())
    plain = {g: y[groups == g].mean() for g in ("f", "m")}
    assert plain["m"] - plain["f"] > 0.2  # it was not independent before


def test_stored_threshold_rules_predict_what_fairlearn_predicts():
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset("hiring")
    xt, xv = ds.x_train.astype(np.float64), ds.x_val.astype(np.float64)  # Fairlearn's predict needs float64
    gt, gv = as_groups(ds.sensitive_train["sex"], "sex"), as_groups(ds.sensitive_val["sex"], "sex")
    model = LogisticRegression(max_iter=1000).fit(xt, ds.y_train)
    for constraint in ("demographic_parity", "equalized_odds"):
        post = fit_thresholds(model.predict_proba(xt)[:, 1], ds.y_train, gt, constraint, ("sex",), 1)
        theirs = ThresholdOptimizer(estimator=model, constraints=constraint, prefit=True,
                                    predict_method="predict_proba").fit(xt, ds.y_train, sensitive_features=gt)
        scores = model.predict_proba(xv)[:, 1]
        for seed in (0, 5):
            ours = apply_thresholds(post, scores, gv, seed)
            assert np.array_equal(ours, theirs.predict(xv, sensitive_features=gv, random_state=seed))
        assert ((positive_probability(post, scores, gv) > 0) & (positive_probability(post, scores, gv) < 1)).any()
    with pytest.raises(FairnessError, match="group 'x' was not in the rows"):
        apply_thresholds(post, scores[:2], np.array(["x", "female"]))


def test_load_dataset_keeps_sensitive_columns_of_a_file_and_refuses_ones_a_builtin_lacks(tmp_path: Path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"religion": rng.choice(["a", "b", "c"], 90), "x": rng.normal(size=90),
                          "y": rng.choice(["no", "yes"], 90)})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(str(path), target="y", sensitive=("religion",))
    assert ds.feature_names == ("x",) and set(ds.sensitive_val["religion"]) <= {"a", "b", "c"}
    assert load_dataset("hiring", sensitive=("sex",)).sensitive == ("sex",)
    with pytest.raises(DataError, match="no sensitive column 'age'.*sex"):
        load_dataset("hiring", sensitive=("age",))
    with pytest.raises(DataError, match="has none"):
        load_dataset("iris", sensitive=("sex",))
