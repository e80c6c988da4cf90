"""CSV uploads: messy but valid files load with the right values; bad ones give their one-line message."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from dlcore.data.limits import Limits
from dlcore.data.readers import read_bytes
from dlcore.data.upload import Choices, to_dataset, understand
from dlcore.errors import DataError

N = 40


def rows(n: int = N) -> list[tuple[str, float, str, str]]:
    """(town, price, ok, label): label follows price so a model can learn it; towns repeat."""
    towns = ["Zürich", "Genève", "Köln", "Malmö"]
    return [(towns[i % 4], 10.0 + i + 0.25, "yes" if i % 3 else "no", "high" if i >= n // 2 else "low")
            for i in range(n)]


def csv_text(sep: str = ",", decimal: str = ".", header: tuple[str, ...] = ("town", "price", "ok", "label")) -> str:
    lines = [sep.join(header)]
    for town, price, ok, label in rows():
        lines.append(sep.join([town, f"{price}".replace(".", decimal), ok, label]))
    return "\n".join(lines) + "\n"


def load(data: bytes, target: str = "label", **choices) -> tuple:
    raw = read_bytes(data, "upload.csv")
    preview = understand(raw, Choices(target=target, **choices))
    return raw, preview


def expected_prices() -> list[float]:
    return [r[1] for r in rows()]


# ---------------------------------------------------------------- messy but valid


@pytest.mark.parametrize("encoding,note", [("latin-1", "cp1252"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16")])
def test_other_encodings_and_non_ascii_names(encoding: str, note: str) -> None:
    text = csv_text(header=("ville", "prix_€" if encoding != "latin-1" else "prix_é", "öffnung", "label"))
    raw, preview = load(text.encode(encoding))
    assert note in raw.notes[0]
    assert list(raw.frame.columns)[:3] == ["ville", "prix_€" if encoding != "latin-1" else "prix_é", "öffnung"]
    assert raw.frame["ville"].tolist()[:4] == ["Zürich", "Genève", "Köln", "Malmö"]
    assert np.allclose(raw.frame.iloc[:, 1], expected_prices())
    assert preview.class_counts() == {"high": 20, "low": 20}


@pytest.mark.parametrize("sep,decimal", [(";", "."), ("\t", "."), (";", ",")])
def test_semicolon_and_tab_delimiters_and_decimal_commas(sep: str, decimal: str) -> None:
    raw, preview = load(csv_text(sep, decimal).encode())
    assert raw.notes[0].endswith(f"delimiter {sep!r}, decimal mark {decimal!r}")
    assert raw.frame["price"].dtype == np.float64
    assert np.allclose(raw.frame["price"], expected_prices())
    kinds = {c.name: c.kind for c in preview.columns}
    assert kinds == {"town": "categorical", "price": "numeric", "ok": "boolean"}


def test_quoted_fields_with_commas_and_newlines() -> None:
    lines = ["note,price,label"] + [f'"a, b\nline {i % 3}",{i},{"x" if i % 2 else "y"}' for i in range(N)]
    raw, preview = load("\n".join(lines).encode())
    assert raw.frame.shape == (N, 3)
    assert raw.frame["note"].iloc[4] == "a, b\nline 1"
    assert {c.name: c.kind for c in preview.columns}["note"] == "categorical"


def test_inf_and_empty_feature_cells_are_imputed_and_reported() -> None:
    lines = ["size,weight,label"] + [f"{'' if i == 3 else ('inf' if i == 5 else i)},{i * 2},{i % 2}" for i in range(N)]
    raw, preview = load("\n".join(lines).encode())
    size = next(c for c in preview.columns if c.name == "size")
    assert (size.missing, size.invalid) == (2, 1)
    assert "2 missing, 1 of them unreadable or infinite -> median" in preview.to_dict()["columns"][0]["action"]
    ds = to_dataset(raw, Choices(target="label"))
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    # the filled value is the training median, scaled like the rest of the column
    col = ds.preprocessing.params["columns"][0]
    again = ds.preprocessing.transform(pd.DataFrame({"size": [np.inf], "weight": [0.0]}))
    assert again[0, 0] == pytest.approx((col["fill"] - col["mean"]) / col["scale"], rel=1e-6)


@pytest.mark.parametrize("true,false", [("True", "False"), ("yes", "no"), ("Y", "N")])
def test_booleans_become_zero_one(true: str, false: str) -> None:
    lines = ["flag,amount,label"] + [f"{true if i % 2 else false},{i},{'a' if i < N // 2 else 'b'}" for i in range(N)]
    raw, preview = load("\n".join(lines).encode())
    assert {c.name: c.use for c in preview.columns}["flag"] == "boolean"
    ds = to_dataset(raw, Choices(target="label"))
    flags = ds.preprocessing.transform(raw.frame)[:, 0]
    assert flags.tolist() == [float(i % 2) for i in range(N)]


def test_dates_become_scaled_parts_and_ids_and_free_text_are_left_out() -> None:
    frame = pd.DataFrame({
        "id": range(1, N + 1),
        "when": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)],
        "comment": [f"customer number {i} wrote a long remark about item {i * 7}" for i in range(N)],
        "level": ["low", "medium", "high", "medium"] * (N // 4),
        "label": ["a", "b"] * (N // 2),
    })
    raw, preview = load(frame.to_csv(index=False).encode())
    by = {c.name: c for c in preview.columns}
    assert (by["id"].kind, by["id"].use) == ("id", None)
    assert (by["comment"].kind, by["comment"].use) == ("text", None)
    assert by["when"].use == "date" and by["level"].use == "ordinal" and by["level"].order == ("low", "medium", "high")
    ds = to_dataset(raw, Choices(target="label"))
    assert ds.feature_names == ("when.year", "when.month", "when.day", "when.weekday", "level")
    # ordinal codes keep the order: low < medium < high after scaling
    rows = pd.DataFrame({"when": ["2024-01-01"] * 3, "level": ["low", "medium", "high"]})
    codes = ds.preprocessing.transform(rows)[:, -1]
    assert codes[0] < codes[1] < codes[2]


def test_preprocessing_is_fitted_on_training_rows_and_turns_one_row_into_the_same_input() -> None:
    raw, _ = load(csv_text().encode())
    ds = to_dataset(raw, Choices(target="label"), validation_split=0.25, seed=3)
    assert ds.feature_names == ("town=Genève", "town=Köln", "town=Malmö", "town=Zürich", "price", "ok")
    price = ds.x_train[:, 4]
    assert abs(price.mean()) < 1e-5 and abs(price.std() - 1) < 1e-3  # scaled with training statistics only
    assert abs(ds.x_val[:, 4].mean()) > 1e-3
    frame = raw.frame.drop(columns="label")
    whole = ds.preprocessing.transform(frame)
    for i in (0, 7, 39):
        one = ds.preprocessing.transform(frame.iloc[[i]].astype(str))  # a single row typed in as text
        assert np.allclose(one[0], whole[i], atol=1e-6)
    assert sorted(map(tuple, whole.round(5))) == sorted(map(tuple, np.vstack([ds.x_train, ds.x_val]).round(5)))


def test_unseen_category_and_missing_column() -> None:
    raw, _ = load(csv_text().encode())
    ds = to_dataset(raw, Choices(target="label"))
    x = ds.preprocessing.transform(pd.DataFrame({"town": ["Paris"], "price": [12.0], "ok": ["yes"]}))
    assert x[0, :4].tolist() == [0, 0, 0, 0]  # an unseen town switches no one-hot input on
    with pytest.raises(DataError, match=r"lacks column\(s\) \['ok'\]"):
        ds.preprocessing.transform(pd.DataFrame({"town": ["Köln"], "price": [1.0]}))


def test_user_choices_exclude_include_and_order() -> None:
    raw, _ = load(csv_text().encode())
    towns = ("Malmö", "Köln", "Genève", "Zürich")
    preview = understand(raw, Choices(target="label", exclude=("ok",), ordinal={"town": towns}))
    assert preview.features == ("town", "price")
    assert next(c for c in preview.columns if c.name == "town").use == "ordinal"
    with pytest.raises(DataError, match=r"the order given for 'town' lacks 'Zürich'"):
        understand(raw, Choices(target="label", ordinal={"town": ("Malmö", "Köln", "Genève")}))
    with pytest.raises(DataError, match="no feature column 'nope'"):
        understand(raw, Choices(target="label", exclude=("nope",)))


def test_regression_target_and_a_column_that_copies_the_target() -> None:
    frame = pd.DataFrame({"x": np.arange(N) % 7, "y": np.arange(N) * 1.5 + 0.1, "answer": ["no", "yes"] * (N // 2)})
    frame["copy"] = frame["answer"].map({"no": "n", "yes": "y"}).str.upper()
    raw, preview = load(frame.to_csv(index=False).encode(), target="y")
    assert preview.task == "regression" and preview.y.dtype == np.float32
    raw, preview = load(frame.to_csv(index=False).encode(), target="answer")
    leak = next(c for c in preview.columns if c.name == "copy")
    assert leak.use is None and "copies the target 'answer'" in leak.note


# ---------------------------------------------------------------- bad input: one clear line each


def bad(data: bytes, match: str, target: str = "label", limits: Limits | None = None, **choices) -> None:
    with pytest.raises(DataError, match=match) as info:
        raw = read_bytes(data, "upload.csv", limits)
        understand(raw, Choices(target=target, **choices))
    assert "\n" not in str(info.value)


def test_empty_file() -> None:
    bad(b"", r"upload\.csv is empty \(0 bytes\)")


def test_only_a_header() -> None:
    bad(b"a,b,label\n", "has a header but no data rows")


def test_binary_content() -> None:
    bad(bytes(range(256)) * 40, "is not text")
    bad(b"PK\x03\x04" + bytes(100), "damaged ZIP")
    bad(b"\x89PNG\r\n\x1a\n" + bytes(100), "is a PNG image, not a CSV")


def test_ragged_rows() -> None:
    bad(b"a,b,label\n1,2,x\n3,4,y,5,6\n", r"line 3 has 5 fields where the header has 3")


def test_unclosed_quote() -> None:
    bad(b'a,b,label\n1,2,x\n3,"4,y\n', "quoted field is never closed")


def test_duplicate_column_names() -> None:
    bad(b"a,b,a,label\n1,2,3,x\n", r"duplicate column name\(s\) 'a'")


def test_target_that_does_not_exist() -> None:
    bad(csv_text().encode(), r"no column 'nope' to use as the target; the columns are 'town', 'price'", target="nope")


def test_target_with_one_class() -> None:
    bad(csv_text().replace("high", "low").encode(), r"target 'label' has a single class \('low'\)")


def test_class_with_a_single_row_is_dropped_with_a_warning() -> None:
    text = csv_text().replace("Genève,35.25,yes,high", "Genève,35.25,yes,rare")
    raw, preview = load(text.encode())
    assert preview.class_names == ("high", "low") and preview.n_rows == N - 1
    assert any("'rare' of 'label' have a single row: dropped" in w for w in preview.warnings)


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_inf_in_the_target(value: str) -> None:
    lines = ["a,label"] + [f"{i},{value if i == 6 else i * 0.5}" for i in range(N)]
    bad("\n".join(lines).encode(), r"target 'label' holds inf in 1 row\(s\) \(first: data row 7\)")


def test_nan_in_the_target_rows_are_left_out_and_said() -> None:
    lines = ["a,label"] + [f"{i % 5},{'' if i in (2, 9) else ('NaN' if i == 4 else i % 2)}" for i in range(N)]
    raw, preview = load("\n".join(lines).encode())
    assert preview.n_rows == N - 3
    assert preview.warnings == ("3 row(s) without a value in the target 'label' left out",)
    bad(b"a,label\n1,\n2,\n3,NaN\n", "target 'label' has no values")


def test_all_feature_columns_missing() -> None:
    bad(("a,b,label\n" + ",,x\n,,y\n" * 20).encode(), "every feature column is empty")


def test_every_feature_left_out() -> None:
    bad(csv_text().encode(), "no feature columns left", exclude=("town", "price", "ok"))


def test_too_few_rows_for_a_validation_split() -> None:
    bad(b"a,label\n1,x\n2,y\n3,x\n4,y\n",
        r"only 4 usable rows: at least 10 are needed to keep 20% for validation with 2 classes")


def test_more_columns_or_rows_than_the_caps() -> None:
    small = dataclasses.replace(Limits(), max_columns=3, max_rows=10)
    bad(csv_text().encode(), r"4 columns, above the cap of 3; drop columns or raise DLCORE_MAX_COLUMNS", limits=small)
    bad(csv_text(header=("town", "price", "ok", "label")).encode(), r"more than 10 rows.*DLCORE_MAX_ROWS",
        limits=dataclasses.replace(small, max_columns=10))
    bad(csv_text().encode(), r"above the 0\.0 MB upload cap; upload a smaller file or raise DLCORE_MAX_UPLOAD_MB",
        limits=dataclasses.replace(small, max_columns=10, max_rows=100, max_bytes=100))


def test_caps_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLCORE_MAX_ROWS", "12")
    monkeypatch.setenv("DLCORE_MAX_UPLOAD_MB", "0.5")
    limits = Limits.from_env()
    assert limits.max_rows == 12 and limits.max_bytes == 512 * 1024 and limits.max_columns == Limits().max_columns
    bad(csv_text().encode(), "more than 12 rows")
    monkeypatch.setenv("DLCORE_MAX_ROWS", "lots")
    with pytest.raises(DataError, match="DLCORE_MAX_ROWS='lots' is not a positive number"):
        Limits.from_env()


def test_regression_on_text_and_too_many_classes() -> None:
    bad(csv_text().encode(), "target 'town' is not numeric", target="town", task="regression")
    lines = ["a,label"] + [f"{i},{i * 1.37}" for i in range(300)]
    bad("\n".join(lines).encode(), "300 distinct values, too many classes", task="classification")


def test_a_recognised_order_can_be_turned_off() -> None:
    lines = ["level,n,label"] + [f"{['low', 'medium', 'high'][i % 3]},{i % 5},{i % 2}" for i in range(N)]
    raw, preview = load("\n".join(lines).encode())
    assert next(c for c in preview.columns if c.name == "level").use == "ordinal"
    ds = to_dataset(raw, Choices(target="label", ordinal={"level": ()}))
    assert ds.feature_names == ("level=high", "level=low", "level=medium", "n")
