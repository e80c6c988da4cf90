"""A text model file uploaded on the Models page is imported (said to take texts), then explained on the Explain
page with LIME on the words of a typed text, once the user picks a text data set to explain it with."""
from __future__ import annotations

from pathlib import Path

import pytest

from dlcore.store import ModelStore
from tests.app.conftest import charts_by_title, open_page
from tests.text_support import BAD, train_text_model, write_reviews

pytestmark = pytest.mark.slow


def test_an_uploaded_text_model_is_imported_and_explained_on_texts(home: Path, tmp_path: Path) -> None:
    from dlcore.data.stored import DatasetStore

    csv = write_reviews(tmp_path / "reviews.csv")
    DatasetStore(home).save("my_reviews", csv.read_bytes(), "reviews.csv")
    trained = train_text_model(home, "my_reviews")
    data = ModelStore(home).get(trained).model_file.read_bytes()
    ModelStore(home).delete(trained)  # the upload is the only model left

    at = open_page("models", timeout=300)
    at.text_input(key="models_upload_classes").set_value("down,up").run()
    at.file_uploader(key="models_upload").set_value(("reviews.keras", data, "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert any("imported 'reviews'" in s.value and "(classification; input: texts)" in s.value for s in at.success)
    (record,) = ModelStore(home).list()
    at.run()  # the page lists it now: its details say what it takes
    assert any("Imported from `reviews.keras`" in c.value and "input: texts, output (2,)" in c.value
               for c in at.caption)
    assert record.meta.modality == "text" and record.meta.class_names == ("down", "up")

    at.switch_page("app_pages/explain.py").run()
    assert not at.exception
    assert any("the model takes texts and 'digits' holds image data" in e.value for e in at.error)  # digits first
    at.selectbox(key="explain_data").set_value("my_reviews").run()
    assert not at.exception and not at.error and not at.warning  # the names given match the data set's
    methods = next(m for m in at.multiselect if m.key.startswith("explain_methods_"))
    assert "SHAP" in methods.options and methods.value == ["lime"]
    assert any(t.startswith("LIME weights for") for t in charts_by_title(at))  # validation row 0
    at.radio(key="explain_source").set_value("Type a text").run()
    at.text_area(key="explain_text").set_value("a boring and awful plot").run()
    assert not at.exception and not at.error and any("the model predicts **down**" in m.value for m in at.markdown)
    chart = next(s for t, s in charts_by_title(at).items() if t.startswith("Words for down"))
    weight = {word: value for word, value in chart["data"][0]["customdata"]}
    assert set(weight) == {"a", "boring", "and", "awful", "plot"} and max(weight, key=weight.get) in BAD


def test_outputs_named_otherwise_than_the_data_set_are_shown_in_the_models_names_with_a_warning() -> None:
    from dlcore.record import ModelMeta

    data = ("down", "up")
    named = ModelMeta(class_names=("neg", "pos"))
    assert named.output_names(data) == ("neg", "pos")
    assert named.naming_note("reviews", data).startswith(
        "The model names its outputs neg, pos; 'reviews' names its classes down, up.")
    assert "the same names in another order" in ModelMeta(class_names=("up", "down")).naming_note("reviews", data)
    for same in (("down", "up"), (), ("a", "b", "c")):  # matching, none, a wrong count
        meta = ModelMeta(class_names=same)
        assert meta.output_names(data) == ("down", "up") and meta.naming_note("reviews", data) is None
    assert ModelMeta().output_names(()) is None  # a regressor: no names
