"""``explain``: SHAP or LIME for one validation input of a stored model."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from dlcore.cli import add_json_flag, emit, table
from dlcore.errors import ExplainError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="explain one prediction of a stored model with SHAP or LIME")
    p.add_argument("--model", required=True, help="model id (see `python -m dlcore models`)")
    p.add_argument("--method", choices=("shap", "lime"), default="shap")
    p.add_argument("--index", type=int, default=0, help="row of the model's validation split")
    p.add_argument("--data", default=None,
                   help="a model imported without its training data: the data set (name or file) to explain it with")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--algorithm", default="auto", help="SHAP: auto, exact, permutation, partition, gradient, deep")
    p.add_argument("--samples", type=int, default=None,
                   help="SHAP: gradient samples or permutation evaluations; LIME: perturbed samples")
    p.add_argument("--top", type=int, default=10, help="features listed for people")
    p.add_argument("--stability", action="store_true",
                   help="also explain with seeds seed+1 and seed+2 and report how stable the ranking is")
    add_json_flag(p)
    p.set_defaults(handler=run)


def _bar(enabled: bool):
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", file=sys.stderr, dynamic_ncols=True, leave=False)

    def progress(fraction: float, text: str) -> None:
        bar.set_description(text, refresh=False)
        bar.update(max(0, round(fraction * 100) - bar.n))

    return bar, progress


def run(args: argparse.Namespace) -> int:
    from dlcore.explain import estimate, explain
    from dlcore.explain.inputs import model_dataset
    from dlcore.explain.trust import assess, rerun_seeds
    from dlcore.store import ModelStore

    store = ModelStore()
    record = store.get(args.model)
    if record.generative:
        raise ExplainError(f"model {args.model} is a {record.meta['arch'].upper()}: it draws images and makes no "
                           "predictions to explain; give --model a classifier or regressor (`python -m dlcore models`), "
                           f"or sample it with `python -m dlcore sample --model {args.model} --out FILE.png`")
    ds = model_dataset(record.meta, args.data)
    if not 0 <= args.index < ds.n_val:
        raise ExplainError(f"--index {args.index} is outside the validation split; choose 0 to {ds.n_val - 1}")
    model = store.load(args.model)
    x = ds.x_val[args.index:args.index + 1]
    options = _options(args, ds)
    plan = estimate(model, x, args.method, ds.x_train, **options)
    if not args.json:
        print(plan.describe(), file=sys.stderr)
    bar, progress = _bar(not args.json)
    try:
        attr = explain(model, x, args.method, ds.x_train, seed=args.seed, progress=progress, **options)
    finally:
        if bar is not None:
            bar.close()
    masks = None if ds.masks_val is None else ds.masks_val[args.index:args.index + 1]
    reruns = rerun_seeds(model, x, attr, ds.x_train, **options) if args.stability else []
    trust = assess(attr, masks=masks, reruns=reruns)
    result = {"model_id": args.model, "index": args.index, **attr.to_dict()["rows"][0],
              **attr.describe(), "feature_names": list(attr.feature_names), "true": _true_label(ds, args.index),
              "top_features": attr.top_features(0, k=args.top), "trust": asdict(trust)}
    emit(args, result, lambda r: _human(r, trust))
    return 0


def _options(args: argparse.Namespace, ds: Any) -> dict[str, Any]:
    """The explain() options the command's flags ask for."""
    options: dict[str, Any] = {"feature_names": ds.feature_names, "class_names": ds.class_names or None,
                               "target": "predicted" if args.target is None else args.target}
    if args.method == "shap":
        options.update(algorithm=args.algorithm, nsamples=args.samples, max_evals=args.samples)
    else:
        options.update(num_samples=args.samples)
    return options


def _true_label(ds: Any, index: int) -> Any:
    y = ds.y_val[index]
    return ds.class_names[int(y)] if ds.class_names else float(y)


def _human(r: dict[str, Any], trust: Any) -> str:
    head = (f"{r['method'].upper()} ({r['algorithm']}) for validation row {r['index']} of model {r['model_id']}: "
            f"class {r['class']} (output {r['prediction']:.4g}, true {r['true']}), base value {r['base_value']:.4g}, "
            f"{r['seconds']:.2f}s, seed {r['seed']}")
    rows = [{k: (f"{v:+.4g}" if k == "value" else f"{v:.4g}" if isinstance(v, float) else v) for k, v in f.items()}
            for f in r["top_features"]]
    columns = ["feature", "value", "input"] + (["rule"] if rows and "rule" in rows[0] else [])
    checks = "\n".join(f"{c['check']}: {c['value']}" for c in trust.rows())
    notes = "".join(f"\nnote: {n}" for n in r["notes"])
    return f"{head}\n{table(rows, columns)}\n{checks}{notes}"
