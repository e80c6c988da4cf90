"""SHAP for texts: shap's Partition explainer over a Text masker that splits words as the model does, in LIME's
layout (one value per distinct word), adding up to the prediction, seeded, batched, costed, and put through
the trust checks."""
from __future__ import annotations

import numpy as np
import pytest

from tests.text_support import BAD, GOOD, train_text_model, write_reviews


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("text_shap_home")
    model_id = train_text_model(home, str(write_reviews(home / "reviews.csv")))
    from dlcore.store import ModelStore

    return ModelStore(home).load(model_id)


TEXTS = ["the plot was superb and lovely", "a dull film and a boring plot", "it was Great, quite FINE acting"]


def planted_share(attr, row: int) -> float:
    """The share of |attribution| on the verdict words (2 of the text's words)."""
    one = attr.row(row)
    v = np.abs(one.flat()[0])
    planted = [w.lower() in GOOD + BAD for w in one.feature_names]
    return float(v[planted].sum() / v.sum())


def test_lime_too_puts_half_its_weight_on_the_verdict_words(model) -> None:
    from dlcore.explain import explain
    from dlcore.explain.ground_truth import on_words

    attr = explain(model, TEXTS, "lime", seed=0, class_names=["down", "up"], num_samples=500)
    shares = [planted_share(attr, i) for i in range(3)]
    assert min(shares) >= 0.5, shares  # 2 of 6-7 words: ~30% by chance
    one = attr.row(0)
    truth = on_words(one.flat()[0], one.feature_names, GOOD + BAD, counts=one.inputs[0])
    assert truth.kind == "words" and truth.share == pytest.approx(shares[0]) and truth.share > truth.expected_share


def test_the_tokenizer_reads_words_as_the_models_vectorizer(model) -> None:
    from dlcore.explain.shap_explainer import model_words

    words = model_words(model)
    text = "Great, FILM!  don't -- well-made"
    assert words(text)["input_ids"] == ["great", "film", "dont", "wellmade"]  # "--" is no word
    vectorize = model.get_layer("vectorize")
    vocab = vectorize.get_vocabulary()
    ids = np.asarray(vectorize(np.array([text]))[0])
    assert [vocab[i] if i > 1 else "?" for i in ids[ids > 0]][:2] == ["great", "film"]
    assert (ids > 0).sum() == 4  # the model reads the same four words


def test_shap_values_per_word_add_up_and_favour_the_verdict_words(model) -> None:
    from dlcore.explain import estimate, explain
    from tests.unit.test_explain import CountingModel

    spy = CountingModel(model)
    plan = estimate(model, TEXTS, "shap")
    attr = explain(spy, TEXTS, "shap", seed=0, class_names=["down", "up"])
    assert attr.method == "shap" and attr.algorithm == "partition-text" and list(attr.targets) == [1, 0, 1]
    assert attr.feature_names[:6] == ("the", "plot", "was", "superb", "and", "lovely")
    assert attr.model_rows <= plan.model_rows and max(spy.sizes) > 8  # batched: a level of the tree a call
    gap = attr.additivity_gap()
    print("gap", np.abs(gap).max(), "shares", [round(planted_share(attr, i), 3) for i in range(3)])
    assert np.abs(gap).max() < 1e-5  # base (every word removed) + sum = prediction
    assert all(planted_share(attr, i) >= 0.5 for i in range(3))  # 2 of 6-7 words: ~30% by chance
    assert np.all(attr.values[0][attr.inputs[0] == 0] == 0)
    d = attr.to_dict()
    assert d["rows"][1]["additivity_gap"] == pytest.approx(float(gap[1])) and len(d["rows"][0]["values"]) == 15


def test_partition_agrees_with_brute_force_shapley_on_a_short_text(model) -> None:
    """Partition gives Owen values of shap's word tree; on 5 words compare them with exact Shapley values."""
    import itertools
    import math

    from dlcore.explain import explain
    from dlcore.explain.plan import BatchedPredict

    words = "the film was superb indeed".split()
    attr = explain(model, " ".join(words), "shap", seed=0, target=1)
    f, m = BatchedPredict(model), len(words)
    masks = list(itertools.product([0, 1], repeat=m))
    out = dict(zip(masks, f(np.array([" ".join(w for w, k in zip(words, s) if k) for s in masks], dtype=object))[:, 1]))
    exact = np.zeros(m)
    for s in masks:
        for j in range(m):
            if not s[j]:
                size = sum(s)
                with_j = tuple(1 if i == j else s[i] for i in range(m))
                exact[j] += math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m) * (
                    out[with_j] - out[s])
    got = attr.flat(1)[0]
    print("partition", got.round(4), "exact", exact.round(4))
    assert np.argmax(got) == np.argmax(exact) == 3  # "superb" first in both
    assert np.abs(got - exact).max() < 0.05 * np.abs(exact).max()  # measured: 0.012 of 0.385


def test_seeded_and_max_evals_bounds_the_cost(model) -> None:
    from dlcore.explain import estimate, explain

    text = "a very fine film with great acting and a lovely plot"  # 11 words: a full tree needs up to 112
    a, b = (explain(model, text, "shap", seed=3, target="all") for _ in range(2))
    assert a.values.shape == (1, 10, 2) and np.array_equal(a.values, b.values)
    small = explain(model, text, "shap", seed=3, max_evals=20)
    assert small.model_rows <= 21 and estimate(model, text, "shap", max_evals=20).model_rows == 21
    assert np.abs(small.additivity_gap()).max() < 1e-5  # fewer evaluations: coarser, still adds up
    seen = []
    explain(model, text, "shap", progress=lambda f, t: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_text_shap_goes_through_the_trust_checks_and_the_highlighted_view(model) -> None:
    from dlcore import plots
    from dlcore.explain import explain
    from dlcore.explain.report import check

    text = TEXTS[0]
    attr = explain(model, text, "shap", seed=0)
    lime = explain(model, text, "lime", seed=0, num_samples=500, target=int(attr.targets[0]))

    def explain_fn(m, rows):
        return explain(m, rows, "shap", seed=0, target=int(attr.targets[0])).row(0).class_values()[0]

    report = check(model, attr, others={"LIME": lime}, explain_fn=explain_fn)
    print(report.deletion.auc, report.deletion.random_auc, report.agreement_figure(), report.randomisation.passes)
    assert report.deletion.baseline == "removed" and report.deletion.parts == 6
    assert report.deletion.auc < report.deletion.random_auc and report.agreement_figure() > 0.3
    assert report.randomisation is not None
    fig = plots.text_highlight(attr, 0)
    weights = dict(zip(attr.feature_names, attr.flat()[0]))
    assert [w for _, w in fig.data[0].customdata] == pytest.approx([weights[w] for w in text.split()])
