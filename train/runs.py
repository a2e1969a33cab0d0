"""A training run folder, as written by ``train/train.py`` and read by the exporter.

Layout of ``runs/NAME/``::

    model.keras          best checkpoint on validation (written atomically)
    config.json          TrainConfig.to_dict() plus resolved crop, normalization, task, aus
    metrics.json         {"val": {...}, "test": {...}, "threshold": t | null, "data": {...}, ...}
    history.csv          one row per epoch
    training_curve.png   train/val loss and the validation metric per epoch
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.align import CropParams
from auedge.edge.preprocess import Normalization
from auedge.train.config import Task, TrainConfig, _coerce

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training_curve.png"

# Seeds of the occluders the trainer pastes (trainer.train_run): cfg.seed + 1 on validation and
# cfg.seed + 2 on testing faces (cfg.occlude_val). Its training occluders are drawn afresh every
# epoch; the exporter's calibration draws one fixed set from the same mix with cfg.seed + 5
# (+3 and +4 are the flag evaluation's, trainer.FLAG_SEED_OFFSET).
VAL_OCCLUDER_SEED_OFFSETS = {"val": 1, "test": 2}
CALIB_OCCLUDER_SEED_OFFSET = 5


class RunError(ValueError):
    """A run folder that cannot be used; the message says how to make a good one."""


@dataclass(frozen=True)
class RunInfo:
    root: Path
    config: TrainConfig
    task: Task
    crop: CropParams
    normalization: Normalization
    metrics: dict[str, Any]
    provenance: dict[str, Any] | None = None  # commit, recipe, command line (runs trained since 2026-12-07)

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def threshold(self) -> float | None:
        value = self.metrics.get("threshold")
        return None if value is None else float(value)


def read_run(path: str | Path) -> RunInfo:
    """Read a run folder (or the ``model.keras`` inside it)."""
    root = Path(path)
    if root.is_file():
        root = root.parent
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        raise RunError(f"{config_path} not found; is {root} a run folder written by train/train.py?")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
        metrics_path = root / METRICS_FILE
        metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise RunError(f"{root}: a JSON file is damaged ({exc}); train the run again") from exc
    resolved = {k: raw.pop(k) for k in ("crop", "normalization", "aus", "task_kind", "flags", "provenance") if k in raw}
    config = TrainConfig(**_coerce(raw, str(config_path)))
    crop = CropParams.from_dict(resolved["crop"]) if "crop" in resolved else config.crop_params()
    norm = Normalization.from_dict(resolved["normalization"]) if "normalization" in resolved else Normalization()
    return RunInfo(root=root, config=config, task=config.parsed_task, crop=crop, normalization=norm, metrics=metrics,
                   provenance=resolved.get("provenance"))


def find_latest_run(runs_dir: str | Path = "runs") -> Path:
    """The newest finished run under ``runs_dir``: ``model.keras`` plus ``config.json`` and
    ``metrics.json``, which the trainer removes before its first checkpoint and writes again only at
    the end (config, then metrics), so a run still training, or an interrupted re-run into an old
    run's folder, is never picked."""
    base = Path(runs_dir)
    finished = [p for p in base.glob(f"*/{MODEL_FILE}")
                if (p.parent / CONFIG_FILE).is_file() and (p.parent / METRICS_FILE).is_file()] if base.is_dir() else []
    candidates = sorted(finished, key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise RunError(f"no trained run under {base}/; make one with: python train/train.py --out {base}/NAME")
    return candidates[-1].parent


def load_run_crops(run: RunInfo, **overrides: Any):
    """The run's own data (same dataset, crop and labels) as a CropSet: calibration and validation
    for the exporter come from here so that they are preprocessed exactly as in training."""
    return load_config_crops(run.config, list(run.task.aus), run.task.kind, run.crop, **overrides)


def load_config_crops(cfg: TrainConfig, aus: list[str], kind: str, crop, **overrides: Any):
    """The crops a configuration trains on: one dataset, or several (``mtfl+fer2013``) with
    ``meta["dataset"]``; the trainer and the exporter both load through here."""
    from auedge.train.data import load_crops
    from auedge.train.data.multi import load_multi

    kwargs: dict[str, Any] = {
        "cache_dir": cfg.cache_dir,
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
        "limit": cfg.limit,
        "synthetic_sizes": tuple(cfg.synthetic_sizes),
        "keypoints": cfg.keypoints,
        "kind": kind,  # labels as the trainer read them (Bosphorus intensity vs occurrence)
        "emotion_aus": cfg.emotion_aus,
    }
    kwargs.update(overrides)
    if len(cfg.datasets) > 1:
        return load_multi(cfg.datasets, cfg.data_dir, aus, crop, **kwargs)
    return load_crops(cfg.dataset, cfg.data_dir, aus, crop, **kwargs)


def occluders_for(cfg: TrainConfig, split: str, purpose: str) -> dict[str, Any]:
    """Which occluders the exporter pastes on the run's ``split`` for ``purpose``, as a record.

    ``validation``: the trainer's own validation (or testing) occluders, same kind and seed, so the
    exporter judges a variant on the faces the run was scored on. ``calibration``: the training
    occluder mix (with its weights), so int8 ranges cover masked faces as well as bare ones.
    """
    if purpose == "calibration":
        kind, setting, offset = cfg.occlude_train, "occlude_train", CALIB_OCCLUDER_SEED_OFFSET
    elif purpose == "validation" and split in VAL_OCCLUDER_SEED_OFFSETS:
        kind, setting, offset = cfg.occlude_val, "occlude_val", VAL_OCCLUDER_SEED_OFFSETS[split]
    else:
        raise ValueError(f"the trainer pastes validation occluders on val and test faces only, not {split!r}")
    if kind == "none":
        return {"kind": "none", "setting": setting, "seed": None}
    weights = (cfg.mix_weights or None) if purpose == "calibration" else None
    return {"kind": kind, "setting": setting, "seed": cfg.seed + offset, "mix_weights": weights}


def occlude_for(images: np.ndarray, landmarks: np.ndarray, record: dict[str, Any],
                positions: np.ndarray | None = None) -> np.ndarray:
    """Paste the occluders of an :func:`occluders_for` record, deterministically.

    Face ``positions[j]`` of its split gets ``default_rng([seed, positions[j]])``, exactly as
    ``augment.occlude_fixed`` seeds face i of the whole split (the trainer's validation pasting),
    so a subset gets the very pixels the trainer scored without pasting the rest.
    """
    from auedge.train.augment import occlude_fixed_with_kinds
    from auedge.train.occluders import parse_mix_weights

    weights = parse_mix_weights(record.get("mix_weights"))
    return occlude_fixed_with_kinds(images, landmarks, record["kind"], record["seed"], weights, positions)[0]
