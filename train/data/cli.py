"""``python -m auedge.train.data``: import a dataset download, write a dataset's manifest, or decode and
cache its crops ahead of training.

    python -m auedge.train.data import-mtfl --src MTFL.zip --out data/mtfl
    python -m auedge.train.data import-fer2013 --src fer2013.csv --out data/fer2013
    python -m auedge.train.data manifest --dataset bosphorus --data-dir ../shared/data/bosphorus --out bos.csv
    python -m auedge.train.data manifest --dataset ckplus --data-dir CK+ --out ckplus.csv
    python -m auedge.train.data manifest --dataset unbc --data-dir UNBC --stride 5 --out unbc.csv
    python -m auedge.train.data import-disfa --src DISFA --out data/disfa --stride 10
    python -m auedge.train.data prepare --dataset mtfl --aus au12 --crop-size 160

The importers turn what a user downloads into the folder layouts the loaders read (see DATA.md).

CK+ and UNBC-McMaster are read in place (``--dataset ckplus``/``unbc`` train on them directly; ``manifest``
writes their rows to a fixed CSV, UNBC's every ``--stride``-th frame); DISFA is video, so its labelled frames
are extracted into a folder with its ``manifest.csv`` (``--dataset manifest --data-dir data/disfa``).

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
from auedge.train.data import bosphorus, ckplus, disfa, facs_files, import_fer2013, import_mtfl, unbc
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
    dis = commands.add_parser("import-disfa", help="DISFA videos and AU labels -> PNG frames and manifest.csv")
    dis.add_argument("--src", type=Path, required=True,
                     help="the DISFA folder holding ActionUnit_Labels/ and Videos_LeftCamera/ (Videos_RightCamera/)")
    dis.add_argument("--out", type=Path, required=True, help="new folder for frames/ and manifest.csv")
    dis.add_argument("--camera", choices=(*disfa.CAMERAS, "both"), default="left", help="which videos (default left)")
    dis.add_argument("--stride", type=int, default=disfa.DEFAULT_STRIDE,
                     help="every Nth labelled frame: 1, 1+N, ... (default %(default)s; 1 = all 4845)")
    dis.add_argument("--present-at", type=float,
                     help="write occurrence 0/1 (intensity >= this; DISFA's usual cut is 2) instead of intensities 0-5")
    dis.add_argument("--landmarks", choices=disfa.LANDMARK_SOURCES, default="none",
                     help="detector: five landmarks from BlazeFace on each frame, so the manifest can train "
                          "(frames without a face left out); none (default): rows without, for evaluation")
    dis.add_argument("--force", action="store_true", help="replace a non-empty --out once the import succeeded")
    manifest = commands.add_parser("manifest", help="write the manifest CSV a dataset adapter produces")
    manifest.add_argument("--dataset", choices=("mtfl", "bosphorus", "ckplus", "unbc"), required=True)
    manifest.add_argument("--data-dir", type=Path, help="dataset folder (default ../shared/data/<dataset>)")
    manifest.add_argument("--intensity-csv", type=Path, help="Bosphorus AU intensities (file,au12,au4,...)")
    manifest.add_argument("--label-kind", choices=facs_files.KINDS, default="occurrence",
                          help="CK+/UNBC: occurrence 0/1 (default) or the coded intensities 1-5 (unscored present AUs "
                               "unknown; UNBC's AU43, coded as occurrence only, unknown)")
    manifest.add_argument("--neutral-frames", type=int, default=1,
                          help="CK+: the first N frames of each sequence as neutral faces, all AUs 0 (default 1; 0 = none)")
    manifest.add_argument("--stride", type=int, default=unbc.DEFAULT_STRIDE,
                          help="UNBC: every Nth frame of each sequence: its 1st, 1+N-th, ... (default %(default)s: all)")
    manifest.add_argument("--out", type=Path, required=True)
    for command in (dis, manifest):
        command.add_argument("--test-fraction", type=float, default=0.2,
                             help="CK+/DISFA/UNBC: share of rows whose subjects go to test (default %(default)s)")
        command.add_argument("--seed", type=int, default=0, help="CK+/DISFA/UNBC: seed of that subject carve (default 0)")
        command.add_argument("--split-all", choices=("train", "test"),
                             help="CK+/DISFA/UNBC: every row in this split (test: evaluation only) instead of the carve")
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
        if args.command == "import-disfa":
            cameras = disfa.CAMERAS if args.camera == "both" else (args.camera,)
            count = disfa.import_disfa(args.src, args.out, cameras=cameras, stride=args.stride, present_at=args.present_at,
                                       test_fraction=args.test_fraction, seed=args.seed, all_split=args.split_all,
                                       landmarks=args.landmarks, force=args.force)
            cut = f" --present-at {1 if args.present_at is not None else disfa.DISFA_PRESENT_AT:g}"
            train = (f"train with --dataset manifest --data-dir {args.out}" if args.landmarks == "detector"
                     else "to train, import again with --landmarks detector (the rows have no landmarks)")
            print(f"imported {count} DISFA frames into {args.out}; measure a bundle with benchmarks/end_to_end.py "
                  f"--dataset disfa --data-dir {args.out}{cut} --split all; {train}")
            return 0
        if args.command == "manifest":
            if args.dataset == "bosphorus":
                folder = args.data_dir or default_data_dir("bosphorus")
                rows = bosphorus.build_manifest(folder, intensity_csv=args.intensity_csv)
            elif args.dataset == "ckplus":
                rows = ckplus.build_manifest(args.data_dir or default_data_dir("ckplus"), kind=args.label_kind,
                                             neutral_frames=args.neutral_frames, test_fraction=args.test_fraction,
                                             seed=args.seed, all_split=args.split_all)
            elif args.dataset == "unbc":
                rows = unbc.build_manifest(args.data_dir or default_data_dir("unbc"), kind=args.label_kind,
                                           stride=args.stride, test_fraction=args.test_fraction, seed=args.seed,
                                           all_split=args.split_all)
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
