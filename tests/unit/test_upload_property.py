"""Property: any generated CSV (random types, gaps, odd names, unicode, delimiters, encodings) either becomes a
valid Dataset or raises DataError; no other exception escapes."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcore.data.readers import read_bytes
from dlcore.data.upload import Choices, to_dataset
from dlcore.errors import DataError

NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8) | st.sampled_from(
    ["id", "name", "label", "target", "größe", "价格", " spaced ", "a,b", 'quo"te', ""])
CELLS = {
    "int": st.integers(-1000, 1000).map(str),
    "float": st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    "bool": st.sampled_from(["True", "False", "yes", "no", "Y", "n", "1", "0"]),
    "category": st.sampled_from(["red", "green", "blue", "Ünïcödé", "a b", "x;y", "z,w"]),
    "text": st.text(max_size=30),
    "date": st.dates().map(str),
}


@st.composite
def csv_files(draw) -> tuple[bytes, str | None, str | None]:
    n_cols = draw(st.integers(1, 6) if draw(st.integers(0, 9)) == 5 else st.integers(2, 6))
    n_rows = draw(st.integers(0, 12) if draw(st.integers(0, 9)) == 5 else st.integers(12, 60))
    names = draw(st.lists(NAMES, min_size=n_cols, max_size=n_cols, unique_by=str.strip))
    if draw(st.integers(0, 9)) == 5:
        names[-1] = names[0]  # now and then, a duplicate name
    kinds = [draw(st.sampled_from(sorted(CELLS))) for _ in range(n_cols)]
    if draw(st.integers(0, 3)):
        kinds[-1] = draw(st.sampled_from(["int", "bool", "category", "float"]))  # mostly a usable target
    missing = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.6]))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = []
    for _ in range(n_rows):
        row = []
        for kind in kinds:
            cell = "" if draw(st.floats(0, 1)) < missing else draw(CELLS[kind])
            if sep == ";" and kind == "float" and draw(st.booleans()):
                cell = cell.replace(".", ",")  # decimal commas
            row.append(cell)
        rows.append(row)
    quote = draw(st.booleans())
    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if quote or any(c in v for c in f'{sep}"\n\r') else v
    text = "\n".join(sep.join(field(v) for v in row) for row in [names, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 20)) == 5:
        data = draw(st.binary(max_size=200))  # now and then, not a CSV at all
    target = draw(st.sampled_from([None, names[-1], names[-1], *names]))
    task = draw(st.sampled_from([None, "classification", "regression"]))
    return data, target, task


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv_files())
def test_generated_csvs_load_or_raise_data_error(case: tuple[bytes, str | None, str | None]) -> None:
    data, target, task = case
    try:
        ds = to_dataset(read_bytes(data, "generated.csv"), Choices(target=target, task=task))
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert ds.n_train > 0 and ds.n_val > 0
    assert len(ds.y_train) == ds.n_train and len(ds.y_val) == ds.n_val
    if ds.modality == "text":
        assert ds.x_train.dtype == object and all(isinstance(t, str) for t in ds.x_train)
    else:
        assert ds.x_train.dtype == np.float32 and np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
        assert ds.x_train.shape[1] == len(ds.feature_names) > 0
    if ds.task == "classification":
        assert len(ds.class_names) >= 2
        assert set(np.unique(ds.y_train)) <= set(range(len(ds.class_names)))
    else:
        assert np.isfinite(ds.y_train).all() and np.isfinite(ds.y_val).all()
