"""Fit a model on cached crops, select the checkpoint and threshold on validation, test once.

The discipline is the point: every choice (checkpoint, decision threshold) is made on the
validation split; the test split is predicted exactly once, after training, with those choices.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.atomic_io import write_atomic as atomic_write_text
from auedge.edge.preprocess import Normalization, flip_averaged, normalize
from auedge.train import metrics as M
from auedge.train.augment import (
    AugmentSpec,
    augment_one_with_kind,
    occlude_fixed,
    occlude_fixed_with_kinds,
    occlusion_flags,
)
from auedge.train.config import ConfigError, TrainConfig
from auedge.train.data.manifest import DataError
from auedge.train.fused_batchnorm import training_twin
from auedge.train.models import build_model, logit_model, normalization_for
from auedge.train.runs import CONFIG_FILE, CURVE_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILE
from auedge.train.sampling import balance_weights, group_shares, source_balance
from auedge.train.weight_average import WeightAverage

OCCURRENCE_FROM = 1.0  # an intensity at or above this is an occurrence (FACS' A level)


def task_targets(labels: np.ndarray, kind: str) -> np.ndarray:
    """The targets of a task: intensities as they are, or occurrence = intensity >= 1 (FACS' A level).

    Occurrence is decided by the task kind alone, never by a split's own values: labels are 0-5
    intensities or 0/1 occurrence codes (the manifest's two forms), and ``>= 1`` maps both alike, so
    every split of one dataset gets the same targets (a small split whose intensities all lie below
    1 is all negatives, not soft targets of 0.6 or 0.9). NaN (unknown) stays NaN and is masked out
    of the loss.
    """
    y = labels.astype(np.float32)
    if kind == "occurrence":
        y = np.where(np.isfinite(y), (y >= OCCURRENCE_FROM).astype(np.float32), np.nan)
    return y


class CropSequence:
    """Batches of augmented, normalised crops for one epoch; reshuffled every epoch.

    With ``flag_aus`` the targets gain one column per AU saying whether the occluder pasted on that
    face (``spec.occluder``, usually "mix") covers the AU's region: the occlusion-flag outputs.
    With ``drop_aus`` (the task's AUs, in target column order) an AU's target becomes NaN, out of the
    loss, on a face whose occluder covers that AU's region (``TrainConfig.drop_covered_targets``).
    ``dataset`` is the Keras PyDataset that ``model.fit`` consumes.
    """

    def __init__(self, images, landmarks, targets, spec: AugmentSpec, norm: Normalization, batch: int, seed: int,
                 flag_aus: tuple[str, ...] = (), sample_weights: np.ndarray | None = None,
                 epoch_size: int | None = None, drop_aus: tuple[str, ...] = ()):
        self.images, self.landmarks, self.targets = images, landmarks, targets
        self.spec, self.norm, self.batch, self.seed, self.flag_aus = spec, norm, batch, seed, flag_aus
        self.sample_weights, self.drop_aus = sample_weights, drop_aus
        self.epoch_size = epoch_size or len(images)
        self.epoch = 0
        self.order = self._draw_order()
        self.dataset = _make_py_dataset(self)

    def _draw_order(self) -> np.ndarray:
        """This epoch's faces: a permutation, or ``epoch_size`` draws with replacement by ``sample_weights``
        (an ``epoch_size`` other than the number of faces also draws, uniformly when unweighted)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.sample_weights is None and self.epoch_size == len(self.images):
            return rng.permutation(len(self.images))
        return rng.choice(len(self.images), size=self.epoch_size, replace=True, p=self.sample_weights)

    def __len__(self) -> int:
        return math.ceil(self.epoch_size / self.batch)

    def batch_at(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        order = self.order[idx * self.batch : (idx + 1) * self.batch]
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        made = [augment_one_with_kind(self.images[i], self.landmarks[i], self.spec, rng) for i in order]
        crops = np.stack([m[0] for m in made])
        y = self.targets[order]
        kinds = [m[1] for m in made]
        flags = occlusion_flags(kinds, self.flag_aus) if self.flag_aus else None
        if self.drop_aus:
            same = flags is not None and tuple(self.drop_aus) == tuple(self.flag_aus)
            covered = (flags if same else occlusion_flags(kinds, self.drop_aus)) > 0.5
            y = y.copy()
            y[:, : len(self.drop_aus)][covered] = np.nan
        if flags is not None:
            y = np.concatenate([y, flags], axis=1)
        return normalize(crops, self.norm), y

    def next_epoch(self) -> None:
        self.epoch += 1
        self.order = self._draw_order()


def _make_py_dataset(seq: CropSequence):
    """The Keras side of :class:`CropSequence` (Keras is imported only when training)."""
    import keras

    class _Dataset(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(seq)

        def __getitem__(self, idx: int):
            return seq.batch_at(idx)

        def on_epoch_end(self) -> None:
            seq.next_epoch()

    return _Dataset(workers=1, use_multiprocessing=False)


def masked_loss(kind: str, label_smoothing: float = 0.0, from_logits: bool = False):
    """BCE or MSE that ignores NaN targets (a multi-AU set may lack some labels).

    ``from_logits``: ``y_pred`` are occurrence logits, as training feeds them (a saturated sigmoid
    output still gets its gradient); validation scores probabilities."""
    import keras
    from keras import ops

    def loss(y_true, y_pred):
        mask = ops.cast(ops.logical_not(ops.isnan(y_true)), "float32")
        y = ops.where(mask > 0, y_true, ops.zeros_like(y_true))
        if kind == "occurrence":
            y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
            per = keras.losses.binary_crossentropy(y[..., None], y_pred[..., None], from_logits=from_logits)
        else:
            per = ops.square(y - y_pred)
        return ops.sum(per * mask) / ops.maximum(ops.sum(mask), 1.0)

    return loss


def predict(model, images: np.ndarray, norm: Normalization, batch: int = 128, flip_average: bool = False) -> np.ndarray:
    """Model outputs for uint8 crops, in batches, optionally averaged with the mirrored crop."""

    def infer(x: np.ndarray) -> np.ndarray:
        return model(x, training=False)

    outs = []
    for start in range(0, len(images), batch):
        x = normalize(images[start : start + batch], norm)
        outs.append(flip_averaged(infer, x) if flip_average else np.asarray(infer(x)))
    return np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)


def evaluate(kind: str, aus: list[str], y_true: np.ndarray, y_pred: np.ndarray,
             thresholds: list[float] | None) -> dict[str, Any]:
    """Per-AU metrics; the first AU's figures are also the top-level ones."""
    per_au: dict[str, dict[str, float]] = {}
    for j, au in enumerate(aus):
        t, p = y_true[:, j], y_pred[:, j]
        if kind == "occurrence":
            per_au[au] = M.occurrence_metrics(t, p, thresholds[j] if thresholds else 0.5)
        else:
            per_au[au] = M.intensity_metrics(t, p)
    result: dict[str, Any] = dict(per_au[aus[0]])
    if len(aus) > 1:
        result["per_au"] = per_au
        key = "f1" if kind == "occurrence" else "icc31"
        result[f"mean_{key}"] = float(np.nanmean([per_au[a][key] for a in aus]))
    return result


def selection_score(kind: str, aus: list[str], y_true: np.ndarray, y_pred: np.ndarray,
                    f1_within: list[float] | None = None) -> tuple[float, list[float], list[float]]:
    """The validation figure that picks the checkpoint (mean best-threshold F1, or mean ICC), the
    thresholds (F1-best, or by the recipe's ``threshold_f1_within`` rule per AU) and the F1-best
    thresholds. The checkpoint is picked on best F1 either way, so the rule moves thresholds, never
    the choice of weights."""
    if kind == "occurrence":
        within = f1_within or [0.0] * len(aus)
        picks = [M.thresholds_by_rule(y_true[:, j], y_pred[:, j], within[j]) for j in range(len(aus))]
        return float(np.mean([b[1] for b, _ in picks])), [c[0] for _, c in picks], [b[0] for b, _ in picks]
    iccs = [M.icc31(y_true[:, j], np.clip(y_pred[:, j], 0, 5)) for j in range(len(aus))]
    return float(np.nanmean(iccs)) if not all(math.isnan(v) for v in iccs) else -1.0, [], []


def validation_report(meta: dict[str, np.ndarray], kind: str, aus: list[str], y_true, y_pred,
                      thresholds) -> dict[str, Any]:
    """metrics.json ``val``: the figures, per group and per dataset, at the chosen thresholds
    (the trainer's, and train/threshold.py's after a rule is applied)."""
    return (evaluate(kind, aus, y_true, y_pred, thresholds)
            | {"groups": group_scores(meta, kind, y_true, y_pred, thresholds)}
            | by_dataset(meta, kind, aus, y_true, y_pred, thresholds))


def threshold_rule_record(names: list[str], f1_within: list[float], f1_best: list[float], chosen: list[float],
                          applied_by: str) -> dict[str, Any]:
    """metrics.json (and bundle.json) ``threshold_rule``: how thresholds were chosen when not F1-best."""
    return {"f1_within": {n: d for n, d in zip(names, f1_within) if d > 0}, "f1_best": dict(zip(names, f1_best)),
            "chosen": dict(zip(names, chosen)), "applied_by": applied_by}


def group_scores(meta: dict[str, np.ndarray], kind: str, y_true, y_pred, thresholds) -> dict[str, Any]:
    """Figures per pose and glasses group (MTFL has both labels): on testing, and on validation so
    that a change aimed at profiles can be judged on validation faces."""
    groups: dict[str, Any] = {}
    for key in ("pose", "glasses"):
        if key not in meta:
            continue
        values = np.asarray(meta[key]).astype(str)
        for value in sorted(set(values) - {""}):  # "": faces of a dataset without that label
            sel = values == value
            if sel.sum() < 5:
                continue
            t, p = y_true[sel, 0], y_pred[sel, 0]
            if kind == "occurrence":
                scores = M.binary_scores(t, p >= (thresholds[0] if thresholds else 0.5))
                groups[f"{key}={value}"] = {"f1": scores["f1"], "n": scores["n"], "positives": scores["positives"]}
            else:
                groups[f"{key}={value}"] = {"icc31": M.icc31(t, np.clip(p, 0, 5)), "n": float(sel.sum())}
    return groups


def by_dataset(meta: dict[str, np.ndarray], kind: str, aus: list[str], y_true, y_pred, thresholds) -> dict[str, Any]:
    """Figures per dataset of a several-dataset run (``{"by_dataset": {"mtfl": ..., "fer2013": ...}}``),
    each AU only where that dataset labels it; {} for a one-dataset run."""
    if "dataset" not in meta:
        return {}
    names = np.asarray(meta["dataset"]).astype(str)
    out: dict[str, Any] = {}
    for name in sorted(set(names)):
        sel = names == name
        labelled = [j for j in range(len(aus)) if np.isfinite(y_true[sel, j]).any()]
        if labelled:
            out[name] = evaluate(kind, [aus[j] for j in labelled], y_true[sel][:, labelled], y_pred[sel][:, labelled],
                                 [thresholds[j] for j in labelled] if thresholds else None)
            out[name]["n"] = int(sel.sum())
    return {"by_dataset": out}


GREY48_SIDE = 42  # a FER frame's 48 px hold about 42 px of the 2.4-eye-distance crop


def grey48_report(predict_aus: Callable[[np.ndarray], np.ndarray], test, kind: str, aus: list[str], y_true,
                  thresholds) -> dict[str, Any]:
    """The testing faces that are not grey already (MTFL's colour photos) scored as they are and
    turned into what FER2013 gives: grey, at FER's resolution, enlarged back. How much the model
    depends on colour and detail, the gap the grey/down-sampling augmentations are meant to close."""
    from auedge.train.augment import down_and_up, to_grayscale

    colour = np.array([not np.array_equal(im[..., 0], im[..., 1]) for im in test.images])
    if not colour.any():
        return {}
    images = np.asarray(test.images)[colour]
    grey = np.stack([to_grayscale(down_and_up(im, GREY48_SIDE)) for im in images])
    y = y_true[colour]
    cols = [j for j in range(len(aus)) if np.isfinite(y[:, j]).any()]
    if not cols:
        return {}
    names, picked = [aus[j] for j in cols], ([thresholds[j] for j in cols] if thresholds else None)
    return {"n": int(colour.sum()), "aus": names,
            "colour": evaluate(kind, names, y[:, cols], predict_aus(images)[:, cols], picked),
            "grey48": evaluate(kind, names, y[:, cols], predict_aus(grey)[:, cols], picked)}


FLAG_SEED_OFFSET = 3  # the "mix" occluders of the flag evaluation differ from every other pasted set


def flag_report(predict_flags: Callable[[np.ndarray], np.ndarray], val, test, flag_aus: tuple[str, ...],
                names: list[str], seed: int, bare_scores: np.ndarray | None) -> dict[str, Any]:
    """How well the occlusion-flag outputs tell covered regions.

    ``predict_flags`` gives the flag columns for uint8 crops; ``bare_scores`` are those columns
    already predicted for the bare testing faces (the trainer has them from its own test pass).

    Thresholds are chosen on validation faces with random occluders ("mix", seeded); testing faces
    get their own seeded "mix" and are scored once, per flag and per occluder kind (the share of
    faces flagged). On bare testing faces the share flagged is a false-alarm rate, split by the
    dataset's real glasses label when it has one (MTFL does).
    """
    v_images, v_kinds = occlude_fixed_with_kinds(val.images, val.landmarks, "mix", seed + FLAG_SEED_OFFSET)
    v_true = occlusion_flags(v_kinds, flag_aus)
    v_pred = predict_flags(v_images)
    thresholds = [M.best_threshold(v_true[:, j], v_pred[:, j])[0] for j in range(len(names))]
    report: dict[str, Any] = {
        "thresholds": dict(zip(names, thresholds)),
        "val_mix": {n: M.occurrence_metrics(v_true[:, j], v_pred[:, j], thresholds[j]) for j, n in enumerate(names)},
    }
    if not len(test):
        return report
    t_images, t_kinds = occlude_fixed_with_kinds(test.images, test.landmarks, "mix", seed + FLAG_SEED_OFFSET + 1)
    t_true = occlusion_flags(t_kinds, flag_aus)
    t_pred = predict_flags(t_images)
    report["test_mix"] = {n: M.occurrence_metrics(t_true[:, j], t_pred[:, j], thresholds[j]) for j, n in enumerate(names)}
    kinds = np.asarray(t_kinds)
    report["test_mix_flagged_by_kind"] = {
        kind: {n: float(np.mean(t_pred[kinds == kind, j] >= thresholds[j])) for j, n in enumerate(names)}
        for kind in sorted(set(t_kinds))
    }
    bare = bare_scores >= np.asarray(thresholds)
    report["test_bare_flagged"] = {n: float(bare[:, j].mean()) for j, n in enumerate(names)}
    if "glasses" in test.meta:
        glasses = np.asarray(test.meta["glasses"]).astype(str)
        report["test_bare_flagged_by_glasses"] = {
            f"glasses={g}": {n: float(bare[glasses == g, j].mean()) for j, n in enumerate(names)}
            for g in sorted(set(glasses))
        }
    return report


@dataclass
class RunResult:
    out: Path
    metrics: dict[str, Any]
    seconds: float


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Stop glibc from handing every freed activation buffer back to the kernel.

    A training step allocates and frees tensors of tens to hundreds of MB; glibc serves those with
    mmap and returns them with munmap, so every step page-faults all of them in again. Measured on
    2 cores: 46 % of the CPU time in the kernel, 3.1 s per MobileNetV2 batch of 64 at 160 px; with
    freed memory kept in the heap, 2.1-2.3 s.

    That covers the main heap only: TensorFlow's worker threads allocate from glibc's per-thread
    arenas, which still give freed pages back (``madvise``) and fault them in again, about 250,000
    page faults and 0.9 s of kernel time per step late in a run, when epochs had slowed from 220 s
    to 350 s. One arena for every thread removes them: measured on the same 2 cores, 25 training
    steps of the MTFL recipe took 1.81-1.97 s each against 2.38-2.51 s, with 800-1,000 page faults
    per step instead of 233,000-279,000. In a whole MTFL run the gain is smaller: quiet epochs stayed
    at 247-286 s where, without it, they had risen from 220 s to 350 s (experiments/mtfl_au12.md,
    runs 7 and 8). Call this before TensorFlow starts its threads.
    No-op (False) where glibc's mallopt is absent.
    """
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(bool(mallopt(param, value)) for param, value in
               ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_ARENA_MAX, 1)))


def configure_threads(threads: int) -> None:
    import tensorflow as tf

    if threads > 0:
        # Inter-op parallelism equal to the cores, not 1: MobileNetV2's independent ops (BatchNorm
        # statistics, the optimizer's per-variable updates) then overlap; measured on 2 cores,
        # 3.2 s per batch of 64 at 160 px against 3.8 s with one inter-op thread.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def save_model_atomic(model, path: Path) -> None:
    """Checkpoint to a temporary name then rename, so an interrupt never leaves half a model."""
    tmp = path.with_name(f".{path.stem}.partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


def write_curve(history: list[dict[str, float]], path: Path, metric_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(epochs, [h["loss"] for h in history], "o-", label="train loss")
    ax1.plot(epochs, [h["val_loss"] for h in history], "s-", label="val loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax2 = ax1.twinx()
    ax2.plot(epochs, [h[f"val_{metric_name}"] for h in history], "^-", color="tab:green", label=f"val {metric_name}")
    ax2.set_ylabel(f"validation {metric_name}")
    lines = ax1.get_lines() + ax2.get_lines()
    ax1.legend(lines, [line.get_label() for line in lines], loc="center right")
    ax1.set_title(path.parent.name)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def check_every_au_labelled(labels: np.ndarray, aus: list[str], dataset: str) -> None:
    """Refuse a task with an AU no training face has a label for.

    Its output would train on nothing (NaN targets are masked) and still be shipped in the bundle
    as if it had learned something.
    """
    empty = [au for au, column in zip(aus, np.asarray(labels, dtype=np.float32).T) if not np.isfinite(column).any()]
    if empty:
        raise DataError(f"dataset {dataset}: no training face has a label for {', '.join(empty)}; "
                        "drop it from the task or give data that labels it")


def check_intensity_labels(labels: np.ndarray, task_name: str, dataset: str) -> None:
    """Refuse an intensity task whose training labels are all 0 or 1: those are occurrence codes.

    Regression on them would fit a yes/no answer and report an ICC as if it had learned 0-5
    intensities (MTFL's smile labels, a Bosphorus occurrence manifest). Real intensity data has other
    values somewhere in its training split; the synthetic faces' intensities are continuous.
    """
    values = np.asarray(labels, dtype=np.float32)
    values = values[np.isfinite(values)]
    if values.size and np.isin(values, (0.0, 1.0)).all():
        occurrence = task_name.rpartition("-")[0] + "-occurrence"
        raise DataError(f"dataset {dataset}: every training label of task {task_name} is 0 or 1, occurrence codes "
                        f"rather than 0-5 intensities; use --task {occurrence}, or give data with intensity labels")


def load_splits(cfg: TrainConfig, crop) -> tuple[Any, Any, Any]:
    """The run's train, validation and test CropSets, checked.

    Only the three splits are kept: the whole set ``load_crops`` returns (for the synthetic faces a
    concatenated copy of every split) is dropped here, so the trainer does not hold every crop twice.
    Raises DataError when a split the trainer needs is empty or its labels cannot train the task.
    """
    from auedge.train.runs import load_config_crops

    task = cfg.parsed_task
    data = load_config_crops(cfg, list(task.aus), task.kind, crop)
    train, val, test = data.where("train"), data.where("val"), data.where("test")
    del data
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"dataset {cfg.dataset} gave {len(train)} training and {len(val)} validation images; "
                        "need both (more faces, a larger --limit or another --val-fraction)")
    check_every_au_labelled(train.labels, list(task.aus), cfg.dataset)
    if task.kind == "intensity":
        check_intensity_labels(train.labels, task.name, cfg.dataset)
    return train, val, test


def clear_finished_markers(out: Path) -> None:
    """Remove what marks ``out`` as a finished run (config.json, metrics.json) before a training in
    it writes its first checkpoint: a forced re-run interrupted later leaves an unfinished folder,
    never a new model.keras next to the old run's config and metrics."""
    for name in (METRICS_FILE, CONFIG_FILE):
        (out / name).unlink(missing_ok=True)


def source_provenance(recipe: str | None = None) -> dict[str, Any]:
    """Which code and recipe made a run: the git commit of the package's checkout (None outside
    one), whether it had uncommitted changes, the recipe file and the command line. Written into
    config.json so that the exporter can carry it into bundle.json and a model card can cite it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    commit, dirty = None, None
    try:
        # Only the package's own checkout: an installed copy inside another repository (a venv in it)
        # would otherwise record that repository's HEAD.
        if Path(git("rev-parse", "--show-toplevel")).resolve() == root:
            commit = git("rev-parse", "HEAD") or None
            dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        pass
    return {"commit": commit, "dirty": dirty, "recipe": recipe, "argv": list(sys.argv),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def fit(cfg: TrainConfig, out: Path, recipe: str | None = None) -> RunResult:
    """Train one model as configured and write the run folder ``out``.

    The folder is finished only when ``config.json`` and then ``metrics.json`` exist; both are
    written at the end, after every checkpoint. Before the first checkpoint (which may replace an
    earlier run's model.keras when training again into the same folder) both are removed, so an
    interrupted run is never taken for a finished one: ``runs.find_latest_run`` and the table
    runner skip it, and ``read_run`` refuses it.
    """
    start = time.time()
    provenance = source_provenance(recipe)
    keep_freed_memory()
    configure_threads(cfg.threads)
    import keras

    keras.utils.set_random_seed(cfg.seed)
    task = cfg.parsed_task
    crop = cfg.crop_params()
    norm = normalization_for(cfg.arch, cfg.weights)
    train, val, test = load_splits(cfg, crop)
    y_train, y_val = task_targets(train.labels, task.kind), task_targets(val.labels, task.kind)
    log(f"data: {len(train)} train, {len(val)} val, {len(test)} test crops of {crop.size}px ({cfg.dataset})")

    flag_aus = tuple(task.aus) if cfg.occlusion_flags else ()
    n_aus = len(task.aus)
    model = build_model(cfg.arch, cfg.head, task.kind, outputs=n_aus + len(flag_aus), input_size=crop.size,
                        weights=cfg.weights, output_rows=cfg.output_rows())
    steps = math.ceil((cfg.epoch_size or len(train)) / cfg.batch_size)
    lr = (keras.optimizers.schedules.CosineDecay(cfg.lr, decay_steps=steps * cfg.epochs, alpha=0.01)
          if cfg.schedule == "cosine" else cfg.lr)
    optimizer = keras.optimizers.Adam(lr) if cfg.optimizer == "adam" else keras.optimizers.SGD(lr, momentum=0.9)
    # Train a twin with fused BatchNorm (20 % faster per step on CPU); ``model`` stays plain Keras
    # and receives the twin's weights before every save.
    # Occurrence models train on their logits (models.logit_model says why); the twin shares the
    # model's weights in the same order, the sigmoid having none.
    logits = logit_model(model)
    twin, fused = training_twin(logits if logits is not None else model)
    twin.compile(optimizer=optimizer, loss=masked_loss(task.kind, cfg.label_smoothing, from_logits=logits is not None))
    log(f"model: {model.name}, {model.count_params():,} parameters; {steps} steps per epoch"
        f"{f'; {fused} BatchNorm layers fused for training' if fused else ''}"
        f"{f'; checkpoints hold the weight average (decay {cfg.weight_average})' if cfg.weight_average else ''}")

    spec = AugmentSpec.from_config(cfg, occluder=cfg.occlude_train)
    if spec.mix_weights is not None:
        from auedge.train.occluders import MIX_KINDS

        log("weighted mix of training occluders: " + ", ".join(
            f"{k} {p:.1%}" for k, p in zip(MIX_KINDS, spec.mix_weights)))
    sample_weights = None
    if cfg.source_weights:
        sample_weights = source_balance(train.meta["dataset"], cfg.source_weights)
        shares = ", ".join(f"{g} {v:.1%}" for g, v in group_shares(train.meta["dataset"], sample_weights).items())
        log(f"source-balanced sampling: expected share per dataset {shares}; "
            f"{cfg.epoch_size or len(train)} faces per epoch")
    if cfg.pose_balance and sample_weights is not None:
        raise ConfigError("pose_balance and source_weights cannot be combined yet; keep one")
    if cfg.pose_balance:
        if "pose" not in train.meta:
            raise ConfigError(f"pose_balance needs a dataset with a pose label; {cfg.dataset} has none (set it to 0)")
        sample_weights = balance_weights(train.meta["pose"], cfg.pose_balance)
        shares = ", ".join(f"{g} {v:.1%}" for g, v in group_shares(train.meta["pose"], sample_weights).items())
        log(f"pose-balanced sampling (power {cfg.pose_balance}): expected share per pose {shares}")
    seq = CropSequence(train.images, train.landmarks, y_train, spec, norm, cfg.batch_size, cfg.seed, flag_aus=flag_aus,
                       sample_weights=sample_weights, epoch_size=cfg.epoch_size,
                       drop_aus=tuple(task.aus) if cfg.drop_covered_targets else ())
    val_images = occlude_fixed(val.images, val.landmarks, cfg.occlude_val, seed=cfg.seed + 1)
    val_loss_fn = masked_loss(task.kind, 0.0)
    tolerances = cfg.f1_tolerances()  # threshold_f1_within per AU (0: F1-best)
    metric_name = "f1" if task.kind == "occurrence" else "icc31"

    out.mkdir(parents=True, exist_ok=True)
    clear_finished_markers(out)
    model_path = out / MODEL_FILE
    history: list[dict[str, float]] = []
    best = {"score": -math.inf, "epoch": 0, "thresholds": [], "f1_best": []}
    best_weights = None

    average = WeightAverage(cfg.weight_average) if cfg.weight_average else None

    class AverageWeights(keras.callbacks.Callback):
        """Fold every step's weights (BatchNorm statistics included) into the running average."""

        def on_train_batch_end(self, batch, logs=None):
            average.update(twin.get_weights())

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            nonlocal best_weights
            # Validation scores the weights a checkpoint would hold: the average when one is kept.
            raw = twin.get_weights()
            candidate = average.weights(raw) if average else raw
            model.set_weights(candidate)
            pred = predict(model, val_images, norm, flip_average=cfg.flip_average)[:, :n_aus]
            score, thresholds, f1_best = selection_score(task.kind, list(task.aus), y_val, pred, tolerances)
            val_loss = float(val_loss_fn(y_val, pred.astype(np.float32)))
            row = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan"))), "val_loss": val_loss,
                   f"val_{metric_name}": score, "seconds": round(time.time() - start, 1)}
            if thresholds:
                row["val_threshold"] = thresholds[0]
            history.append(row)
            improved = score > best["score"]
            if improved:
                best.update(score=score, epoch=epoch + 1, thresholds=thresholds, f1_best=f1_best)
                best_weights = candidate
                save_model_atomic(model, model_path)
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {row['loss']:.4f} val_loss {val_loss:.4f} "
                f"val_{metric_name} {score:.4f}{' (best, saved)' if improved else ''} [{row['seconds']:.0f}s]")

    class StepProgress(keras.callbacks.Callback):
        """A line every ~10 % of an epoch with an ETA, for logs of background runs (no tty)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t0 = epoch, time.time()

        def on_train_batch_end(self, batch, logs=None):
            every = max(1, steps // 10)
            if (batch + 1) % every == 0 and batch + 1 < steps:
                rate = (time.time() - self.t0) / (batch + 1)
                log(f"  epoch {self.epoch + 1}/{cfg.epochs} step {batch + 1}/{steps} "
                    f"loss {float(logs.get('loss', float('nan'))):.4f} eta {rate * (steps - batch - 1):.0f}s")

    tty = sys.stderr.isatty()
    callbacks = ([AverageWeights()] if average else []) + ([EpochEnd()] if tty else [StepProgress(), EpochEnd()])
    twin.fit(seq.dataset, epochs=cfg.epochs, callbacks=callbacks, verbose=1 if tty else 0)
    model.set_weights(best_weights if best_weights is not None else twin.get_weights())

    thresholds = best["thresholds"] or None
    val_pred = predict(model, val_images, norm, flip_average=cfg.flip_average)[:, :n_aus]
    result: dict[str, Any] = {
        "val": validation_report(val.meta, task.kind, list(task.aus), y_val, val_pred, thresholds),
        "threshold": thresholds[0] if thresholds else None,
        "thresholds": dict(zip(task.au_names, thresholds)) if thresholds else None,
        "best_epoch": best["epoch"],
        "selection": f"checkpoint and threshold chosen on validation ({metric_name})"
                     + "".join(f"; {au} threshold: the highest within {d} F1 of its best"
                               for au, d in zip(task.au_names, tolerances) if d > 0)
                     + (f"; weights averaged over training steps (decay {cfg.weight_average})"
                        if cfg.weight_average else ""),
    }
    if thresholds and any(d > 0 for d in tolerances):
        result["threshold_rule"] = threshold_rule_record(
            task.au_names, tolerances, best["f1_best"], thresholds,
            "the trainer, from the recipe's threshold_f1_within (validation split only)")
    if len(test):
        y_test = task_targets(test.labels, task.kind)
        test_images = occlude_fixed(test.images, test.landmarks, cfg.occlude_val, seed=cfg.seed + 2)
        test_full = predict(model, test_images, norm, flip_average=cfg.flip_average)
        test_pred, bare_full = test_full[:, :n_aus], test_full
        result["test"] = evaluate(task.kind, list(task.aus), y_test, test_pred, thresholds)
        result["test"]["groups"] = group_scores(test.meta, task.kind, y_test, test_pred, thresholds)
        result["test"] |= by_dataset(test.meta, task.kind, list(task.aus), y_test, test_pred, thresholds)
        if {"g", "d"} & cfg.augment_set or len(cfg.datasets) > 1:
            result["test_grey48"] = grey48_report(
                lambda images: predict(model, images, norm, flip_average=cfg.flip_average)[:, :n_aus],
                test, task.kind, list(task.aus), y_test, thresholds)
        if cfg.occlude_val != "none":
            # The same model on bare test faces, so every occluded figure has its bare twin.
            bare_full = predict(model, test.images, norm, flip_average=cfg.flip_average)
            result["test_bare"] = evaluate(task.kind, list(task.aus), y_test, bare_full[:, :n_aus], thresholds)
            result["test_bare"] |= by_dataset(test.meta, task.kind, list(task.aus), y_test, bare_full[:, :n_aus],
                                              thresholds)
    if flag_aus:
        flags = flag_report(
            lambda images: predict(model, images, norm, flip_average=cfg.flip_average)[:, n_aus:],
            val, test, flag_aus, cfg.flag_names, cfg.seed, bare_full[:, n_aus:] if len(test) else None)
        result["occlusion_flags"] = flags
        result["thresholds"] = (result["thresholds"] or {}) | flags["thresholds"]
        log("occlusion flags: " + ", ".join(
            f"{name} val F1 {flags['val_mix'][name]['f1']:.3f}" for name in flags["thresholds"]))
    result["data"] = {
        "dataset": cfg.dataset,
        "datasets": cfg.datasets,
        "synthetic": cfg.dataset == "synthetic",
        "counts": {"train": len(train), "val": len(val), "test": len(test)},
        "positives_train": float(np.nansum(y_train[:, 0] > 0.5)) if task.kind == "occurrence" else None,
        "occlude_train": cfg.occlude_train,
        "occlude_val": cfg.occlude_val,
        "keypoints": cfg.keypoints,
    }
    if "keypoints" in train.meta:  # how many crops the detector cut; the rest fell back to labels or a template
        result["data"]["from_detector"] = {
            name: int((part.meta["keypoints"] == "detector").sum()) for name, part in
            (("train", train), ("val", val), ("test", test))}
        result["data"]["keypoint_sources"] = {
            name: {k: int(v) for k, v in zip(*np.unique(part.meta["keypoints"], return_counts=True))}
            for name, part in (("train", train), ("val", val), ("test", test))}
    if "dataset" in train.meta:
        result["data"]["counts_by_dataset"] = {
            name: {k: int(v) for k, v in zip(*np.unique(part.meta["dataset"], return_counts=True))}
            for name, part in (("train", train), ("val", val), ("test", test))}
    result["config"] = cfg.to_dict()
    result["parameters"] = int(model.count_params())
    result["seconds"] = round(time.time() - start, 1)

    config_dump = cfg.to_dict() | {"crop": crop.to_dict(), "normalization": norm.to_dict(),
                                   "aus": list(task.aus), "task_kind": task.kind, "flags": cfg.flag_names,
                                   "provenance": provenance}
    atomic_write_text(out / CONFIG_FILE, json.dumps(config_dump, indent=2))
    atomic_write_text(out / METRICS_FILE, json.dumps(result, indent=2, default=float))
    with open(out / f".{HISTORY_FILE}.tmp", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    os.replace(out / f".{HISTORY_FILE}.tmp", out / HISTORY_FILE)
    write_curve(history, out / CURVE_FILE, metric_name)
    return RunResult(out=out, metrics=result, seconds=result["seconds"])
