"""Train an AU model: ``python train/train.py`` (or ``au-edge-train``).

With no arguments it trains a small AU12+AU4 intensity model on the embedded synthetic faces in a
few minutes. A recipe is a TOML file (``--config``) holding the same settings as the flags; flags
override it. Writes model.keras, config.json, metrics.json, history.csv and training_curve.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: this folder is first on sys.path, which is why no module here is named
    # like a real package. Everything is imported as auedge.* from the installed distribution.
    sys.path.pop(0)

from auedge.edge.align import CROP_METHODS
from auedge.train.config import AUGMENTS, DATASETS, OPTIMIZERS, SCHEDULES, ConfigError, build_config
from auedge.train.data.loader import KEYPOINT_SOURCES
from auedge.train.models import ARCHS, HEADS, ModelError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", help="TOML recipe with the same settings as the flags")
    p.add_argument("--dataset", help=f"one of {', '.join(DATASETS)}, or several joined by + (mtfl+fer2013)")
    p.add_argument("--data-dir", help="dataset folder (MTFL, FER2013, Bosphorus, CK+, UNBC-McMaster) or manifest CSV; with several "
                   "datasets, the folder holding one folder per dataset (../shared/data)")
    p.add_argument("--epoch-size", type=int, help="faces drawn per epoch (default: one pass over the training faces)")
    p.add_argument("--task", help="au12-occurrence, au12-intensity, au4-intensity, au12+au4-intensity, ...")
    p.add_argument("--arch", choices=ARCHS)
    p.add_argument("--head", choices=HEADS)
    p.add_argument("--weights", help="none, imagenet, or a weights file")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--augment", help=f"comma list of {','.join(AUGMENTS)} (h/v flip, brightness, rotation, zoom, "
                                     "translation) or none")
    p.add_argument("--occlude-train", help="none, mask-full, mask-half, mask-small, glasses-big, glasses-eyehole, mix")
    p.add_argument("--occlude-val", help="occluder pasted on validation and test images")
    p.add_argument("--mix-weights", metavar="KIND=W,...",
                   help="how often --occlude-train mix draws each kind, e.g. mask-full=2,mask-half=2 (others weigh 1)")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--pose-balance", type=float, metavar="POWER",
                   help="draw training faces by count(pose) ** -POWER so profiles are seen more often (0: off, 1: equal)")
    p.add_argument("--weight-average", type=float, metavar="DECAY",
                   help="checkpoint a running average of the weights and BatchNorm statistics (e.g. 0.995; 0: off)")
    p.add_argument("--flip-average", action="store_true", default=None, help="average with the mirrored crop")
    p.add_argument("--occlusion-flags", action="store_true", default=None,
                   help="also learn <AU>_occluded outputs (is the AU's region covered?); needs --occlude-train mix")
    p.add_argument("--drop-covered-targets", action="store_true", default=None,
                   help="leave an AU out of the loss on faces whose occluder covers its region")
    p.add_argument("--input-size", type=int)
    p.add_argument("--keypoints", choices=KEYPOINT_SOURCES,
                   help="labels: crops from the dataset's landmarks; detector: from BlazeFace's keypoints, as on a device")
    p.add_argument("--crop-method", choices=CROP_METHODS,
                   help="eyes: square from the eye line; landmarks: fit eyes, nose and mouth to a frontal template")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--limit", type=int, help="at most this many images per split (quick runs)")
    p.add_argument("--seed", type=int)
    p.add_argument("--cache-dir")
    p.add_argument("--threads", type=int, help="TensorFlow intra-op threads (0: all cores)")
    p.add_argument("--out", help="run folder (default runs/<task>-<arch>-<time>)")
    p.add_argument("--force", action="store_true", help="reuse an existing run folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    overrides = {k: v for k, v in vars(args).items() if k not in ("config", "force")}
    try:
        from auedge.train.occluders import parse_occluder

        cfg = build_config(args.config, overrides)
        cfg.occlude_train = parse_occluder(cfg.occlude_train)
        cfg.occlude_val = parse_occluder(cfg.occlude_val)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(cfg.out or f"runs/{cfg.parsed_task.name}-{cfg.arch}-{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "model.keras").exists() and not args.force:
        print(f"error: {out} already holds a trained model; choose another --out or pass --force", file=sys.stderr)
        return 2
    cfg.out = str(out)

    from auedge.train.data import DataError
    from auedge.train.trainer import fit

    try:
        result = fit(cfg, out, recipe=args.config)
    except (DataError, ModelError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {out} is unfinished (no config.json or metrics.json; its model.keras, if any, is the "
              "last complete checkpoint); train again with --force", file=sys.stderr)
        return 130
    m = result.metrics
    key = "f1" if cfg.parsed_task.kind == "occurrence" else "icc31"
    synthetic = " (synthetic faces)" if cfg.dataset == "synthetic" else ""
    test = m.get("test", {})
    print(f"done in {result.seconds:.0f}s: {out}{synthetic}; best epoch {m['best_epoch']}; "
          f"val {key} {m['val'].get(key, float('nan')):.4f}"
          + (f", test {key} {test.get(key, float('nan')):.4f}" if test else "")
          + (f" (mean over AUs: {test.get('mean_' + key):.4f})" if test.get("mean_" + key) is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
