"""The Data page: upload a CSV and a ZIP, see what was understood, keep, list and delete; bad files only say why."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dlcore.data import load_dataset
from dlcore.data.stored import DatasetStore

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "data.py")


def shop_csv(n: int = 40) -> bytes:
    lines = ["customer_id,colour,size,when,label"] + [
        f"C{1000 + i},{'red' if i % 3 else 'blue'},{'' if i == 5 else i % 9},2024-03-{1 + i % 28:02d},"
        f"{'big' if i % 2 else 'small'}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def pictures_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, cls in enumerate(("night", "day")):
            for i in range(8):
                img = io.BytesIO()
                Image.fromarray(np.full((16, 16, 3), 30 + 180 * k + i, dtype=np.uint8)).save(img, "PNG")
                zf.writestr(f"sky/{cls}/{i}.png", img.getvalue())
        zf.writestr("sky/notes.txt", "not a picture")
    return buf.getvalue()


@pytest.fixture()
def page(home: Path) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception
    return at


def test_upload_a_csv_see_what_was_understood_keep_and_delete(page: AppTest, home: Path) -> None:
    page.file_uploader(key="upload").set_value(("shop.csv", shop_csv(), "text/csv")).run()
    assert not page.exception and not page.error
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Rows used"] == "40" and metrics["Task"] == "classification" and metrics["Features"] == "3"
    assert page.selectbox(key=next(k for k in _keys(page) if k.startswith("target_"))).value == "label"
    table = page.dataframe[0].value
    by = dict(zip(table["column"], table["what will be done"]))
    assert by["customer_id"].startswith("left out: looks like an ID")
    assert by["size"] == "standard scaling; 1 missing -> median" and by["when"].startswith("year, month, day")
    assert {c.key.split("_")[0] for c in page.get("plotly_chart") if "_" in c.key} == {"balance", "hist"}
    page.text_input[0].set_value("shop").run()
    page.button[0].click().run()  # the form's "Keep this data set"
    assert not page.exception and "Kept as `shop`" in page.success[0].value
    assert DatasetStore(home).names() == ["shop"]
    kept = load_dataset("shop")  # the default choices: the ID column stays out
    assert kept.class_names == ("big", "small") and not any(n.startswith("customer_id") for n in kept.feature_names)
    assert kept.feature_names[:2] == ("colour=blue", "colour=red")

    fresh = AppTest.from_file(PAGE, default_timeout=90)  # a reload: the kept upload is listed
    fresh.run()
    assert list(fresh.dataframe[0].value["name"]) == ["shop"]
    assert "shop" in fresh.selectbox(key="data_ref").options  # and offered wherever data is chosen
    fresh.button(key="delete_shop").click().run()
    assert not fresh.exception and DatasetStore(home).names() == []


def test_upload_a_zip_of_class_folders(page: AppTest) -> None:
    page.file_uploader(key="upload").set_value(("sky.zip", pictures_zip(), "application/zip")).run()
    assert not page.exception and not page.error
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Rows used"] == "16" and metrics["Features"] == "16 x 16 x 3"
    assert any("1 non-image file(s) skipped: sky/notes.txt" in w.value for w in page.warning)
    charts = {c.key.split("_")[0] for c in page.get("plotly_chart") if "_" in c.key}
    assert charts == {"balance", "images"}  # class balance and the sample image grid


def test_a_bad_file_shows_one_error_and_the_page_keeps_running(page: AppTest) -> None:
    page.file_uploader(key="upload").set_value(("bad.csv", b"a,a,label\n1,2,x\n", "text/csv")).run()
    assert not page.exception
    assert [e.value for e in page.error] == [
        "duplicate column name(s) 'a'; give every column a distinct name in the header"]


def _keys(at: AppTest) -> list[str]:
    return [w.key for w in at.selectbox if w.key]


def test_column_choices_change_what_is_used(page: AppTest) -> None:
    page.file_uploader(key="upload").set_value(("shop.csv", shop_csv(), "text/csv")).run()
    left_out = next(w for w in page.multiselect if w.label == "Columns left out")
    assert left_out.value == ["customer_id"]
    left_out.set_value(["customer_id", "when"]).run()
    assert not page.exception and {m.label: m.value for m in page.metric}["Features"] == "2"
    table = page.dataframe[0].value
    assert dict(zip(table["column"], table["what will be done"]))["when"] == "left out by your choice"


def test_kept_texts_are_offered_on_the_train_page_with_the_text_model(home: Path) -> None:
    lines = ["review,verdict"] + [f"{'a fine good film' if i % 2 else 'a dull poor plot'} number {i},{i % 2}"
                                 for i in range(30)]
    DatasetStore(home).save("my_reviews", "\n".join(lines).encode(), "reviews.csv")
    at = AppTest.from_file(str(Path(PAGE).with_name("train.py")), default_timeout=90)
    at.run()
    at.selectbox(key="train_ref").select("my_reviews").run()
    assert not at.exception
    box = at.selectbox[1]
    assert box.label == "Architecture" and box.options == ["text", "rnn", "transformer"] and box.value == "text"


def test_an_order_given_on_the_page_encodes_a_column_as_ordinal(page: AppTest) -> None:
    lines = ["grade,hours,label"] + [f"{['B', 'A', 'C'][i % 3]},{i % 7},{'pass' if i % 2 else 'fail'}"
                                     for i in range(40)]
    page.file_uploader(key="upload").set_value(("grades.csv", "\n".join(lines).encode(), "text/csv")).run()
    ordered = next(w for w in page.multiselect if w.label == "Columns whose categories have an order")
    ordered.set_value(["grade"]).run()
    order = next(w for w in page.text_input if w.label == "Order of grade, lowest first")
    assert order.value == "A, B, C"
    order.set_value("C, B, A").run()
    table = page.dataframe[0].value
    assert dict(zip(table["column"], table["what will be done"]))["grade"] == "ordinal (C < B < A), scaled"
    order.set_value("C, B").run()
    assert [e.value for e in page.error] == [
        "the order given for 'grade' lacks 'A'; list every category once, lowest first"]


def test_an_array_of_two_axes_per_row_is_read_as_the_user_says_and_kept_so(page: AppTest, home: Path) -> None:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, x=rng.normal(size=(40, 12, 9)), y=np.repeat(["low", "high"], 20))
    page.file_uploader(key="upload").set_value(("signals.npz", buf.getvalue(), "application/octet-stream")).run()
    read_as = next(r for r in page.radio if r.label == "Read x as")
    assert read_as.value == "image" and {m.label: m.value for m in page.metric}["Data"] == "image"
    read_as.set_value("sequence").run()
    assert not page.exception and not page.error and {m.label: m.value for m in page.metric}["Data"] == "sequence"
    page.text_input[0].set_value("signals").run()
    page.button[0].click().run()
    assert not page.exception and load_dataset("signals").input_shape == (12, 9)  # kept as sequences


def people_csv(n: int = 120) -> bytes:
    rng = np.random.default_rng(0)
    lines = ["income,Gender,age,approved"] + [
        f"{rng.normal(50, 10):.1f},{'' if i == 7 else ('f' if i % 2 else 'm')},{18 + i % 60},"
        f"{'yes' if (i % 2 == 0 and i % 3) or i % 7 == 0 else 'no'}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def test_sensitive_columns_are_suggested_left_out_shown_by_group_and_kept(page: AppTest, home: Path) -> None:
    page.file_uploader(key="upload").set_value(("people.csv", people_csv(), "text/csv")).run()
    assert not page.exception and not page.error
    chosen = next(m for m in page.multiselect if m.label == "Sensitive columns")
    assert chosen.value == ["Gender", "age"]  # suggested by their names
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Features"] == "1"  # income; the sensitive columns are kept out of the inputs
    assert any("Sensitive columns" == s.value for s in page.subheader)
    assert any("'yes' is" in w.value for w in page.warning)  # the label rate differs across genders
    assert any("shown in 4 bands" in c.value for c in page.caption)  # age has 60 values
    page.text_input[0].set_value("people").run()
    page.button[0].click().run()
    assert not page.exception and not page.error
    ds = load_dataset("people")
    assert ds.sensitive == ("Gender", "age") and ds.feature_names == ("income",)
    assert None in set(ds.sensitive_train["Gender"]) | set(ds.sensitive_val["Gender"])  # a missing value is kept
