"""``python -m auedge.train.data``: import a dataset download, write a dataset's manifest, or decode and
cache its crops ahead of training.

    python -m auedge.train.data import-mtfl --src MTFL.zip --out data/mtfl
    python -m auedge.train.data import-fer2013 --src fer2013.csv --out data/fer2013
    python -m auedge.train.data manifest --dataset bosphorus --data-dir ../shared/data/bosphorus --out bos.csv
    python -m auedge.train.data prepare --dataset mtfl --aus au12 --crop-size 160

The importers turn what a user downloads into the folder layouts the loaders read (see DATA.md).

Bosphorus intensities enter through a manifest: write it with ``--intensity-csv``, then train with
``--dataset manifest --data-dir bos.csv``.

Any data problem ends with one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from auedge.edge.align import CropParams
from auedge.train.data import bosphorus, import_fer2013, import_mtfl
from auedge.train.data.loader import DATASETS, default_data_dir, load_crops, manifest_rows
from auedge.train.data.manifest import DataError, write_manifest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m auedge.train.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    mtfl = commands.add_parser("import-mtfl", help="official MTFL download (zip or folder) -> labels.csv folder")
    mtfl.add_argument("--src", type=Path, required=True, help="MTFL.zip or the folder unzipped from it")
    mtfl.add_argument("--out", type=Path, required=True, help="new folder for the images and labels.csv")
    mtfl.add_argument("--force", action="store_true", help="replace a non-empty --out once the import succeeded")
    fer = commands.add_parser("import-fer2013", help="Kaggle fer2013.csv or a folder per class -> shared layout")
    fer.add_argument("--src", type=Path, required=True,
                     help="fer2013.csv (emotion, pixels, Usage), or a folder with train/<class>/ and test/<class>/")
    fer.add_argument("--out", type=Path, required=True, help="new folder for SPLIT/EMOTION/NAME images and labels.csv")
    fer.add_argument("--format", choices=import_fer2013.FORMATS,
                     help="image format written (default: png from a CSV; a folder's images are copied as they are)")
    fer.add_argument("--val-fraction", type=float, default=import_fer2013.DEFAULT_VAL_FRACTION,
                     help="share of each class of train carved into validation, when the images do not say "
                          "PublicTest/PrivateTest (default %(default)s)")
    fer.add_argument("--seed", type=int, default=0, help="seed of that carve (default 0)")
    fer.add_argument("--force", action="store_true", help="replace a non-empty --out once the import succeeded")
    manifest = commands.add_parser("manifest", help="write the manifest CSV a dataset adapter produces")
    manifest.add_argument("--dataset", choices=("mtfl", "bosphorus"), required=True)
    manifest.add_argument("--data-dir", type=Path, help="dataset folder (default ../shared/data/<dataset>)")
    manifest.add_argument("--intensity-csv", type=Path, help="Bosphorus AU intensities (file,au12,au4,...)")
    manifest.add_argument("--out", type=Path, required=True)
    prepare = commands.add_parser("prepare", help="decode, align and cache the crops; print split sizes and time")
    prepare.add_argument("--dataset", choices=DATASETS, required=True)
    prepare.add_argument("--data-dir", type=Path)
    prepare.add_argument("--aus", default="au12", help="comma-separated AU columns, e.g. au12,au4")
    prepare.add_argument("--crop-size", type=int, default=CropParams().size)
    prepare.add_argument("--cache-dir", type=Path)
    prepare.add_argument("--val-fraction", type=float, default=0.15)
    prepare.add_argument("--seed", type=int, default=0)
    prepare.add_argument("--limit", type=int)
    prepare.add_argument("--skip-bad", action="store_true", help="skip and count images that do not decode")
    prepare.add_argument("--workers", type=int, default=1)
    return parser


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{split} {n}" for split, n in counts.items())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "import-mtfl":
            counts = import_mtfl.import_mtfl(args.src, args.out, force=args.force)
            print(f"imported {sum(counts.values())} MTFL faces ({_counts(counts)}) into {args.out}; "
                  f"train with --dataset mtfl --data-dir {args.out}")
            return 0
        if args.command == "import-fer2013":
            counts = import_fer2013.import_fer2013(args.src, args.out, image_format=args.format,
                                                   val_fraction=args.val_fraction, seed=args.seed, force=args.force)
            print(f"imported {sum(counts.values())} FER2013 faces ({_counts(counts)}) into {args.out}")
            return 0
        if args.command == "manifest":
            if args.dataset == "bosphorus":
                folder = args.data_dir or default_data_dir("bosphorus")
                rows = bosphorus.build_manifest(folder, intensity_csv=args.intensity_csv)
            else:
                rows = manifest_rows(args.dataset, args.data_dir)
            print(f"wrote {len(rows)} rows to {write_manifest(rows, args.out)}")
            return 0
        start = time.perf_counter()
        crops = load_crops(
            args.dataset, args.data_dir, args.aus.split(","), CropParams(size=args.crop_size),
            cache_dir=args.cache_dir, val_fraction=args.val_fraction, seed=args.seed, limit=args.limit,
            skip_bad=args.skip_bad, workers=args.workers,
        )
        print(f"{args.dataset}: {crops.summary()} ({time.perf_counter() - start:.1f}s)")
        return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
