"""How far to trust SHAP and LIME explanations, and what checking costs, measured side by side in one run.

On the shipped shapes CNN (``assets/base_shapes_cnn.keras``, ``shapes`` validation images, whose object masks
are known) and on a small MLP trained here on ``causes`` (a table whose true causes, f1, f4 and f8, are known),
each of N validation rows is explained with SHAP and with LIME (one explanation per row, seed 0, default
sample counts), then ``dlcore.explain.report.check`` runs the trust checks on it: deletion and insertion
curves against 20 random orders, the cascading randomisation check (the same method again on copies of the
model with the weighted layers re-initialised from the top), agreement with the other method's explanation
of the same row and class (already made, so it costs nothing more), the ground truth, and the verdict. No
seed reruns are made, so stability is left out of the verdicts here (``python -m dlcore trust`` runs them).

Reported per data set and method: deletion and insertion AUC against the random orders' mean (mean ratio)
and the share of rows beating every random order; the randomisation check's final
correlation (all weighted layers re-initialised), signed (which decides) and on |values|, and the share of
rows passing it; the SHAP-LIME rank correlation; the share of |attribution| on the ground truth against the
share a map without information gets, and precision at k; the verdict counts; and the cost: wall time of the
trust checks against the explanation itself in the same run, and the model rows of each.

Run: ``python bench/trust.py`` from the project root (``--images N --rows N`` for other row counts). It
prints a markdown table ready for the README; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("shap", "lime")


def shapes_cnn() -> tuple[Any, Any]:
    """The shipped shapes CNN and the ``shapes`` data set, split as it was trained."""
    import keras

    from dlcore.data import load_builtin

    return keras.saving.load_model(ROOT / "assets" / "base_shapes_cnn.keras", compile=False), load_builtin("shapes")


def causes_mlp(epochs: int = 5, seed: int = 0) -> tuple[Any, Any]:
    """A small MLP trained on ``causes`` (16 units), and the data set."""
    import keras

    from dlcore.data import load_builtin
    from dlcore.models import ModelSpec, TrainConfig, build_model, compile_model

    ds = load_builtin("causes")
    keras.utils.set_random_seed(seed)
    config = TrainConfig(data="causes", model=ModelSpec(units=(16,)), epochs=epochs, learning_rate=0.01)
    model = build_model(config.model, ds)
    compile_model(model, config, ds.task)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, ds


def names(ds: Any) -> dict[str, Any]:
    """The data set's feature and class names as ``explain`` options (the ground truth names its causes so)."""
    return {"feature_names": ds.feature_names, "class_names": ds.class_names}


def explain_row(model: Any, ds: Any, x: np.ndarray, method: str, seed: int) -> tuple[Any, float]:
    """One explanation of one input (batch of one) for its predicted class, and its wall time."""
    from dlcore.explain import explain

    t0 = time.perf_counter()
    attr = explain(model, x, method, ds.x_train, seed=seed, **names(ds))
    return attr, time.perf_counter() - t0


def trust_row(model: Any, ds: Any, attr: Any, other: Any, mask: Any, seed: int) -> tuple[Any, float, int]:
    """The trust checks of a one-row explanation (``other``: the other method's explanation of the same row),
    their wall time and the model rows they ran (curves and randomised explanations)."""
    from dlcore.explain import explain
    from dlcore.explain.report import check

    cls = int(attr.targets[0])
    rows = [0]

    def explain_fn(m: Any, x: Any) -> np.ndarray:
        again = explain(m, x, attr.method, ds.x_train, seed=seed, target=cls, **names(ds))
        rows[0] += again.model_rows
        return again.row(0).class_values(cls)

    others = {} if other is None else {other.method.upper(): other}
    t0 = time.perf_counter()
    report = check(model, attr, cls=cls, background=ds.x_train, others=others, explain_fn=explain_fn, mask=mask,
                   causes=tuple(getattr(ds, "causes", ())), seed=seed)
    return report, time.perf_counter() - t0, rows[0] + report.model_rows


