"""``finetune``: adapt a base model to new data as a training job, and report before and after."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from dlcore.cli import add_json_flag, emit
from dlcore.commands.train import add_train_arguments
from dlcore.errors import DlcoreError
from dlcore.models.spec import HEAD_MODES, TrainConfig
from dlcore.record import ModelMeta


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a base model on new data and store the result")
    p.add_argument("--base", required=True,
                   help="a stored model id, a .keras file (checked like an import) or keras:MobileNetV2")
    p.add_argument("--data", required=True, help="built-in data set name or a data file")
    p.add_argument("--target", default=None, help="target column (tables)")
    p.add_argument("--freeze", type=int, default=-1, help="freeze the first N layers; -1: all below the head")
    p.add_argument("--head", choices=HEAD_MODES, default="auto", help="auto: replace when classes differ")
    p.add_argument("--unfreeze", type=int, default=0, help="second phase: unfreeze the top K frozen layers")
    p.add_argument("--fine-epochs", type=int, default=0, help="second phase: epochs after --epochs")
    p.add_argument("--fine-lr", type=float, default=1e-4, help="second phase: learning rate")
    add_train_arguments(p)
    add_json_flag(p)
    p.set_defaults(handler=run)


def _config(args: argparse.Namespace, base_meta: ModelMeta | None) -> TrainConfig:
    from dlcore.finetune import finetune_config

    return finetune_config(
        args.base, args.data, base_meta=base_meta, freeze=args.freeze, head=args.head, unfreeze=args.unfreeze,
        fine_epochs=args.fine_epochs, fine_learning_rate=args.fine_lr, target=args.target,
        optimizer=args.optimizer, learning_rate=args.lr, batch_size=args.batch_size,
        epochs=args.epochs + args.fine_epochs, early_stopping=args.early_stopping,
        validation_split=args.validation_split, seed=args.seed, name=args.name,
        mixed_precision=args.mixed_precision, distribute=args.distribute, train_limit=args.train_limit)


def run(args: argparse.Namespace) -> int:
    from dlcore import jobs
    from dlcore.data import load_dataset
    from dlcore.finetune import build_plan, is_file_ref, is_shipped
    from dlcore.progress import EpochBar
    from dlcore.store import ModelStore
    from dlcore.training import run_job

    t0 = time.perf_counter()
    dataset = load_dataset(args.data, args.target, args.validation_split, args.seed)
    if is_file_ref(args.base) and not is_shipped(args.base):
        # An outside file is imported as an upload is (capped check, then the store), once; the job then
        # fine-tunes the stored copy rather than loading the untrusted file again in its worker.
        from dlcore.importer import import_model

        imported = import_model(args.base)
        if not args.json:
            print(f"imported {args.base} as model {imported.model_id}", file=sys.stderr)
        args.base = imported.model_id
    plan = build_plan(_config(args, None).finetune, dataset)  # fails fast, with the reason, before a job exists
    config = _config(args, plan.base.meta)
    if not args.json:
        print(f"base: {plan.base.label}\n" + "\n".join(f"- {n}" for n in plan.notes), file=sys.stderr)
    folder = jobs.create(config)
    status = run_job(folder, extra_callbacks=[] if args.json else [EpochBar(config.epochs)])
    if status.get("state") == "failed":
        raise DlcoreError(status.get("message", "fine-tuning failed"))
    record = ModelStore(folder.parent.parent).get(str(status["model_id"]))
    ev = record.meta.evaluation
    key = "accuracy" if ev.get("kind") == "classification" else "mae"
    result = {"model_id": record.model_id, "job_id": folder.name, "path": str(record.model_file),
              "base": args.base, "head": plan.head, "notes": list(plan.notes),
              "metrics": status.get("metrics", {}), "epochs": int(status.get("epoch") or 0),
              "before": {key: ev.get("before", {}).get(key)}, "after": {key: ev.get(key)},
              "seconds": round(time.perf_counter() - t0, 2)}
    emit(args, result, _human)
    return 0


def _human(r: dict[str, Any]) -> str:
    (key, before), after = next(iter(r["before"].items())), next(iter(r["after"].values()))
    return (f"model {r['model_id']} saved to {r['path']}\n{r['epochs']} epoch(s) in {r['seconds']}s; "
            f"validation {key}: {before:.4g} before fine-tuning, {after:.4g} after")
