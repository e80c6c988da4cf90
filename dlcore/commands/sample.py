"""``sample``: draw images from a stored VAE or GAN into an ``.npz`` array or a PNG grid."""
from __future__ import annotations

import argparse
from typing import Any

from dlcore.cli import add_json_flag, emit
from dlcore.errors import DlcoreError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw images from a stored generative model (vae or gan)")
    p.add_argument("--model", required=True, help="model id (see `python -m dlcore models`)")
    p.add_argument("-n", type=int, default=64, help="how many images (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None,
                   help="conditional models: draw this class only (default: every class in turn)")
    p.add_argument("--out", required=True, help="FILE.npz (array x: n, height, width, channels in [0, 1]) or FILE.png")
    add_json_flag(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dlcore.generative.sampling import as_generative, generate
    from dlcore.images import save_images
    from dlcore.store import ModelStore

    if not str(args.out).lower().endswith((".npz", ".png")):
        raise DlcoreError(f"cannot write {args.out!r}: give --out a file name ending in .npz or .png")
    model = as_generative(ModelStore().load(args.model))
    labels = None if args.label is None else [args.label] * args.n
    if labels is not None and not model.n_classes:
        raise DlcoreError(f"model {args.model} is not conditional; leave out --label")
    x, y = generate(model, args.n, seed=args.seed, labels=labels)
    per_row = None if y is None or args.label is not None else model.n_classes
    path = save_images(args.out, x, y, per_row=per_row)
    result: dict[str, Any] = {"model_id": args.model, "path": str(path.resolve()), "n": int(len(x)),
                              "shape": list(x.shape), "seed": args.seed,
                              "labels": None if y is None else sorted(set(int(v) for v in y))}
    emit(args, result, lambda r: f"{r['n']} images {tuple(r['shape'][1:])} from {r['model_id']} written to {r['path']}")
    return 0
