"""Upload preview vs plain pandas: read + understand + summary statistics of a CSV, against ``pandas.read_csv``.

Run from the project root: ``python bench/upload_preview.py [FILE] [--target COL] [--repeats N]``
(default FILE: diamonds.csv from the shared data sets, target ``price``). Both are timed alternately in one
process; the last line is the ratio of the medians (goal: under 3x).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def preview(path: Path, target: str | None) -> int:
    """What the Data page computes for a table: read, understand every column, summary statistics."""
    from dlcore.data.readers import read_path
    from dlcore.data.upload import Choices, understand

    p = understand(read_path(path), Choices(target=target))
    p.statistics()
    return p.n_rows


def plain(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(ROOT.parent / "shared" / "datasets" / "diamonds.csv"))
    parser.add_argument("--target", default="price")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    path = Path(args.file)
    if not path.is_file():
        sys.exit(f"no file {path}; give the path of diamonds.csv (or another CSV)")
    assert preview(path, args.target) == plain(path)  # same rows; also warms imports and caches
    times: dict[str, list[float]] = {"pandas.read_csv": [], "dlcore preview": []}
    for _ in range(args.repeats):
        steps = (("pandas.read_csv", lambda: plain(path)), ("dlcore preview", lambda: preview(path, args.target)))
        for name, fn in steps:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, value in med.items():
        print(f"{name:16s} median {value * 1000:8.1f} ms over {args.repeats} runs")
    ratio = med["dlcore preview"] / med["pandas.read_csv"]
    print(f"{path.name}: preview / read_csv = {ratio:.2f}x (goal < 3x)")


if __name__ == "__main__":
    main()
