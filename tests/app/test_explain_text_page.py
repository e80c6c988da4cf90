"""The Explain page on a text model trained on an uploaded CSV of texts: LIME first (SHAP and occlusion offered),
the highlighted text and the word weights for a validation row and for a typed text."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import charts_by_title
from tests.text_support import GOOD, train_text_model, write_reviews

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "explain.py")
pytestmark = pytest.mark.slow


def test_a_text_model_is_explained_with_lime_on_a_row_and_a_typed_text(home: Path, tmp_path: Path) -> None:
    from dlcore.data.stored import DatasetStore

    csv = write_reviews(tmp_path / "reviews.csv")
    DatasetStore(home).save("my_reviews", csv.read_bytes(), "reviews.csv")
    model_id = train_text_model(home, "my_reviews")
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="explain_model").value == model_id
    methods = next(m for m in at.multiselect if m.key.startswith("explain_methods_"))
    assert methods.value == ["lime"]  # the gradient methods do not apply to strings; SHAP and occlusion do
    assert [o for o in methods.options] == ["SHAP", "LIME", "Occlusion"]
    titles = list(charts_by_title(at))
    assert titles[0] == "Model output per class" and not any(t.startswith(("Why ", "Mean |SHAP")) for t in titles)
    assert any(t.startswith("Words for ") for t in titles) and any(t.startswith("LIME weights for") for t in titles)
    trust = at.table[0].value
    assert "LIME local fit" in trust.index and "removes words" in trust.loc["background", "reading"]

    at.radio(key="explain_source").set_value("Type a text").run()
    at.text_area(key="explain_text").set_value("the acting was superb").run()
    assert not at.exception and not at.error
    assert any("**typed text**" in m.value and "**up**" in m.value for m in at.markdown)
    words = next(s for t, s in charts_by_title(at).items() if t.startswith("Words for up"))
    assert [a["text"] for a in words["layout"]["annotations"]] == ["the", "acting", "was", "superb"]
    weights = dict((w, v) for w, v in words["data"][0]["customdata"])
    assert max(weights, key=weights.get) == "superb" and "superb" in GOOD
