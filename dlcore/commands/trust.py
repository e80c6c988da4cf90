"""``trust``: how far to trust one explanation of a stored model: faithfulness, randomisation, agreement,
stability, ground truth and the verdict, through ``dlcore.explain.service.trust_record``."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from dlcore.cli import add_json_flag, emit, progress_bar, table
from dlcore.explain import METHODS

Progress = Callable[[float, str], None]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``trust`` and its flags."""
    p = sub.add_parser("trust", help="check how far to trust an explanation of one validation input")
    p.add_argument("--model", required=True, help="model id (see `python -m dlcore models`)")
    p.add_argument("--index", type=int, required=True, help="row of the model's validation split")
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None,
                   help="a model imported without its training data: the data set (name or file) to explain it with")
    p.add_argument("--no-compare", dest="compare", action="store_false",
                   help="skip the agreement check (explaining the input with the other method too)")
    p.add_argument("--no-randomise", dest="randomise", action="store_false",
                   help="skip the randomisation check (the costliest: one explanation per weighted layer)")
    p.add_argument("--baseline", choices=("blur", "black"), default=None,
                   help="images: what removed pixels become in the deletion and insertion curves (default: blur)")
    add_json_flag(p)
    p.set_defaults(handler=run)


def _part(progress: Progress | None, start: float, width: float) -> Progress | None:
    """``progress`` mapped onto the share ``[start, start + width]`` of the bar."""
    if progress is None:
        return None
    return lambda f, text: progress(start + width * f, text)


def run(args: argparse.Namespace) -> int:
    """Load the stored model and its data set, check one validation row's explanation, print the report."""
    from dlcore.commands.explain import stored_row

    record, model, ds = stored_row(args)
    out = {**measure(args, record, model, ds), "model_id": args.model, "index": args.index}
    emit(args, out, human)
    return 0


def measure(args: argparse.Namespace, record: Any, model: Any, ds: Any) -> dict[str, Any]:
    """Explain validation row ``args.index`` with its seed reruns, run the trust checks on it, and return
    ``TrustReport.to_dict()`` with the explanation's algorithm and what each part cost."""
    from dlcore.explain.service import Request, cost, explain_record, trust_cost, trust_record

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # each randomised copy retraces its predict step
    x = ds.x_val[args.index:args.index + 1]
    request = Request(args.method, seed=args.seed, stability=True)
    explanation = cost(record, model, ds, x, request)
    checks = trust_cost(record, model, ds, x, request, compare=args.compare, randomise=args.randomise)
    if not args.json:
        print(f"explanation: {explanation.describe()}", file=sys.stderr)
        print(checks.describe(), file=sys.stderr)
    share = explanation.model_rows / max(1, explanation.model_rows + checks.model_rows)
    with progress_bar(not args.json) as progress:
        t0 = time.perf_counter()
        result = explain_record(record, model, ds, x, request, rows=[args.index],
                                progress=_part(progress, 0.0, share))
        t1 = time.perf_counter()
        report = trust_record(record, model, ds, x, result, request, row=0, compare=args.compare,
                              randomise=args.randomise, baseline=args.baseline,
                              progress=_part(progress, share, 1.0 - share))
        t2 = time.perf_counter()
    return {**report.to_dict(), "algorithm": result.attribution.algorithm, "seed": args.seed,
            "explanation_seconds": round(t1 - t0, 3), "trust_seconds": round(t2 - t1, 3),
            "explanation_model_rows": explanation.model_rows, "trust_model_rows": checks.model_rows}


def human(r: dict[str, Any]) -> str:
    """The trust report for people: the verdict in capitals, its reasons, the figures, the checks not run."""
    head = (f"{r['verdict'].upper()}: {r['method'].upper()} ({r['algorithm']}) for validation row {r['index']} "
            f"of model {r['model_id']}, class {r['class']}, seed {r['seed']}")
    reasons = "\n".join(f"- {reason}" for reason in r["reasons"])
    figures = table(figure_rows(r), ["figure", "value", "against", "ratio"])
    skipped = "".join(f"\nnot run: {check}: {why}" for check, why in r["not_applicable"].items())
    cost = (f"\nexplanation with its seed reruns {r['explanation_seconds']:.2f}s, "
            f"trust checks {r['trust_seconds']:.2f}s (about {r['trust_model_rows']:,} model evaluations "
            f"against {r['explanation_model_rows']:,})")
    return f"{head}\n{reasons}\n\n{figures}{skipped}{cost}"


def _num(v: Any, fmt: str = ".3f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _curve(kind: str, c: dict[str, Any] | None) -> list[dict[str, str]]:
    if c is None:
        return []
    ratio = "n/a" if c["ratio"] is None else f"{c['ratio']:.2f}x"
    return [{"figure": f"{kind} AUC", "value": _num(c["auc"]),
             "against": f"random {_num(c['random_auc'])} ± {_num(c['random_auc_std'])}", "ratio": ratio}]


def figure_rows(r: dict[str, Any]) -> list[dict[str, str]]:
    """One table row per measured figure of a trust report's JSON (``run``'s output)."""
    rows = _curve("deletion", r["deletion"]) + _curve("insertion", r["insertion"])
    detail = r["randomisation_detail"]
    if detail is not None:
        for i, (layer, rho) in enumerate(zip(detail["layers"], detail["decisive"])):
            rows.append({"figure": f"randomised top {i + 1} ({layer})", "value": f"rho {_num(rho, '.2f')}",
                         "against": f"pass below {detail['threshold']:.2f} ({detail['on']})", "ratio": ""})
    m = r["agreement_matrix"]
    if m is not None:
        for j, other in enumerate(m["names"][1:], start=1):
            rows.append({"figure": f"agreement {m['names'][0]} vs {other}",
                         "value": f"rho {_num(m['rho'][0][j], '.2f')}",
                         "against": f"top-{m['k']} overlap {_num(m['overlap'][0][j], '.0%')}", "ratio": ""})
    if r["stability"] is not None:
        rows.append({"figure": "stability across seeds", "value": f"rho {_num(r['stability'], '.2f')}",
                     "against": "1 = the same ranking", "ratio": ""})
    g = r.get("ground_truth")
    if g is not None:
        where = "causes" if g["kind"] == "causes" else "object"
        rows.append({"figure": f"share on the {where}", "value": _num(g["share"], ".0%"),
                     "against": f"expected {_num(g['expected_share'], '.0%')}, precision@{g['k']} "
                                f"{_num(g['precision_at_k'], '.0%')}", "ratio": ""})
    return rows
