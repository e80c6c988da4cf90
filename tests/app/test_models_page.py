"""Models page: filter, compare two models' curves and metrics, import a file (safe or refused), delete."""
from __future__ import annotations

import json
from pathlib import Path

import keras
from streamlit.testing.v1 import AppTest

from dlcore.data import load_builtin
from dlcore.models import ModelSpec, build_model
from dlcore.store import ModelStore

TIMEOUT = 120
PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "models.py")


def _store_two(home: Path) -> list[str]:
    iris = load_builtin("iris")
    ids = []
    for i, name in enumerate(("small mlp", "wide mlp")):
        model = build_model(ModelSpec(units=(4 * (i + 1),)), iris)
        history = [{"epoch": e, "loss": 1.0 / e + i, "val_loss": 1.1 / e + i, "val_accuracy": 0.5 + 0.1 * e,
                    "seconds": 0.25, "time": 1.7e9 + e} for e in (1, 2, 3)]  # as a training job writes them
        final = {k: v for k, v in history[-1].items() if k not in ("seconds", "time")}
        ids.append(ModelStore(home).save(model, {"name": name, "arch": "mlp", "dataset": {"name": "iris"},
                                                 "history": history, "metrics": final}).model_id)
    return ids


def _overlay(at: AppTest) -> tuple[str, int]:
    """Title and number of lines of the comparison chart."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = (spec["layout"].get("title") or {}).get("text", "")
        if title.endswith("by epoch"):
            return title, len(spec["data"])
    return "", 0


def test_empty_store_invites_to_train_or_import(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("No models yet" in i.value for i in at.info)


def test_filter_compare_and_delete(home: Path) -> None:
    ids = _store_two(home)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    assert sorted(at.multiselect(key="compare_ids").value) == sorted(ids)
    assert _overlay(at) == ("val_accuracy by epoch", 2)
    assert at.selectbox(key="compare_metric").options == ["val_accuracy", "val_loss", "loss"]  # never time
    at.selectbox(key="compare_metric").set_value("val_loss").run()
    assert _overlay(at) == ("val_loss by epoch", 2)
    at.text_input(key="models_filter").set_value("wide").run()
    assert list(at.dataframe[0].value["name"]) == ["wide mlp"]
    at.text_input(key="models_filter").set_value("").run()
    target = at.selectbox(key="model_one").value
    at.button(key=f"del_{target}").click().run()
    assert not at.exception
    assert [r.model_id for r in ModelStore(home).list()] == [i for i in ids if i != target]


def test_upload_goes_through_the_safe_importer(home: Path, tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    good = tmp_path / "good.keras"
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs)).save(good)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    legacy = b"\x89HDF\r\n\x1a\n" + bytes(64)
    at.file_uploader(key="models_upload").set_value(("legacy.h5", legacy, "application/octet-stream")).run()
    assert not at.exception
    assert any("refused legacy.h5" in e.value and "model.save('model.keras')" in e.value for e in at.error)
    assert ModelStore(home).list() == []
    at.file_uploader(key="models_upload").set_value(("good.keras", good.read_bytes(), "application/octet-stream")).run()
    assert not at.exception
    assert any("imported 'good'" in s.value for s in at.success)
    (record,) = ModelStore(home).list()
    assert record.meta.imported.file == "good.keras" and record.meta.task == "classification"


def test_the_pair_compared_first_shares_curves_with_the_newest() -> None:
    from types import SimpleNamespace

    from dlcore.record import ModelMeta
    from ui.models import default_pair

    def record(i: str, data: str, *curves: str,
               kept: tuple[str, ...] = ("epoch", "seconds", "time")) -> SimpleNamespace:
        history = [dict.fromkeys((*kept, *curves), 0.5)]
        meta = ModelMeta.from_dict({"id": i, "config": {"data": data}, "history": history})
        return SimpleNamespace(model_id=i, meta=meta)

    mlp_titanic = record("a", "titanic", "loss", "val_accuracy")
    gan = record("b", "digits", "d_loss", "g_loss")
    cnn_digits = record("c", "digits", "loss", "val_accuracy")
    mlp_titanic_old = record("d", "titanic", "loss", "val_accuracy")
    assert default_pair([mlp_titanic, gan, cnn_digits, mlp_titanic_old]) == ["a", "d"]  # same curves and data
    assert default_pair([mlp_titanic, gan, cnn_digits]) == ["a", "c"]  # same curves
    vae = record("e", "digits", "loss", "kl_loss")
    assert default_pair([cnn_digits, vae, mlp_titanic]) == ["c", "a"]  # more curves in common beats the data
    assert default_pair([gan, mlp_titanic]) == ["b", "a"] and default_pair([gan]) == ["b"]  # nothing alike: the next
    # the wall-clock time is not a curve: a model with nothing but epoch, seconds and time shares no curve, so one
    # on another data set that shares the loss (and was stored before rows had a time) comes first
    first, bare = record("g", "digits", "loss"), record("h", "digits")
    old = record("i", "titanic", "loss", kept=("epoch",))
    assert default_pair([first, bare, old]) == ["g", "i"]