def measure(model: Any, ds: Any, name: str, n: int, seed: int) -> list[dict[str, Any]]:
    """Explain and check the first ``n`` validation rows with each method; one dict per row and method."""
    warm = ds.x_train[:1]
    for method in METHODS:  # compile the predict steps and numba helpers once, as a running app has
        attr, _ = explain_row(model, ds, warm, method, seed)
        trust_row(model, ds, attr, None, None, seed)
    out = []
    for i in range(n):
        x = ds.x_val[i:i + 1]
        mask = None if getattr(ds, "masks_val", None) is None else ds.masks_val[i]
        made = {m: explain_row(model, ds, x, m, seed) for m in METHODS}
        for method in METHODS:
            attr, seconds = made[method]
            other = made["lime" if method == "shap" else "shap"][0]
            report, trust_s, trust_rows = trust_row(model, ds, attr, other, mask, seed)
            out.append({"data": name, "method": method, "row": i, "report": report, "explain_s": seconds,
                        "explain_rows": attr.model_rows, "trust_s": trust_s, "trust_rows": trust_rows})
        print(f"  {name} row {i + 1}/{n} done", file=sys.stderr, flush=True)
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one data set and method over its rows."""
    reports = [r["report"] for r in rows]
    d = [r.deletion for r in reports if r.deletion is not None]
    ins = [r.insertion for r in reports if r.insertion is not None]
    rnd = [r.randomisation for r in reports if r.randomisation is not None]
    truth = [r.ground_truth for r in reports if r.ground_truth is not None]
    agree = [r.agreement_figure() for r in reports if r.agreement is not None]

    def mean(values: list[float]) -> float:
        values = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    return {
        "data": rows[0]["data"], "method": rows[0]["method"], "rows": len(rows),
        "deletion_auc": mean([f.auc for f in d]), "deletion_random_auc": mean([f.random_auc for f in d]),
        "deletion_ratio": mean([f.ratio for f in d]), "deletion_beats": mean([float(f.beats_random) for f in d]),
        "insertion_auc": mean([f.auc for f in ins]), "insertion_random_auc": mean([f.random_auc for f in ins]),
        "insertion_ratio": mean([f.ratio for f in ins]),
        "insertion_beats": mean([float(f.beats_random) for f in ins]),
        "randomisation_final_signed": mean([r.final_signed for r in rnd]),
        "randomisation_final_abs": mean([r.final for r in rnd]),
        "randomisation_pass": mean([float(r.passes) for r in rnd]),
        "agreement_rho": mean(agree),
        "truth_kind": truth[0].kind if truth else "", "truth_share": mean([g.share for g in truth]),
        "truth_expected": mean([g.expected_share for g in truth]),
        "truth_precision": mean([g.precision_at_k for g in truth]), "truth_k": truth[0].k if truth else 0,
        "verdicts": dict(Counter(r.verdict.level for r in reports)),
        "failed": dict(Counter(f.check for r in reports for f in r.verdict.findings if f.status == "fail")),
        "warned": dict(Counter(f.check for r in reports for f in r.verdict.findings if f.status == "warn")),
        "explain_s": mean([r["explain_s"] for r in rows]), "trust_s": mean([r["trust_s"] for r in rows]),
        "explain_rows": mean([r["explain_rows"] for r in rows]), "trust_rows": mean([r["trust_rows"] for r in rows]),
    }


def counts(counter: dict[str, int]) -> str:
    """``name n, ...`` for a table cell; a dash when empty."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "-"


def markdown(summaries: list[dict[str, Any]]) -> str:
    """The figures as a markdown table, one column per data set and method."""
    heads = [f"{s['data']} {s['method'].upper()} ({s['rows']} rows)" for s in summaries]

    def line(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(s) for s in summaries) + " |"

    truth = "share of \\|attribution\\| on the truth (expected: their share)"
    lines = [
        "| | " + " | ".join(heads) + " |", "|---|" + "---|" * len(summaries),
        line("deletion AUC / random AUC (mean ratio)", lambda s: f"{s['deletion_auc']:.3f} / "
             f"{s['deletion_random_auc']:.3f} ({s['deletion_ratio']:.2f}x)"),
        line("insertion AUC / random AUC (mean ratio)", lambda s: f"{s['insertion_auc']:.3f} / "
             f"{s['insertion_random_auc']:.3f} ({s['insertion_ratio']:.2f}x)"),
        line("rows beating random: deletion, insertion",
             lambda s: f"{s['deletion_beats']:.0%}, {s['insertion_beats']:.0%}"),
        line("randomisation, all layers: rho signed (decides) / \\|values\\|",
             lambda s: f"{s['randomisation_final_signed']:.2f} / {s['randomisation_final_abs']:.2f}"),
        line("rows passing randomisation (signed rho < 0.5)", lambda s: f"{s['randomisation_pass']:.0%}"),
        line("agreement SHAP vs LIME, mean rho", lambda s: f"{s['agreement_rho']:.2f}"),
        line(truth, lambda s: f"{s['truth_share']:.0%} ({s['truth_expected']:.0%}) on the "
             f"{'causes' if s['truth_kind'] == 'causes' else 'object'}"),
        line("precision at k (k = true parts)", lambda s: f"{s['truth_precision']:.0%} (k = {s['truth_k']})"
             if s["truth_kind"] == "causes" else f"{s['truth_precision']:.0%} (k = object pixels)"),
        line("verdicts", lambda s: counts(s["verdicts"])),
        line("checks failed (rows)", lambda s: counts(s["failed"])),
        line("checks warning (rows)", lambda s: counts(s["warned"])),
        line("explanation: seconds, model rows", lambda s: f"{s['explain_s']:.2f}s, {s['explain_rows']:,.0f}"),
        line("trust checks: seconds, model rows", lambda s: f"{s['trust_s']:.2f}s, {s['trust_rows']:,.0f}"),
        line("trust checks / explanation: time, rows", lambda s: f"{s['trust_s'] / s['explain_s']:.1f}x, "
             f"{s['trust_rows'] / s['explain_rows']:.1f}x"),
    ]
    return "\n".join(lines)


def main() -> None:
    import warnings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="validation images of the shapes CNN")
    parser.add_argument("--rows", type=int, default=20, help="validation rows of the causes MLP")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices of the randomised copies
    from dlcore.cli import quiet_import_tensorflow

    quiet_import_tensorflow()
    t0 = time.perf_counter()
    rows = measure(*shapes_cnn(), "shapes CNN", args.images, args.seed)
    rows += measure(*causes_mlp(seed=args.seed), "causes MLP", args.rows, args.seed)
    summaries = [summarise([r for r in rows if (r["data"], r["method"]) == key])
                 for key in dict.fromkeys((r["data"], r["method"]) for r in rows)]
    print(markdown(summaries))
    print(f"\n{time.perf_counter() - t0:.0f}s in all; no seed reruns, so stability is not part of these verdicts")
    print(json.dumps([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in summaries]))


if __name__ == "__main__":
    main()
