"""``fairness``: audit a stored classifier or regressor across groups of sensitive columns (Fairlearn), with
proxies, explanation disparity, shortcuts and leaks; ``--mitigate`` stores a post-processed copy."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from dlcore.cli import add_json_flag, emit, progress_bar, table
from dlcore.fairness.mitigation import CONSTRAINTS


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``fairness`` and its flags."""
    p = sub.add_parser("fairness", help="audit a model across the groups of sensitive columns")
    p.add_argument("--model", required=True, help="model id (see `python -m dlcore models`)")
    p.add_argument("--sensitive", action="append", default=[], metavar="COL",
                   help="a sensitive column (repeatable; default: every one kept with the model's data)")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="a CSV with the model's columns, its target and the sensitive column(s), when those are "
                        "not kept with the model's data; every row is audited")
    p.add_argument("--target", default=None, metavar="COL",
                   help="with --data: the target column (default: the one trained on, else the one with the classes)")
    p.add_argument("--bins", type=int, default=0, metavar="N",
                   help="cut a numeric sensitive column with many values (age) into N bands of equal size")
    p.add_argument("--positive", type=int, default=None, metavar="K",
                   help="the class audited against the rest (default: the second of two, else the first)")
    p.add_argument("--no-explain", dest="explain", action="store_false",
                   help="skip SHAP (explanation disparity, and ranking proxies by the model's attributions)")
    p.add_argument("--mitigate", choices=CONSTRAINTS, default=None,
                   help="post-process with Fairlearn's ThresholdOptimizer and store the result as a new model")
    p.add_argument("--seed", type=int, default=0)
    add_json_flag(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dlcore.explain.service import training_data
    from dlcore.fairness.service import file_dataset, postprocess, run_audit, sensitive_groups
    from dlcore.store import ModelStore

    store = ModelStore()
    record = store.get(args.model).meta
    if record.generative:
        from dlcore.errors import FairnessError

        raise FairnessError("a VAE or GAN makes no decisions to audit; choose a classifier or regressor")
    model = store.load(args.model)
    if args.data:
        ds = file_dataset(record, args.data, args.sensitive, args.seed, args.target)
        source = f"every row of {args.data}"
    else:
        ds = training_data(record)
        source = ""
    sensitive_groups(ds, args.sensitive, args.bins)  # a column that cannot be grouped is refused before any bar
    if args.mitigate:
        model, meta = postprocess(record, model, ds, args.sensitive, args.mitigate, bins=args.bins,
                                  positive=args.positive, seed=args.seed)
        saved = store.save(model, meta)
        record = saved.meta
        if not args.json:
            print(f"stored the post-processed model as {saved.model_id}", file=sys.stderr)
    with progress_bar(not args.json) as progress:
        result = run_audit(record, model, ds, args.sensitive, bins=args.bins, positive=args.positive,
                           explain=args.explain, seed=args.seed, progress=progress, source=source)
    out = {**result.to_dict(), "model_id": record.model_id}
    if record.postprocessing is not None:
        out["mitigation"] = record.postprocessing.to_dict()
    emit(args, out, human)
    return 0


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def human(r: dict[str, Any]) -> str:
    """The audit for people: per-group table, the disparities, proxies and the warnings."""
    head = f"model {r['model_id']}, {r['rows']} rows ({r['source']}), by {' & '.join(r['sensitive'])}"
    if r["task"] == "classification":
        rows = [{"group": g, "n": v["n"], "accuracy": _pct(v["accuracy"]), "selection": _pct(v["selection_rate"]),
                 "tpr": _pct(v["tpr"]), "fpr": _pct(v["fpr"])} for g, v in r["groups"].items()]
        body = table(rows, ["group", "n", "accuracy", "selection", "tpr", "fpr"])
        body += (f"\nclass audited: {r['positive']!r}; demographic parity difference "
                 f"{_num(r['demographic_parity_difference'])}, ratio {_num(r['demographic_parity_ratio'])} "
                 f"(four-fifths rule {'passed' if r['four_fifths_pass'] else 'failed'}), equalized odds difference "
                 f"{_num(r['equalized_odds_difference'])}")
    else:
        rows = [{"group": g, "n": v["n"], "mae": _num(v["mae"]), "mean prediction": _num(v["mean_prediction"]),
                 "mean target": _num(v["mean_target"])} for g, v in r["groups"].items()]
        body = table(rows, ["group", "n", "mae", "mean prediction", "mean target"])
    proxies = ", ".join(f"{f} {s:.2f}" for f, s in list(r["proxies"].items())[:5])
    notes = "".join(f"\n- {w}" for w in r["warnings"]) or "\n(no warnings)"
    mit = r.get("mitigation")
    after = ""
    if mit:
        b, a = mit["before"], mit["after"]
        after = (f"\nmitigation ({mit['constraint']}): accuracy {_pct(b['accuracy'])} -> {_pct(a['accuracy'])}, "
                 f"demographic parity difference {_num(b['demographic_parity_difference'])} -> "
                 f"{_num(a['demographic_parity_difference'])}")
    return f"{head}\n{body}\nproxies (balanced accuracy): {proxies}{after}\nwarnings:{notes}"
