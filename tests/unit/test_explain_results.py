"""Attribution, trust figures and user inputs, on hand-made numbers (no model needed)."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from dlcore.errors import ExplainError
from dlcore.explain.attribution import Attribution
from dlcore.explain.trust import assess, mass_on_object, stability
from dlcore.record import ModelMeta


def tabular_attr(method: str = "shap", all_outputs: bool = True, seed: int = 0) -> Attribution:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    values = rng.normal(size=(6, 4, 3) if all_outputs else (6, 4))
    base = np.tile([0.2, 0.3, 0.5], (6, 1)) if all_outputs else np.full(6, 0.3)
    preds = rng.dirichlet(np.ones(3), size=6)
    return Attribution(values=values, base_values=base, inputs=x, predictions=preds, targets=preds.argmax(1),
                       method=method, algorithm="exact" if method == "shap" else "lime-tabular", seed=seed,
                       seconds=0.1, feature_names=("a", "b", "c", "d"), class_names=("x", "y", "z"),
                       background_size=10, local_fit=None if method == "shap" else np.full(6, 0.8),
                       local_pred=None if method == "shap" else preds.max(1) + 0.05)


def test_class_values_pick_each_rows_target_or_a_given_class() -> None:
    a = tabular_attr()
    assert a.all_outputs and a.class_values().shape == (6, 4)
    for i in range(6):
        assert np.array_equal(a.class_values()[i], a.values[i, :, a.targets[i]])
        assert a.class_base()[i] == a.base_values[i, a.targets[i]]
    assert np.array_equal(a.class_values(1), a.values[..., 1])
    gap = a.additivity_gap(2)
    assert np.allclose(gap, 0.5 + a.values[..., 2].sum(1) - a.predictions[:, 2])
    with pytest.raises(ExplainError, match="does not exist"):
        a.class_values(3)


def test_exports_carry_the_numbers() -> None:
    a = tabular_attr()
    frame = a.to_frame(1)
    assert list(frame.columns) == ["row", "class", "feature", "input", "attribution"] and len(frame) == 24
    assert np.allclose(frame["attribution"].to_numpy(), a.values[..., 1].ravel())
    assert np.allclose(frame["input"].to_numpy(), a.inputs.ravel())
    data = json.loads(json.dumps(a.to_dict()))
    assert data["method"] == "shap" and data["feature_names"] == ["a", "b", "c", "d"]
    assert np.allclose(data["rows"][2]["values"], a.class_values()[2])
    assert data["rows"][2]["additivity_gap"] == pytest.approx(float(a.additivity_gap()[2]))
    top = a.top_features(0, k=2)
    assert [t["feature"] for t in top] == [a.feature_names[j] for j in np.argsort(-np.abs(a.class_values()[0]))[:2]]


def test_one_row_keeps_that_rows_numbers() -> None:
    a = tabular_attr("lime")
    one = a.row(4)
    assert one.n_rows == 1 and np.array_equal(one.values[0], a.values[4]) and np.array_equal(one.inputs[0], a.inputs[4])
    assert one.targets[0] == a.targets[4] and one.local_fit[0] == a.local_fit[4] and one.segments is None
    assert one.top_features(0, 1) == a.top_features(4, 1)
    with pytest.raises(ExplainError, match="row 6 was not explained"):
        a.row(6)


def test_mass_on_object_and_stability() -> None:
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True
    values = np.zeros((4, 4, 1))
    values[0, 0], values[3, 3] = 3.0, -1.0
    share, area = mass_on_object(values, mask)
    assert share == pytest.approx(0.75) and area == pytest.approx(0.25)
    a, b = tabular_attr(seed=0), tabular_attr(seed=1)
    assert stability([a, a]) == 1.0
    assert -1.0 <= stability([a, b]) < 0.9


def test_assess_reports_what_applies() -> None:
    shap_trust = assess(tabular_attr("shap"), cls=0, reruns=[tabular_attr("shap")])
    assert shap_trust.max_gap is not None and shap_trust.stability == 1.0 and shap_trust.local_fit is None
    assert shap_trust.relative_gap == pytest.approx(shap_trust.max_gap)  # output range 1.0
    lime = tabular_attr("lime")
    lime_trust = assess(lime)
    assert lime_trust.max_gap is None and lime_trust.local_fit == pytest.approx(0.8)
    assert lime_trust.surrogate_miss == pytest.approx(0.05)
    checks = [r["check"] for r in lime_trust.rows()]
    assert checks == ["background", "LIME local fit"]


def _meta(kind: str) -> ModelMeta:
    from dlcore.data import load_builtin

    ds = load_builtin(kind)
    return ModelMeta(preprocessing=ds.preprocessing.to_dict(), feature_names=tuple(ds.feature_names))


def test_uploaded_image_goes_through_the_saved_preprocessing() -> None:
    from PIL import Image

    from dlcore.explain.inputs import MAX_IMAGE_BYTES, image_input

    picture = np.zeros((32, 32), dtype=np.uint8)
    picture[4:28, 12:20] = 255  # a bright vertical bar, like a "1", two 8x8 pixels wide
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    x = image_input(_meta("digits"), buffer.getvalue())
    assert x.shape == (1, 8, 8, 1) and x.dtype == np.float32
    assert x.max() > 0.9 and x[0, :, :2].max() < 0.05  # full brightness reaches 1, the margins stay dark
    inverted = image_input(_meta("digits"), buffer.getvalue(), invert=True)
    assert inverted[0, 0, 0, 0] > 0.9
    with pytest.raises(ExplainError, match="not an image"):
        image_input(_meta("digits"), b"not a picture")
    with pytest.raises(ExplainError, match="under 5 MB"):
        image_input(_meta("digits"), b"0" * (MAX_IMAGE_BYTES + 1))
    with pytest.raises(ExplainError, match="type a row"):
        image_input(_meta("wine"), buffer.getvalue())


def test_typed_row_goes_through_the_saved_preprocessing() -> None:
    from sklearn.datasets import load_wine

    from dlcore.data import load_builtin
    from dlcore.explain.inputs import row_fields, row_input

    meta, ds = _meta("wine"), load_builtin("wine")
    fields = row_fields(meta)
    assert [f["name"] for f in fields] == list(ds.feature_names)
    raw = load_wine().data[7]
    x = row_input(meta, {f["name"]: float(v) for f, v in zip(fields, raw)})
    assert x.shape == (1, 13) and np.allclose(x, ds.preprocessing.transform(raw[None]), atol=1e-6)
    means = row_input(meta, {f["name"]: f["default"] for f in fields})
    assert np.abs(means).max() < 1e-3  # the starting row is the training mean: zero after scaling
    with pytest.raises(ExplainError, match="give a value for every column"):
        row_input(meta, {"alcohol": 13.0})


def test_typed_row_of_an_uploaded_table_uses_raw_columns_and_known_categories(tmp_path) -> None:
    import pandas as pd

    from dlcore.data.upload import load_file
    from dlcore.explain.inputs import row_fields, row_input
    from tests.table_support import write_passengers

    ds = load_file(str(write_passengers(tmp_path / "passengers.csv")), "survived")
    meta = ModelMeta(preprocessing=ds.preprocessing.to_dict(), feature_names=tuple(ds.feature_names))
    fields = {f["name"]: f for f in row_fields(meta)}
    assert list(fields) == ["pclass", "sex", "age", "embarked", "alone", "fare"]
    assert fields["sex"]["options"] == ["female", "male"] and fields["sex"]["default"] == "female"
    assert fields["embarked"]["options"] == ["(missing)", "C", "Q", "S"] and fields["embarked"]["default"] == "C"
    assert fields["alone"]["default"] is False
    start = dict(zip(ds.feature_names, row_input(meta, {n: f["default"] for n, f in fields.items()})[0]))
    assert start["sex=female"] == 1 and start["sex=male"] == 0 and start["embarked=C"] == 1 and abs(start["age"]) < 1e-3
    raw = {"pclass": 1, "sex": "male", "age": 30.0, "embarked": "S", "alone": True, "fare": 80.0}
    assert np.allclose(row_input(meta, raw), ds.preprocessing.transform(pd.DataFrame([raw])))
    with pytest.raises(ExplainError,
                       match=r"embarked: 'Paris' is not a value the model was trained on; choose one of .*C, Q, S"):
        row_input(meta, {**raw, "embarked": "Paris"})


def test_a_text_model_refuses_a_table_and_a_table_model_refuses_texts() -> None:
    from types import SimpleNamespace

    table = SimpleNamespace(name="breast_cancer", modality="tabular", input_shape=(30,), n_outputs=2)
    texts = SimpleNamespace(name="reviews", modality="text", input_shape=(), n_outputs=2)
    text_model = ModelMeta(modality="text", output_shape=(2,))
    with pytest.raises(ExplainError, match="takes texts and 'breast_cancer' holds tabular data"):
        text_model.check_fits(table)
    with pytest.raises(ExplainError, match="takes numbers and 'reviews' holds text data"):
        ModelMeta(modality="tabular", input_shape=(30,), output_shape=(2,)).check_fits(texts)
    text_model.check_fits(texts)  # fits: no error
