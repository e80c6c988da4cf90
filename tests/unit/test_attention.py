"""Attention maps and attention rollout: shapes, softmax rows, rollout against a hand computation, uniform
attention giving a uniform map, refusals, the cost plan and the head grid."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from dlcore.data import load_builtin
from dlcore.data.upload import load_file
from dlcore.errors import ExplainError
from dlcore.explain.attention import (
    ALL_NOTE,
    TRUST_NOTE,
    attention_maps,
    attention_plan,
    explain_attention,
    rollout,
    scores_model,
)
from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model
from dlcore.plots.attention import attention_heads, rollout_map

SPEC = ModelSpec(arch="transformer", seq_units=(16, 16), units=(16,), heads=2, patch=2)  # 16 patches of 2x2


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


@pytest.fixture(scope="module")
def model(digits) -> keras.Model:
    keras.utils.set_random_seed(0)
    m = build_model(SPEC, digits)
    compile_model(m, TrainConfig(data="digits", model=SPEC, learning_rate=3e-3), digits.task)
    m.fit(digits.x_train, digits.y_train, epochs=2, batch_size=32, verbose=0)
    accuracy = m.evaluate(digits.x_val, digits.y_val, verbose=0)[1]
    print(f"tiny transformer, 2 epochs on digits: validation accuracy {accuracy:.3f}")
    assert accuracy > 0.35  # well above chance (0.1): the attention has learnt something
    return m


@pytest.fixture(scope="module")
def x(digits) -> np.ndarray:
    return digits.x_val[:6]


def hand_rollout(weights: list[np.ndarray], row: int) -> np.ndarray:
    """Abnar and Zuidema's rollout written out for one input: 0.5 A + 0.5 I per layer, multiplied through."""
    t = weights[0].shape[-1]
    flow = np.eye(t)
    for w in weights:
        a = np.zeros((t, t))
        for h in range(w.shape[1]):
            a += w[row, h] / w.shape[1]
        flow = (0.5 * a + 0.5 * np.eye(t)) @ flow
    return flow


def test_maps_have_one_softmax_per_query_and_tokens_are_patches(model, x) -> None:
    maps = attention_maps(model, x)
    assert maps.layer_names == ("block1_attention", "block2_attention")
    assert [w.shape for w in maps.weights] == [(6, 2, 16, 16)] * 2
    for w in maps.weights:
        assert w.min() >= 0.0
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(maps.weights[0], 1 / 16, atol=1e-3)  # trained: not uniform
    tokens = maps.tokens
    assert tokens.kind == "patch" and len(tokens.labels) == len(tokens.boxes) == 16
    assert tokens.boxes[5] == (2, 2, 4, 4) and tokens.labels[5] == "patch 5 (rows 2-3, cols 2-3)"
    assert tokens.index.shape == (8, 8, 1)
    for i, (top, left, bottom, right) in enumerate(tokens.boxes):
        assert (tokens.index[top:bottom, left:right] == i).all()


def test_rollout_equals_a_hand_computed_rollout(model, x) -> None:
    maps = attention_maps(model, x)
    flow = rollout(maps)
    np.testing.assert_allclose(flow.sum(axis=-1), 1.0, atol=1e-6)
    for row in range(len(x)):
        np.testing.assert_allclose(flow[row], hand_rollout(list(maps.weights), row), atol=1e-6)


def test_the_attribution_is_the_mean_rollout_spread_over_each_patch(model, x) -> None:
    attr = explain_attention(model, x, seed=3, background_size=50)
    maps = attention_maps(model, x)
    assert (attr.method, attr.algorithm, attr.seed) == ("attention", "attention-rollout", 3)
    assert attr.values.shape == x.shape and (attr.values >= 0).all()
    assert np.array_equal(attr.base_values, np.zeros(6)) and TRUST_NOTE in attr.notes
    relevance = rollout(maps).mean(axis=1)  # the model mean-pools its tokens
    np.testing.assert_allclose(attr.values[3, 2:4, 6:8, 0], relevance[3, 7], atol=1e-6)  # patch 7: rows 2-3, cols 6-7
    np.testing.assert_allclose(attr.values.reshape(6, -1).sum(axis=1), 4.0, atol=1e-5)  # 4 pixels a patch
    np.testing.assert_allclose(attr.predictions, model.predict(x, verbose=0), atol=1e-5)
    assert list(attr.targets) == list(attr.predictions.argmax(axis=1))
    every = explain_attention(model, x, target="all")
    assert every.values.shape == (*x.shape, 10) and ALL_NOTE in every.notes
    np.testing.assert_allclose(every.values[..., 9], attr.values, atol=1e-9)
    assert every.base_values.shape == (6, 10)


def test_uniform_attention_gives_a_uniform_rollout(model, x) -> None:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    before = attention_maps(copy, x)  # builds and keeps the copy's scores model
    np.testing.assert_allclose(before.weights[1], attention_maps(model, x).weights[1], atol=1e-5)
    assert scores_model(copy) is scores_model(copy)
    for w in copy.weights:  # changed in place after the scores model was built: read as it is now
        if "/query/" in w.path or "/key/" in w.path:
            w.assign(np.zeros(w.shape, dtype="float32"))
    maps = attention_maps(copy, x)
    for w in maps.weights:
        np.testing.assert_allclose(w, 1 / 16, atol=1e-6)
    np.testing.assert_allclose(explain_attention(copy, x).values, 1 / 16, atol=1e-6)
    assert not np.allclose(attention_maps(model, x).weights[0], 1 / 16, atol=1e-3)  # the original is untouched


