"""Agreement between explanations: rank correlation and top-k overlap on hand-made values, the pairwise
matrix, and the inputs it refuses. No model needed."""
from __future__ import annotations

import numpy as np
import pytest

from dlcore.errors import ExplainError
from dlcore.explain.agreement import agreement, agreement_matrix, default_k


def test_identical_and_reversed():
    a = np.linspace(-1.0, 2.0, 13)
    same = agreement(a, a.copy())
    assert same.rho == pytest.approx(1.0) and same.rho_abs == pytest.approx(1.0) and same.overlap == 1.0
    assert same.k == 5 and same.n == 13 and same.chance_overlap == pytest.approx(5 / 13) and same.reason == ""
    reversed_ = agreement(np.arange(1.0, 21.0), np.arange(20.0, 0.0, -1.0))
    assert reversed_.rho == pytest.approx(-1.0)
    assert reversed_.overlap == 0.0  # top 5 of one are the bottom 5 of the other


def test_independent_noise_agrees_by_chance_only():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 28, 28)), rng.normal(size=(4, 28, 28))
    r = agreement(a, b)
    print("noise:", r.to_dict())
    assert abs(r.rho) < 0.05 and abs(r.rho_abs) < 0.05
    assert r.k == round(0.1 * a.size) and abs(r.overlap - r.chance_overlap) < 0.05
    related = agreement(a, a + 0.3 * b)  # the same map with noise: agrees well above chance
    assert related.rho > 0.9 and related.overlap > 0.6


def test_known_overlap_and_sign():
    a = np.array([9.0, -8.0, 7.0, 6.0, 5.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    b = np.array([9.0, 8.0, 0.0, 0.0, 5.0, 7.0, 6.0, 0.3, 0.4, 0.5, 0.6, 0.7])
    r = agreement(a, b)  # top 5 by |value|: {0,1,2,3,4} and {0,1,4,5,6}
    assert r.overlap == pytest.approx(3 / 5)
    assert agreement(a, b, k=2).overlap == 1.0 and agreement(a, b, k=3).overlap == pytest.approx(2 / 3)
    flipped = agreement(a, -a)  # opposite signs: same magnitudes
    assert flipped.rho == pytest.approx(-1.0) and flipped.rho_abs == pytest.approx(1.0) and flipped.overlap == 1.0


def test_default_k():
    assert [default_k(n) for n in (3, 8, 10, 50, 51, 784)] == [1, 4, 5, 5, 5, 78]


def test_matrix_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(1)
    base = rng.normal(size=30)
    named = {"shap": base, "lime": base + 0.5 * rng.normal(size=30), "noise": rng.normal(size=30)}
    m = agreement_matrix(named)
    print("matrix rho:", np.round(m.rho, 2).tolist(), "overlap:", np.round(m.overlap, 2).tolist())
    assert m.names == ("shap", "lime", "noise") and m.k == 5
    np.testing.assert_allclose(m.rho, m.rho.T)
    np.testing.assert_allclose(m.overlap, m.overlap.T)
    np.testing.assert_allclose(np.diag(m.rho), 1.0)
    np.testing.assert_allclose(np.diag(m.overlap), 1.0)
    assert m.rho[0, 1] == pytest.approx(agreement(named["shap"], named["lime"]).rho)
    assert m.rho[0, 1] > 0.7 and abs(m.rho[0, 2]) < 0.5
    assert m.to_dict()["names"] == ["shap", "lime", "noise"]


def test_constant_values_report_nan():
    r = agreement(np.ones(10), np.arange(10.0))
    assert np.isnan(r.rho) and "constant" in r.reason and r.to_dict()["rho"] is None


@pytest.mark.parametrize(("a", "b", "k", "match"), [
    (np.zeros(10), np.zeros(12), None, "shaped"),
    (np.array([1.0, np.nan, 2.0, 3.0]), np.arange(4.0), None, "NaN"),
    (np.arange(2.0), np.arange(2.0), None, "at least 3"),
    (np.arange(10.0), np.arange(10.0), 10, "k=10"),
    (np.arange(10.0), np.arange(10.0), 0, "k=0"),
])
def test_bad_input(a, b, k, match):
    with pytest.raises(ExplainError, match=match):
        agreement(a, b, k=k)


def test_matrix_needs_two():
    with pytest.raises(ExplainError, match="at least two"):
        agreement_matrix({"shap": np.arange(5.0)})
