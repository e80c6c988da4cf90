"""What the capped child costs an import: ``import_model`` (checks, load and checks in a capped child process,
then load and store here) against the same steps all in this process (checks, load, shape checks, store),
timed alternately in one process on three files: a small MLP, the digits CNN and a text model.

Run from the project root: ``python bench/import_check.py [--repeats N]``. The last line is one JSON object
with the median seconds and the ratio per file.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def model_files(folder: Path) -> dict[str, Path]:
    """A small MLP, the digits CNN and a text model (untrained: only their size matters), as .keras files."""
    import keras

    from dlcore.data import load_builtin, load_dataset
    from dlcore.models import ModelSpec, build_model

    sys.path.insert(0, str(ROOT))
    from tests.text_support import write_reviews

    texts = load_dataset(str(write_reviews(folder / "reviews.csv")))
    models = {"mlp (iris)": build_model(ModelSpec(arch="mlp"), load_builtin("iris")),
              "cnn (digits)": build_model(ModelSpec(arch="cnn"), load_builtin("digits")),
              "text (reviews)": build_model(ModelSpec(arch="text"), texts)}
    out = {}
    for name, model in models.items():
        out[name] = folder / f"{name.split()[0]}.keras"
        model.save(out[name])
    keras.backend.clear_session()
    return out


def in_process(path: Path, root: Path) -> Any:
    """The same checks with no child: config checks, load, shape checks, store."""
    from dlcore.importer import load_checked, model_meta
    from dlcore.safe_import import check_model_file
    from dlcore.store import ModelStore

    info = check_model_file(path)
    model = load_checked(path, path.name)
    return ModelStore(root).save(model, {"arch": "imported", **model_meta(model, info["config"], path.name)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from dlcore.importer import import_model

    folder, root = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    result: dict[str, Any] = {}
    for name, path in model_files(folder).items():
        steps: dict[str, Callable[[], Any]] = {"in process": lambda path=path: in_process(path, root),
                                               "capped child": lambda path=path: import_model(path, root)}
        times: dict[str, list[float]] = {k: [] for k in steps}
        for fn in steps.values():
            fn()  # warm: imports, Keras' first load
        for _ in range(args.repeats):
            for key, fn in steps.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        result[name] = {**{k: round(v, 3) for k, v in med.items()},
                        "ratio": round(med["capped child"] / med["in process"], 1)}
        print(f"{name:15s} in process {med['in process']:.2f} s, with the capped child {med['capped child']:.2f} s "
              f"({result[name]['ratio']}x, {args.repeats} runs each)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
