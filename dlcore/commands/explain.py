"""``explain``: SHAP or LIME for one validation input of a stored model, through ``dlcore.explain.service``."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from dlcore.cli import add_json_flag, emit, progress_bar, table
from dlcore.errors import ExplainError
from dlcore.explain import METHODS

if TYPE_CHECKING:
    from dlcore.explain.service import Request


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="explain one prediction of a stored model (SHAP, LIME, Integrated Gradients, "
                                       "SmoothGrad, Grad-CAM, occlusion, attention)")
    p.add_argument("--model", required=True, help="model id (see `python -m dlcore models`)")
    p.add_argument("--method", choices=METHODS, default="shap")
    p.add_argument("--index", type=int, default=0, help="row of the model's validation split")
    p.add_argument("--data", default=None,
                   help="a model imported without its training data: the data set (name or file) to explain it with")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--algorithm", default="auto", help="SHAP: auto, exact, permutation, partition, gradient, deep")
    p.add_argument("--samples", type=int, default=None,
                   help="SHAP: gradient samples or permutation evaluations; LIME: perturbed samples")
    p.add_argument("--baseline", default=None,
                   help="ig and occlusion: what the input is compared with: black, blur, mean (of the training rows) "
                        "or noise")
    p.add_argument("--steps", type=int, default=None, help="ig: interpolation steps (default 64)")
    p.add_argument("--layer", default=None, help="gradcam: the convolutional layer (default: the last one)")
    p.add_argument("--patch", type=int, default=None, help="occlusion on images: the patch side in pixels")
    p.add_argument("--top", type=int, default=10, help="features listed for people")
    p.add_argument("--stability", action="store_true",
                   help="also explain with seeds seed+1 and seed+2 and report how stable the ranking is")
    add_json_flag(p)
    p.set_defaults(handler=run)


def stored_row(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The record, loaded model and data set of ``--model`` (``--data`` for an import without its own),
    with ``--index`` checked against the validation split; shared by ``explain`` and ``trust``."""
    from dlcore.explain.service import training_data
    from dlcore.store import ModelStore

    store = ModelStore()
    record = store.get(args.model)
    ds = training_data(record, args.data)  # refuses a VAE or GAN, and an import without --data
    if not 0 <= args.index < ds.n_val:
        raise ExplainError(f"--index {args.index} is outside the validation split; choose 0 to {ds.n_val - 1}")
    return record, store.load(args.model), ds


def run(args: argparse.Namespace) -> int:
    from dlcore.explain.service import cost, explain_record, true_label

    record, model, ds = stored_row(args)
    x = ds.x_val[args.index:args.index + 1]
    request = _request(args)
    if not args.json:
        print(cost(record, model, ds, x, request).describe(), file=sys.stderr)
    with progress_bar(not args.json) as progress:
        got = explain_record(record, model, ds, x, request, rows=[args.index], progress=progress)
    attr, trust = got.attribution, got.trust
    result = {"model_id": args.model, "index": args.index, **attr.to_dict()["rows"][0],
              **attr.describe(), "feature_names": list(attr.feature_names), "true": true_label(ds, args.index),
              "top_features": attr.top_features(0, k=args.top), "trust": asdict(trust)}
    emit(args, result, lambda r: _human(r, trust))
    return 0


def _request(args: argparse.Namespace) -> Request:
    """The explanation the command's flags ask for."""
    from dlcore.explain.service import Request

    counts = {"nsamples": args.samples, "max_evals": args.samples} if args.method == "shap" else {
        "num_samples": args.samples} if args.method == "lime" else {}
    given = {"baseline": args.baseline, "steps": args.steps, "layer": args.layer, "patch": args.patch,
             "n_samples": args.samples if args.method == "smoothgrad" else None}
    settings = tuple((k, v) for k, v in given.items() if v is not None)
    return Request(args.method, seed=args.seed, target="predicted" if args.target is None else args.target,
                   algorithm=args.algorithm, stability=args.stability, settings=settings).with_counts(counts)


def _human(r: dict[str, Any], trust: Any) -> str:
    head = (f"{r['method'].upper()} ({r['algorithm']}) for validation row {r['index']} of model {r['model_id']}: "
            f"class {r['class']} (output {r['prediction']:.4g}, true {r['true']}), "
            f"base value {r['base_value']:.4g}, {r['seconds']:.2f}s, seed {r['seed']}")
    rows = [{k: (f"{v:+.4g}" if k == "value" else f"{v:.4g}" if isinstance(v, float) else v)
             for k, v in f.items()} for f in r["top_features"]]
    columns = ["feature", "value", "input"] + (["rule"] if rows and "rule" in rows[0] else [])
    checks = "\n".join(f"{c['check']}: {c['value']}" for c in trust.rows())
    notes = "".join(f"\nnote: {n}" for n in r["notes"])
    return f"{head}\n{table(rows, columns)}\n{checks}{notes}"