def test_a_cnn_is_refused_in_one_line(digits) -> None:
    cnn = build_model(ModelSpec(arch="cnn", filters=(4,), units=(8,)), digits)
    wanted = "attention maps need a model with attention layers; 'cnn' has none: use gradcam, ig or shap"
    for call in (lambda: attention_maps(cnn, digits.x_val[:2]), lambda: explain_attention(cnn, digits.x_val[:2]),
                 lambda: attention_plan(cnn, digits.x_val[:2])):
        with pytest.raises(ExplainError) as caught:
            call()
        assert str(caught.value) == wanted


def test_the_plan_counts_the_rows_run(model, x, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = attention_plan(model, x, target="all")
    run = []
    original = keras.Model.predict_on_batch

    def counted(self, batch):
        run.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counted)
    seen: list[float] = []
    attr = explain_attention(model, x, target="all", progress=lambda f, _: seen.append(f))
    assert plan.model_rows == sum(run) == attr.model_rows == 12 and plan.n_targets == 10
    assert (plan.method, plan.algorithm, plan.samples) == ("attention", "attention-rollout", 1)
    assert "12 model evaluations" in plan.describe() and seen[-1] == 1.0


def test_the_head_grid_has_a_map_per_layer_and_head(model, x) -> None:
    maps = attention_maps(model, x)
    every = attention_heads(maps, layer=None, row=2)
    titles = [a.text for a in every.layout.annotations]
    assert titles == ["layer 1 head 1", "layer 1 head 2", "layer 2 head 1", "layer 2 head 2"]
    assert len(every.data) == 4
    np.testing.assert_allclose(np.asarray(every.data[3].z), maps.weights[1][2, 1], atol=1e-9)
    one = attention_heads(maps, layer=1)
    assert [a.text for a in one.layout.annotations] == ["layer 2 head 1", "layer 2 head 2"]
    with pytest.raises(ValueError, match="layer 2 does not exist"):
        attention_heads(maps, layer=2)
    fig = rollout_map(explain_attention(model, x), row=1)
    heat = fig.data[-1]
    assert heat.zmin == 0.0 and np.asarray(heat.z).shape == (8, 8)


def test_rows_and_steps_are_tokens_too(digits, tmp_path: Path) -> None:
    rows = build_model(ModelSpec(arch="transformer", seq_units=(8,), units=(4,), heads=1), digits)
    maps = attention_maps(rows, digits.x_val[:2])
    assert maps.tokens.kind == "row" and maps.weights[0].shape == (2, 1, 8, 8)
    assert (maps.tokens.index[3] == 3).all() and maps.tokens.boxes[3] == (3, 0, 4, 8)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "s.npz", x=rng.normal(size=(30, 12, 2)).astype(np.float32), y=np.arange(30) % 3)
    ds = load_file(str(tmp_path / "s.npz"))
    steps = build_model(ModelSpec(arch="transformer", seq_units=(8,), units=(4,), heads=2), ds)
    attr = explain_attention(steps, ds.x_val[:2])
    assert attr.values.shape == (2, 12, 2) and np.allclose(attr.values[..., 0], attr.values[..., 1])
    np.testing.assert_allclose(attr.values[..., 0].sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(rollout_map(attr, row=1).data[-1].y), attr.values[1, :, 0], atol=1e-9)


def test_texts_get_one_relevance_per_word_and_padding_gets_none(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    filler = "the a was it very and then good".split()
    lines = ["text,topic"] + [f"{' '.join(rng.choice(filler, 5))} {w},{w}" for w in ("goal", "soup", "song") * 20]
    (tmp_path / "t.csv").write_text("\n".join(lines), encoding="utf-8")
    ds = load_file(str(tmp_path / "t.csv"))
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(arch="transformer", seq_units=(8,), units=(4,), heads=2), ds)
    texts = ["the soup was good and soup", "song"]
    maps = attention_maps(model, texts)
    assert maps.tokens.kind == "word" and maps.tokens.words[0][:6] == tuple(texts[0].split())
    assert maps.pooled[0].sum() == 6 and maps.pooled[1].sum() == 1
    assert np.abs(maps.weights[0][0, :, :, 6:]).max() < 1e-6  # nothing attends to padding
    attr = explain_attention(model, texts)
    assert attr.feature_names == ("the", "soup", "was", "good", "and", "song") and attr.texts == tuple(texts)
    np.testing.assert_allclose(attr.values.sum(axis=1), 1.0, atol=1e-6)
    assert attr.inputs[0, 1] == 2 and attr.values[1, 5] == pytest.approx(1.0, abs=1e-6)
    bars = rollout_map(attr, row=0).data[0]
    assert set(bars.y) == set(texts[0].split()) and sum(bars.x) == pytest.approx(1.0, abs=1e-6)
