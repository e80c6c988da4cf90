"""``train`` (a job run in this process, with a progress bar) and ``run-job`` (what a job's worker runs to train)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from dlcore.cli import add_json_flag, emit
from dlcore.commands.cluster import add_cluster_arguments, cluster_from_args, run_cluster
from dlcore.commands.validate import add_forecast_arguments, forecast_spec
from dlcore.errors import DlcoreError
from dlcore.models.catalog import architecture, generative_architectures, trainable_architectures
from dlcore.models.spec import ACTIVATIONS, CELLS, DISTRIBUTE, OPTIMIZERS, ModelSpec, TrainConfig


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The training knobs, shared with fine-tuning."""
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE", help="0: off")
    p.add_argument("--name", default="")
    p.add_argument("--mixed-precision", action="store_true", help="float16 compute on a GPU")
    p.add_argument("--distribute", choices=DISTRIBUTE, default="auto")
    p.add_argument("--train-limit", type=int, default=0, metavar="N",
                   help="use at most N training rows, a seeded stratified pick (0: all)")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model and store it")
    p.add_argument("--data", required=True, help="built-in data set name or a data file")
    p.add_argument("--target", default=None, help="target column (tables)")
    p.add_argument("--arch", default="mlp", help=f"{_names(trainable_architectures())} (classifiers and "
                   f"regressors), {_names(generative_architectures())} (generative models)")
    p.add_argument("--units", type=_ints, default=None, help="dense layer sizes, e.g. 64,32 (default: by --arch)")
    p.add_argument("--filters", type=_ints, default=None,
                   help="conv filters per block (cnn, vae, gan; default: by --arch); '' for a dense vae or gan")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch-norm", action="store_true")
    p.add_argument("--l1", type=float, default=0.0)
    p.add_argument("--l2", type=float, default=0.0)
    s = p.add_argument_group("sequence models (rnn, transformer): texts, sequences, images read by rows")
    s.add_argument("--seq-units", type=_ints, default=(64,),
                   help="rnn: units per recurrent layer; transformer: width per encoder block (default 64)")
    s.add_argument("--cell", choices=CELLS, default="lstm", help="rnn: the recurrent cell")
    s.add_argument("--bidirectional", action="store_true", help="rnn: read each sequence both ways")
    s.add_argument("--heads", type=int, default=4, help="transformer: attention heads per block")
    s.add_argument("--patch", type=int, default=0, help="transformer on images: patch side; 0: rows as tokens")
    g = p.add_argument_group("generative models (vae, gan)")
    g.add_argument("--latent-dim", type=int, default=0, help="latent size; 0: 8 for a vae, 32 for a gan")
    g.add_argument("--beta", type=float, default=0.5, help="vae: weight of the KL term (1: the plain VAE)")
    g.add_argument("--conditional", action="store_true", help="give the class to the model")
    g.add_argument("--label-smoothing", type=float, default=0.1, help="gan: real images' target is 1 - this")
    g.add_argument("--d-lr", type=float, default=None, help="gan: discriminator learning rate (default: --lr)")
    f = p.add_argument_group("fairness")
    f.add_argument("--sensitive", action="append", default=[], metavar="COL",
                   help="a sensitive column of the table: kept out of the inputs, kept for the audit (repeatable)")
    f.add_argument("--reweigh", action="store_true",
                   help="weight training rows so group and label are independent (Kamiran and Calders 2012)")
    add_forecast_arguments(p)
    add_train_arguments(p)
    add_cluster_arguments(p)
    add_json_flag(p)
    p.set_defaults(handler=run)
    w = sub.add_parser("run-job", help="(internal) train the job in FOLDER (its worker, dlcore.worker, runs this)")
    w.add_argument("folder")
    w.set_defaults(handler=run_worker)


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def layer_defaults(arch: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dense units and conv filters of ``arch`` when not given (the generative models have their own proven
    sizes); an unknown architecture gets the usual ones and is refused when the job builds it."""
    try:
        known = architecture(arch)
    except DlcoreError:
        return ModelSpec().units, ModelSpec().filters
    return known.units, known.filters


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    units, filters = layer_defaults(args.arch)
    units = units if args.units is None else args.units
    filters = filters if args.filters is None else args.filters
    spec = ModelSpec(arch=args.arch, units=units, filters=filters, activation=args.activation,
                     dropout=args.dropout, batch_norm=args.batch_norm, l1=args.l1, l2=args.l2,
                     latent_dim=args.latent_dim, beta=args.beta, conditional=args.conditional,
                     label_smoothing=args.label_smoothing, seq_units=args.seq_units, cell=args.cell,
                     bidirectional=args.bidirectional, heads=args.heads, patch=args.patch)
    data = str(Path(args.data).resolve()) if Path(args.data).is_file() else args.data  # a job may resume elsewhere
    return TrainConfig(data=data, target=args.target, model=spec, optimizer=args.optimizer,
                       learning_rate=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                       early_stopping=args.early_stopping, validation_split=args.validation_split,
                       seed=args.seed, name=args.name, mixed_precision=args.mixed_precision,
                       distribute=args.distribute, d_learning_rate=args.d_lr,
                       train_limit=args.train_limit, sensitive=tuple(args.sensitive), reweigh=args.reweigh,
                       forecast=_forecast_dict(args))


def _forecast_dict(args: argparse.Namespace) -> dict[str, Any] | None:
    spec = forecast_spec(args)
    return None if spec is None else spec.to_dict()


def run_config(config: TrainConfig, args: argparse.Namespace, folder: Path | None = None,
               extra: dict[str, Any] | None = None) -> int:
    """Run a job folder for ``config`` (``folder``, default: a new one) in this process and report its model
    (with ``extra`` added to the report)."""
    from dlcore import jobs
    from dlcore.progress import EpochBar
    from dlcore.training import run_job

    t0 = time.perf_counter()
    folder = folder or jobs.create(config)
    bar = [] if args.json else [EpochBar(config.epochs)]
    status = run_job(folder, extra_callbacks=bar)
    if status.get("state") == "failed":
        raise DlcoreError(status.get("message", "training failed"))
    model_file = folder.parent.parent / "models" / str(status.get("model_id")) / "model.keras"
    result: dict[str, Any] = {"model_id": status.get("model_id"), "job_id": folder.name, "path": str(model_file),
                              "metrics": status.get("metrics", {}), "epochs": int(status.get("epoch") or 0),
                              "seconds": round(time.perf_counter() - t0, 2), **(extra or {})}
    if config.forecast is not None:
        result["forecast"] = forecast_report(config, str(status.get("model_id")), folder.parent.parent)
    emit(args, result, _human)
    return 0


def forecast_report(config: TrainConfig, model_id: str, root: Path) -> dict[str, Any]:
    """A forecasting model's validation MAE in the target's units beside the baselines' (the job's own metrics
    are in scaled units: the target's training standard deviation)."""
    from dlcore.data import load_dataset
    from dlcore.data.forecast import predict
    from dlcore.store import ModelStore

    ds = load_dataset(config.data, config.target, config.validation_split, config.seed, forecast=config.forecast)
    return predict(ModelStore(root).load(model_id), ds).to_dict()


def _human(r: dict[str, Any]) -> str:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items() if isinstance(v, (int, float)) and k != "epoch")
    text = f"model {r['model_id']} saved to {r['path']}\n{r['epochs']} epoch(s) in {r['seconds']}s: {metrics}"
    if "forecast" in r:
        f = r["forecast"]
        text += (f"\nforecast of {f['target']!r} {f['horizon']} step(s) ahead: validation MAE {f['mae']:.4g} "
                 "against " + ", ".join(f"{k} {v:.4g}" for k, v in f["baselines"].items()))
    return text


def run(args: argparse.Namespace) -> int:
    cluster = cluster_from_args(args)
    if cluster is not None:
        return run_cluster(config_from_args(args), cluster, args, run_config)
    return run_config(config_from_args(args), args)


def run_worker(args: argparse.Namespace) -> int:
    from dlcore.training import run_job
    from dlcore.worker import die_with_worker

    if not die_with_worker():  # its worker ended while TensorFlow loaded: nobody would record this run
        print("the job's worker has gone; not training", file=sys.stderr)
        return 4
    status = run_job(args.folder)
    print(f"job ended: {status.get('state')}: {status.get('message', '')}", file=sys.stderr)
    return 0 if status.get("state") in ("done", "stopped") else 3
