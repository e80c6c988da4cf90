"""Text models are explained with LIME's text explainer (words switched off, model called in large batches,
seeded), drawn as word weights and the highlighted text, from Python and the command line; SHAP is refused
in one line; and a text model is fine-tuned only on texts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dlcore.errors import ExplainError, ModelError
from tests.text_support import BAD, GOOD, train_text_model, write_reviews
from tests.unit.test_explain import CountingModel


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("text_home")
    path = write_reviews(home / "reviews.csv")
    model_id = train_text_model(home, str(path))
    from dlcore.store import ModelStore

    return {"home": home, "path": path, "id": model_id, "model": ModelStore(home).load(model_id)}


def test_lime_weighs_each_word_and_the_verdict_words_weigh_most(text_model) -> None:
    from dlcore.explain import explain

    texts = ["the plot was superb and lovely", "a dull film and a boring plot"]
    spy = CountingModel(text_model["model"])
    attr = explain(spy, texts, "lime", seed=0, num_samples=1000, class_names=["down", "up"])
    assert attr.algorithm == "lime-text" and attr.texts == tuple(texts) and list(attr.targets) == [1, 0]
    assert attr.feature_names == ("the", "plot", "was", "superb", "and", "lovely", "a", "dull", "film", "boring")
    assert attr.inputs[1].tolist() == [0, 1, 0, 0, 1, 0, 2, 1, 1, 1]  # word counts: "a" twice in the second text
    assert [s for s in spy.sizes if s > 2] == [1000, 1000] and attr.model_rows == 2000
    for row, verdict in ((0, GOOD), (1, BAD)):
        top = [f["feature"] for f in attr.top_features(row, k=2)]
        assert set(top) <= set(verdict), top  # the words that decide are the ones LIME weighs most
        assert all(f["value"] > 0 for f in attr.top_features(row, k=2))  # ... for the predicted class
    assert np.all(attr.values[0][attr.inputs[0] == 0] == 0)  # words a text lacks carry no weight
    second = attr.row(1)  # one text alone has only its own words
    assert second.feature_names == ("plot", "and", "a", "dull", "film", "boring") and second.texts == (texts[1],)
    assert np.array_equal(second.flat()[0], attr.flat()[1][attr.inputs[1] > 0])
    assert 0 < attr.local_fit.min() <= attr.local_fit.max() <= 1


def test_same_seed_same_weights_other_seed_other_weights(text_model) -> None:
    from dlcore.explain import explain

    model, text = text_model["model"], "a very fine film with great acting"
    a, b = (explain(model, text, "lime", seed=3, num_samples=600, target="all") for _ in range(2))
    c = explain(model, text, "lime", seed=4, num_samples=600, target="all")
    assert a.values.shape == (1, 7, 2) and np.array_equal(a.values, b.values) and not np.allclose(a.values, c.values)


def test_empty_texts_are_refused_with_the_fix(text_model) -> None:
    from dlcore.explain import estimate, explain

    with pytest.raises(ExplainError, match="no words"):
        explain(text_model["model"], "  ...  ", "shap")
    with pytest.raises(ExplainError, match="no words"):
        explain(text_model["model"], "  ...  ", "lime")
    assert estimate(text_model["model"], ["good film", "bad"], "lime").model_rows == 10_000


def test_the_highlighted_text_carries_each_words_weight(text_model) -> None:
    from dlcore import plots
    from dlcore.explain import explain

    text = "superb acting, but the plot was dull and the film quite boring"
    attr = explain(text_model["model"], text, "lime", seed=0, num_samples=800, target="all")
    fig = plots.text_highlight(attr, 0, 1, width=20)
    words = text.replace(",", "").split()
    assert [a.text for a in fig.layout.annotations] == words
    weights = dict(zip(attr.feature_names, attr.class_values(1)[0]))
    assert [w for _, w in fig.data[0].customdata] == pytest.approx([weights[w] for w in words])
    assert max(fig.data[0].y) == 0 and min(fig.data[0].y) < -1  # wrapped at 20 characters
    assert fig.layout.annotations[0].bgcolor.startswith("rgba(214,39,61")  # "superb" raises "up": red
    bar = plots.lime_weights(attr, 0, 1)
    assert set(bar.data[0].y) <= set(attr.feature_names) and "boring" in bar.data[0].y


def test_command_line_explains_a_text_row_with_lime_and_shap(text_model, monkeypatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from dlcore.__main__ import main

    monkeypatch.setenv("DLCORE_HOME", str(text_model["home"]))
    argv = ["explain", "--model", text_model["id"], "--method", "lime", "--samples", "500", "--index", "2"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["algorithm"] == "lime-text" and out["true"] in ("up", "down") and out["trust"]["local_fit"] > 0
    assert out["top_features"][0]["feature"] in (GOOD if out["true"] == "up" else BAD)
    assert main(["explain", "--model", text_model["id"], "--index", "2", "--samples", "60", "--json"]) == 0  # SHAP
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["algorithm"] == "partition-text" and out["top_features"][0]["feature"] in GOOD + BAD


def test_a_text_base_fine_tunes_on_texts_only(text_model, monkeypatch) -> None:
    from dlcore.data import load_dataset
    from dlcore.finetune import build_plan
    from dlcore.models.spec import FineTuneSpec

    monkeypatch.setenv("DLCORE_HOME", str(text_model["home"]))
    spec = FineTuneSpec(base=text_model["id"])
    with pytest.raises(ModelError,
                       match="the base takes texts and 'iris' holds a table; .* choose a base trained on a table"):
        build_plan(spec, load_dataset("iris"))
    reviews = load_dataset(str(write_reviews(text_model["home"] / "more.csv", n=60, seed=1)))
    plan = build_plan(spec, reviews, text_model["home"])
    assert plan.head == "kept"
    texts = reviews.x_val[:8]  # the adapted model reads words with the base's own vocabulary
    assert np.allclose(plan.model.predict_on_batch(texts), text_model["model"].predict_on_batch(texts), atol=1e-6)


def test_texts_without_words_get_finite_predictions(text_model) -> None:
    """LIME removes every word from some samples; the model's word average would be 0/0 on them."""
    from dlcore.explain.plan import BatchedPredict

    out = BatchedPredict(text_model["model"])(np.array(["", "  ,. ", "good film"], dtype=object))
    assert out.shape[0] == 3 and np.isfinite(out).all()
