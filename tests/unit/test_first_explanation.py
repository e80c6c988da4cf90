"""The first explanation on a fresh server: exact SHAP of a small table takes shap's KernelExplainer over every
coalition (nothing to compile) and equals shap's Exact explainer; the server's warm-up loads what the Explain
page needs without importing TensorFlow, after the first page has been drawn, and compiles only in a quiet moment."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table_model():
    """An 8-feature, 3-class Keras MLP (seeded weights), rows to explain and a background."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(2, 8)).astype(np.float32), rng.normal(size=(30, 8)).astype(np.float32)


def test_small_table_takes_the_kernel_over_every_coalition_and_equals_shaps_exact(table_model, monkeypatch) -> None:
    import shap

    from dlcore.explain import explain
    from dlcore.explain.plan import BatchedPredict
    from dlcore.explain.shap_explainer import exact_engine

    model, x, background = table_model
    assert exact_engine(8, 30) == "kernel" and exact_engine(12, 100) == "kernel" and exact_engine(13, 100) == "exact"
    kernels = []

    class Spy(shap.KernelExplainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            kernels.append(self)

    def refuse(*args, **kwargs):
        raise AssertionError("shap's Exact explainer (numba) was used for a small table")

    with monkeypatch.context() as patched:
        patched.setattr(shap, "KernelExplainer", Spy)
        patched.setattr(shap.explainers, "Exact", refuse)
        attr = explain(model, x, "shap", background, target="all", background_size=30)
    assert attr.algorithm == "exact" and attr.values.shape == (2, 8, 3) and attr.background_size == 30
    assert len(kernels) == 1 and kernels[0].nsamplesAdded == 2 ** 8 - 2  # every coalition, none sampled
    reference = shap.explainers.Exact(BatchedPredict(model), shap.maskers.Independent(background, max_samples=30))(
        x, silent=True)
    assert np.abs(attr.values - reference.values).max() <= 1e-6
    assert np.abs(attr.base_values - reference.base_values).max() <= 1e-6
    for k in range(3):
        assert np.abs(attr.additivity_gap(k)).max() <= 1e-6


def test_warm_up_fills_the_pages_cache_with_the_newest_models_data_without_tensorflow(tmp_path: Path) -> None:
    import keras

    from dlcore.models import ModelSpec, TrainConfig
    from dlcore.record import ModelMeta
    from dlcore.store import ModelStore

    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    ModelStore(tmp_path).save(model, ModelMeta(name="diabetes mlp", arch="mlp", task="regression",
                                               config=TrainConfig(data="diabetes", model=ModelSpec(units=(4,)))))
    code = ("import json, sys; import ui.cache as c; seen = []; load = c.load_dataset; "
            "c.load_dataset = lambda ref, **kw: seen.append(ref) or load(ref, **kw); "
            "from ui.explain import warm_up_server; warm_up_server(compile=False); "
            "tf = 'tensorflow' in sys.modules; warm = list(seen); (record,) = c.store().list(); "
            "c.dataset(*record.meta.data_key()); "
            "print(json.dumps({'tensorflow': tf, 'shap': 'shap' in sys.modules, 'loaded': warm, 'then': seen}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__("os").environ, "DLCORE_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"tensorflow": False, "shap": True,
                                                               "loaded": ["diabetes"], "then": ["diabetes"]}


def test_the_warm_up_compiles_only_once_no_page_has_been_drawn_for_a_while(monkeypatch) -> None:
    import threading
    import time
    from types import SimpleNamespace

    import dlcore.explain
    import ui.cache
    from ui.explain import ScriptRuns, warm_up_server

    calls: list[tuple[bool, float]] = []
    monkeypatch.setattr(dlcore.explain, "warm_up", lambda compile=True: calls.append((compile, time.monotonic())))
    monkeypatch.setattr(ui.cache, "store", lambda: SimpleNamespace(list=lambda: []))
    runs = ScriptRuns()
    with runs.running():
        thread = threading.Thread(target=warm_up_server, args=(True, runs, 0.4, 0.1), daemon=True)
        thread.start()
        time.sleep(0.6)
        assert calls == [] and runs.quiet_for() == 0.0  # nothing while the first page is drawn
        with pytest.raises(RuntimeError), runs.running():  # a page ending in an exception ends its run too
            raise RuntimeError("a page stopped early")
    ended = time.monotonic()
    thread.join(5)
    assert [c for c, _ in calls] == [False, True]  # the imports, then the compiling, each after its quiet time
    assert calls[0][1] - ended >= 0.1 and calls[1][1] - ended >= 0.4
