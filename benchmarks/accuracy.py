"""``python benchmarks/accuracy.py --bundle B``: every variant against the float Keras model and the labels.

Each variant runs through the device's own code path (``Estimator.estimate_aligned``: the same
LUT normalisation, quantization and dequantization as on a device) on aligned crops made with the
bundle's crop parameters from the evaluation split (``load_crops``; MTFL's testing split is
``test``). The float Keras model of the run that made the bundle (``bundle.json`` training.run,
or ``--keras``) is the reference row of every table; without TensorFlow or the run folder the
tflite fp32 model stands in and the JSON says so.

Figures: occurrence -> F1, precision, recall, accuracy at the bundle's threshold, ROC AUC, and
class agreement with float; intensity -> ICC(3,1), MAE, Pearson r, and ICC / MAE vs float. The
drop of each variant vs float (F1 or ICC) comes with a paired bootstrap 95% CI (1000 resamples,
seeded). ``--occlude KIND`` repeats everything with an occluder pasted deterministically
(``occlude_fixed``); ``--occlude mouth`` means every mouth occluder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.stats import paired_bootstrap
from auedge.benchmarks.store import BenchmarkError, ResultFiles, format_table, load_average, write_json

Log = Callable[[str], None]
REFERENCE = "keras-float"
INTENSITY_OCCURRENCE = 1.0  # FACS A level: intensity >= 1 counts as present (as the trainer does)
OCCLUSION_SEED = 0


@dataclass
class AccuracyOptions:
    bundle: str
    dataset: str | None = None
    data_dir: str | None = None
    split: str = "test"
    occlude: list[str] = field(default_factory=list)
    keras: str | None = None
    variants: str = "all"
    limit: int | None = None
    keras_limit: int | None = None
    threads: int = 1
    resamples: int = 1000
    seed: int = 0
    out_dir: str | None = None

    def check(self) -> AccuracyOptions:
        """Refuse bad numbers before any data is loaded."""
        for flag, value, least in (("--threads", self.threads, 1), ("--resamples", self.resamples, 1),
                                   ("--limit", self.limit, 1), ("--keras-limit", self.keras_limit, 1)):
            if value is not None and value < least:
                raise BenchmarkError(f"{flag} must be >= {least}, got {value}")
        return self


@dataclass
class AccuracyResult:
    json_path: Path
    data: dict[str, Any]
    tables: list[str]


# --- data -------------------------------------------------------------------------------------------


def occlusion_kinds(requested: list[str]) -> list[str]:
    """``none`` first, then the requested occluders; ``mouth`` / ``eyes`` expand to every such kind."""
    from auedge.train.occluders import OCCLUDER_KINDS, covered_regions

    kinds = ["none"]
    for text in requested:
        value = text.strip().lower()
        if value in ("mouth", "eyes", "brows"):
            picked = [k for k in OCCLUDER_KINDS if value in covered_regions(k)]
        elif value in OCCLUDER_KINDS or value == "none":
            picked = [value]
        else:
            raise BenchmarkError(f"unknown occluder {text!r}; use mouth, eyes or one of {', '.join(OCCLUDER_KINDS)}")
        kinds += [k for k in picked if k not in kinds]
    return kinds


def resolve_dataset(options: AccuracyOptions, training: dict[str, Any], log: Log) -> tuple[str, str | None, str]:
    """(dataset, data_dir, note): the asked dataset, else the bundle's training dataset when its data
    is here, else the embedded synthetic faces (which need no download)."""
    from auedge.train.data import default_data_dir

    if options.dataset:
        return options.dataset, options.data_dir, "as asked"
    trained_on = str(training.get("dataset") or "synthetic")
    if "+" in trained_on:
        raise BenchmarkError(f"the bundle was trained on several datasets ({trained_on}); pass --dataset with one "
                             "of them (main() scores each in turn when --dataset is left out)")
    if trained_on == "synthetic":
        return "synthetic", None, "the bundle's training dataset (embedded synthetic faces)"
    folder = Path(options.data_dir) if options.data_dir else default_data_dir(trained_on)
    if folder.exists():
        return trained_on, str(folder), "the bundle's training dataset"
    log(f"note: {trained_on} data not found at {folder}; evaluating on the embedded synthetic faces instead")
    return "synthetic", None, f"embedded synthetic faces ({trained_on} data absent at {folder})"


def training_keypoints(bundle: Any) -> str:
    """Where the bundle's training cut its crops from ("labels" or "detector"): evaluations cut theirs the same way,
    or a model trained on detector crops is scored on crops it never saw."""
    return str((bundle.manifest.get("training") or {}).get("keypoints", "labels"))


def load_eval_crops(options: AccuracyOptions, bundle: Any, dataset: str, data_dir: str | None, log: Log) -> Any:
    from auedge.train.data import DataError, load_crops

    aus = [spec.au.lower() for _, spec in labelled_outputs(bundle)]  # occlusion flags are not label columns
    sizes = (0, 0, 600) if options.split == "test" else (0, 600, 0) if options.split == "val" else (3000, 0, 0)
    try:
        crops = load_crops(dataset, data_dir, aus, bundle.crop, synthetic_sizes=sizes,
                           keypoints=training_keypoints(bundle) if dataset != "synthetic" else "labels",
                           emotion_aus=(bundle.manifest.get("training") or {}).get("emotion_aus"))
    except DataError as exc:
        raise BenchmarkError(str(exc)) from exc
    picked = crops.subset(crops.split == options.split)
    if not len(picked):
        raise BenchmarkError(f"dataset {dataset} has no {options.split!r} rows; choose --split train, val or test")
    if options.limit is not None and options.limit < len(picked):
        order = np.sort(np.random.default_rng(options.seed).permutation(len(picked))[: options.limit])
        picked = picked.subset(order)
    log(f"data: {len(picked)} {options.split} crops of {dataset} ({picked.summary()})")
    return picked


# --- predictions --------------------------------------------------------------------------------------


def keras_path(explicit: str | None, bundle: Any, training: dict[str, Any]) -> Path | None:
    """``explicit`` (a --keras flag) or the bundle's training run's model.keras where it is found."""
    if explicit:
        return Path(explicit)
    run = training.get("run")
    if not run:
        return None
    for base in (Path.cwd() / "runs", Path(__file__).resolve().parents[1] / "runs", bundle.root.parent.parent / "runs"):
        candidate = base / str(run) / "model.keras"
        if candidate.is_file():
            return candidate
    return None


def keras_predictions(path: Path, images_by_kind: dict[str, np.ndarray], bundle: Any, threads: int) -> dict[str, Any]:
    """Float Keras outputs per occlusion kind, clipped to each output's range like the device does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    import keras
    from auedge.edge.preprocess import flip_averaged, normalize

    model = keras.models.load_model(str(path), compile=False)
    lows, highs, index = _output_layout(bundle)
    first = next(iter(images_by_kind.values()), None)
    if first is not None and len(first):  # trace the graph once, outside the timing
        model(normalize(first[:1], bundle.normalization), training=False)
    # The device averages with the mirrored crop when the bundle says so; the reference must too.
    flip = bool((bundle.manifest.get("inference") or {}).get("flip_average", False))

    def run(images: np.ndarray) -> np.ndarray:
        return np.concatenate([
            np.asarray(model(normalize(images[i : i + 64], bundle.normalization), training=False))
            for i in range(0, len(images), 64)
        ]).reshape(len(images), -1)

    out, seconds = {}, 0.0
    for kind, images in images_by_kind.items():
        start = time.perf_counter()
        raw = flip_averaged(run, images) if flip else run(images)
        seconds += time.perf_counter() - start
        out[kind] = np.clip(raw[:, index], lows, highs)
    total = sum(len(v) for v in images_by_kind.values())
    return {"values": out, "ms_per_face": 1000.0 * seconds / max(1, total), "batch": 64, "flip_average": flip}


def decision_thresholds(bundle: Any) -> np.ndarray:
    """Per output, where a value becomes "present": the bundle's threshold for an occurrence output
    (the runtime's default when it has none), the FACS A level for an intensity output."""
    from auedge.edge.estimator import DEFAULT_THRESHOLD

    return np.array([(DEFAULT_THRESHOLD if o.threshold is None else o.threshold) if o.kind == "occurrence"
                     else INTENSITY_OCCURRENCE for o in bundle.outputs], dtype=np.float64)


def keras_vs_variant(keras: dict[str, Any], predictions: dict[str, Any], name: str, pick: np.ndarray,
                     thresholds: np.ndarray) -> dict[str, Any]:
    """How closely a variant reproduces Keras on the faces Keras ran on (all conditions pooled);
    decision agreement at each output's own threshold (``decision_thresholds``), as the figures use."""
    diffs, agree = [], []
    for kind, values in keras["values"].items():
        other = predictions[name]["values"][kind][pick]
        diffs.append(np.abs(values - other).ravel())
        agree.append(((values >= thresholds) == (other >= thresholds)).ravel())
    return {"variant": name, "faces": len(pick), "max_abs_diff": float(np.max(np.concatenate(diffs))),
            "mean_abs_diff": float(np.mean(np.concatenate(diffs))), "agreement": float(np.mean(np.concatenate(agree))),
            "keras_ms_per_face": keras["ms_per_face"], "source": keras["source"]}


def labelled_outputs(bundle: Any) -> list[tuple[int, Any]]:
    """The AU outputs that have label columns: occlusion flags ("AU12_occluded") are not AUs."""
    from auedge.edge.bundle import OCCLUDED_SUFFIX

    return [(j, spec) for j, spec in enumerate(bundle.outputs) if not spec.au.endswith(OCCLUDED_SUFFIX)]


def _output_layout(bundle: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lows = np.array([o.range[0] for o in bundle.outputs], dtype=np.float32)
    highs = np.array([o.range[1] for o in bundle.outputs], dtype=np.float32)
    return lows, highs, np.array([o.index for o in bundle.outputs])


def variant_predictions(bundle: Any, name: str, images_by_kind: dict[str, np.ndarray], threads: int) -> dict[str, Any]:
    """One variant's values on every condition; a model that cannot be loaded is a BenchmarkError naming it."""
    from auedge.edge.backends import BackendError
    from auedge.edge.bundle import BundleError
    from auedge.edge.estimator import Estimator, EstimatorOptions

    try:
        estimator = Estimator.create_from_options(EstimatorOptions(bundle_path=bundle.root, model=name,
                                                                   num_threads=threads, check_hash=False))
    except (BackendError, BundleError) as exc:
        raise BenchmarkError(f"variant {name}: {exc}") from exc
    out, seconds = {}, 0.0
    for kind, images in images_by_kind.items():
        start = time.perf_counter()
        out[kind] = estimator.estimate_aligned(images)
        seconds += time.perf_counter() - start
    backend = estimator.backend.name
    estimator.close()
    total = sum(len(v) for v in images_by_kind.values())
    return {"values": out, "ms_per_face": 1000.0 * seconds / max(1, total), "backend": backend}


# --- figures --------------------------------------------------------------------------------------------


def occurrence_truth(labels: np.ndarray) -> np.ndarray:
    """0/1 truth; intensity labels (0-5) count as present from 1 (A level), NaN stays NaN.

    The same rule for every set (as ``trainer.task_targets``): 0/1 codes map to themselves, and a
    small set whose intensities all lie below 1 is all negatives, not scored on raw 0.6 or 0.9.
    """
    y = labels.astype(np.float64)
    return np.where(np.isfinite(y), (y >= INTENSITY_OCCURRENCE).astype(np.float64), np.nan)


def f1_of(truth: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    from auedge.train.metrics import f1_score

    return f1_score(truth, scores >= threshold)


def occurrence_figures(truth: np.ndarray, scores: np.ndarray, reference: np.ndarray | None, threshold: float) -> dict:
    from auedge.train.metrics import confusion, occurrence_metrics

    figures = occurrence_metrics(truth, scores, threshold)
    keep = np.isfinite(truth)
    tp, fp, fn, tn = confusion(truth[keep], (scores[keep] >= threshold).astype(np.float64))
    figures["confusion"] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    if reference is not None:
        figures["agreement_vs_float"] = float(np.mean((scores >= threshold) == (reference >= threshold)))
        figures["max_abs_diff_vs_float"] = float(np.max(np.abs(scores - reference))) if scores.size else 0.0
    return figures


def intensity_figures(truth: np.ndarray, values: np.ndarray, reference: np.ndarray | None, lo: float, hi: float) -> dict:
    from auedge.train.metrics import confusion, icc31, intensity_metrics, mae

    figures = intensity_metrics(truth, values, lo, hi)
    keep = np.isfinite(truth)
    tp, fp, fn, tn = confusion((truth[keep] >= INTENSITY_OCCURRENCE).astype(np.float64),
                               (values[keep] >= INTENSITY_OCCURRENCE).astype(np.float64))
    figures["confusion"] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "at": INTENSITY_OCCURRENCE}
    if reference is not None:
        figures["icc_vs_float"] = icc31(reference, values)
        figures["mae_vs_float"] = mae(reference, values)
    return figures


def drop_interval(kind: str, truth: np.ndarray, reference: np.ndarray, values: np.ndarray, threshold: float,
                  resamples: int, seed: int) -> dict[str, Any]:
    """Float metric minus variant metric on the same faces, with a paired bootstrap 95% CI."""
    from auedge.train.metrics import icc31

    keep = np.isfinite(truth)
    t, r, v = truth[keep], reference[keep], values[keep]
    if kind == "occurrence":
        def statistic(t_, r_, v_):
            return f1_of(t_, r_, threshold) - f1_of(t_, v_, threshold)
        metric = "f1"
    else:
        def statistic(t_, r_, v_):
            return icc31(t_, r_) - icc31(t_, v_)
        metric = "icc31"
    interval = paired_bootstrap(statistic, [t, r, v], resamples=resamples, seed=seed)
    return {"metric": metric, **interval.to_dict()}


# --- the whole run --------------------------------------------------------------------------------------


def evaluate(options: AccuracyOptions, log: Log = print) -> AccuracyResult:
    from auedge.edge.bundle import BundleError, load_bundle

    options.check()
    try:
        bundle = load_bundle(options.bundle)
    except BundleError as exc:
        raise BenchmarkError(str(exc)) from exc
    kinds = occlusion_kinds(options.occlude)
    names = [m.name for m in bundle.models] if options.variants == "all" else [
        n.strip() for n in options.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in {m.name for m in bundle.models}]
    if unknown:
        raise BenchmarkError(f"bundle {bundle.root} has no variant {unknown[0]!r}")
    training = bundle.manifest.get("training") or {}
    dataset, data_dir, data_note = resolve_dataset(options, training, log)
    load_before = load_average()
    crops = load_eval_crops(options, bundle, dataset, data_dir, log)

    from auedge.train.augment import occlude_fixed

    images = {k: occlude_fixed(crops.images, crops.landmarks, k, OCCLUSION_SEED) for k in kinds}
    predictions: dict[str, dict[str, Any]] = {}
    for name in names:
        predictions[name] = variant_predictions(bundle, name, images, options.threads)
        log(f"variant {name}: {predictions[name]['ms_per_face']:.2f} ms/face on {predictions[name]['backend']}")
    reference_name, reference_note, keras_check = REFERENCE, "", None
    path = keras_path(options.keras, bundle, training)
    subset = options.keras_limit is not None and options.keras_limit < len(crops)
    if path is not None and path.is_file():
        pick = np.sort(np.random.default_rng(options.seed).permutation(len(crops))[: options.keras_limit]) if subset \
            else np.arange(len(crops))
        try:
            keras = keras_predictions(path, {k: v[pick] for k, v in images.items()}, bundle, options.threads)
            keras["source"] = str(path)
            reference_note = f"float Keras model {path}"
            log(f"keras: {reference_note} ({keras['ms_per_face']:.2f} ms/face, batch 64, {len(pick)} faces per condition)")
            if subset:
                keras_check = keras_vs_variant(keras, predictions, "fp32" if "fp32" in names else names[0], pick,
                                               decision_thresholds(bundle))
            else:
                predictions[REFERENCE] = keras
        except ImportError as exc:
            reference_note = f"TensorFlow/Keras unavailable ({exc})"
    else:
        reference_note = f"Keras model not found (run {training.get('run')!r}; pass --keras runs/NAME/model.keras)"
    if REFERENCE not in predictions:
        reference_name = "fp32" if "fp32" in names else names[0]
        if keras_check:
            reference_note += (f" on a seeded subset of {keras_check['faces']} faces per condition (--keras-limit), where "
                               f"it matches {reference_name} within {keras_check['max_abs_diff']:.2g} "
                               f"(decision agreement {keras_check['agreement']:.4f}); the reference row on all faces "
                               f"is therefore the {reference_name} variant")
        else:
            reference_note += f"; the reference row is the {reference_name} variant"
        log(f"note: {reference_note}")

    rows = [reference_name] + [n for n in [REFERENCE, *names] if n in predictions and n != reference_name]
    thresholds = decision_thresholds(bundle)
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        per_row: dict[str, Any] = {}
        for row in rows:
            per_au = {}
            for j, spec in labelled_outputs(bundle):
                truth = crops.labels[:, j].astype(np.float64)
                if not np.isfinite(truth).any():  # an AU this dataset does not label (MTFL has no AU4)
                    continue
                values = predictions[row]["values"][kind][:, j].astype(np.float64)
                ref = predictions[reference_name]["values"][kind][:, j].astype(np.float64)
                is_ref = row == reference_name
                if spec.kind == "occurrence":
                    threshold = thresholds[j]
                    figures = occurrence_figures(occurrence_truth(truth), values, None if is_ref else ref, threshold)
                    if not is_ref:
                        figures["drop_vs_float"] = drop_interval("occurrence", occurrence_truth(truth), ref, values,
                                                                 threshold, options.resamples, options.seed)
                else:
                    figures = intensity_figures(truth, values, None if is_ref else ref, *spec.range)
                    if not is_ref:
                        figures["drop_vs_float"] = drop_interval("intensity", truth, ref, values, 0.0,
                                                                 options.resamples, options.seed)
                per_au[spec.au] = figures
            per_row[row] = per_au
        results[kind] = per_row
        log(f"scored occlusion {kind}")

    files = ResultFiles("accuracy", bundle.root.name, options.out_dir, bundle_root=bundle.root)
    plots = make_plots(bundle, crops, predictions, rows, reference_name, kinds, files)
    data = files.header(
        bundle_path=str(bundle.root.resolve()),
        task={"name": bundle.task_name, "kind": bundle.task_kind, "aus": bundle.au_names},
        training=training,
        dataset={"name": dataset, "data_dir": data_dir, "split": options.split, "faces": len(crops), "note": data_note,
                 "limit": options.limit, "labels_positive_share": _positive_share(crops, bundle)},
        reference={"row": reference_name, "note": reference_note, "keras_check": keras_check},
        occlusions=kinds,
        occlusion_seed=OCCLUSION_SEED,
        bootstrap={"resamples": options.resamples, "seed": options.seed, "level": 0.95, "paired": True},
        variants={n: {"backend": predictions[n].get("backend", "keras"), "ms_per_face": predictions[n]["ms_per_face"]}
                  for n in rows},
        load_average_before=load_before,
        load_average_after=load_average(),
        results=results,
        plots=[p.name for p in plots],
    )
    path_json = write_json(files.json_path, data)
    return AccuracyResult(json_path=path_json, data=data, tables=tables_for(data))


def _positive_share(crops: Any, bundle: Any) -> dict[str, float]:
    out = {}
    for j, spec in labelled_outputs(bundle):
        truth = occurrence_truth(crops.labels[:, j])
        out[spec.au] = float(np.nanmean(truth)) if np.isfinite(truth).any() else float("nan")
    return out


def tables_for(data: dict[str, Any]) -> list[str]:
    """One table per occlusion kind and AU, reference row first (from a result JSON alone)."""
    tables = []
    kind_of_task = data["task"]["kind"]
    ds = data["dataset"]
    for occlusion, per_row in data["results"].items():
        for au in data["task"]["aus"]:
            if not any(au in per_au for per_au in per_row.values()):
                continue  # an AU the dataset does not label
            rows = []
            for name, per_au in per_row.items():
                f = per_au[au]
                drop = f.get("drop_vs_float")
                ci = f"{drop['estimate']:+.4f} [{drop['low']:+.4f}, {drop['high']:+.4f}]" if drop else "(reference)"
                if kind_of_task == "occurrence":
                    rows.append([name, f["f1"], f["precision"], f["recall"], f["accuracy"], f["roc_auc"],
                                 f.get("agreement_vs_float"), ci])
                else:
                    rows.append([name, f["icc31"], f["mae"], f["pearson"], f.get("icc_vs_float"), f.get("mae_vs_float"), ci])
            head = (["variant", "F1", "precision", "recall", "accuracy", "ROC AUC", "agreement vs float",
                     "F1 drop vs float [95% CI]"] if kind_of_task == "occurrence" else
                    ["variant", "ICC(3,1)", "MAE", "Pearson r", "ICC vs float", "MAE vs float", "ICC drop vs float [95% CI]"])
            tables.append(f"{au} {kind_of_task}, occlusion: {occlusion} ({ds['faces']} faces of {ds['name']} "
                          f"{ds['split']})\n" + format_table(head, rows))
    return tables


def make_plots(bundle: Any, crops: Any, predictions: dict[str, Any], rows: list[str], reference: str,
               kinds: list[str], files: ResultFiles) -> list[Path]:
    from auedge.benchmarks.store import pyplot, save_figure

    plt = pyplot()
    paths = []
    spec, j = bundle.outputs[0], 0
    truth = crops.labels[:, j].astype(np.float64)
    binary_truth = occurrence_truth(truth)
    keep = np.isfinite(binary_truth)
    threshold = decision_thresholds(bundle)[j]
    for row in rows:  # one confusion-matrix figure per variant, one panel per occlusion
        fig, axes = plt.subplots(1, len(kinds), figsize=(2.6 * len(kinds) + 0.5, 2.8), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            pred = predictions[row]["values"][kind][:, j] >= threshold
            t = binary_truth[keep] > 0.5
            p = pred[keep]
            matrix = np.array([[np.sum(~t & ~p), np.sum(~t & p)], [np.sum(t & ~p), np.sum(t & p)]])
            ax.imshow(matrix, cmap="Blues")
            for (a, b), value in np.ndenumerate(matrix):
                ax.text(b, a, str(value), ha="center", va="center",
                        color="white" if value > matrix.max() / 2 else "black", fontsize=9)
            ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
            ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=7)
            ax.set_title(kind, fontsize=8)
        fig.suptitle(f"{bundle.root.name} {spec.au} - {row}", fontsize=9)
        paths.append(save_figure(fig, files.plot_path(f"confusion-{row}")))
    int8 = "int8" if "int8" in predictions else None
    if spec.kind == "intensity" and int8 and reference in predictions:
        fig, axes = plt.subplots(1, len(kinds), figsize=(3 * len(kinds) + 0.5, 3.2), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            ref = predictions[reference]["values"][kind][:, j]
            val = predictions[int8]["values"][kind][:, j]
            ax.scatter(ref, val, s=4, alpha=0.4)
            lo, hi = spec.range
            ax.plot([lo, hi], [lo, hi], color="red", linewidth=0.8)
            ax.set_xlabel(f"{reference}", fontsize=7)
            ax.set_ylabel("int8", fontsize=7)
            ax.set_title(kind, fontsize=8)
        fig.suptitle(f"{bundle.root.name} {spec.au}: float vs int8", fontsize=9)
        paths.append(save_figure(fig, files.plot_path("scatter-float-int8")))
    return paths


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="auedge-bench-accuracy", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--bundle", required=True, help="bundle folder written by convert/export.py")
    p.add_argument("--dataset", help="synthetic, mtfl, fer2013, bosphorus or manifest (default: the bundle's training "
                                     "dataset when its data is here, else synthetic; each of them in turn for a bundle "
                                     "trained on several)")
    p.add_argument("--data-dir", help="dataset folder (default ../shared/data/<dataset>)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"),
                   help="evaluation split (default test; MTFL's testing split)")
    p.add_argument("--occlude", nargs="*", default=[], metavar="KIND",
                   help="also evaluate with these occluders: mouth, eyes, or mask-full mask-half mask-small "
                        "glasses-big glasses-eyehole")
    p.add_argument("--keras", help="float reference model (default runs/<training.run>/model.keras)")
    p.add_argument("--variants", default="all", help="all or a comma list of the bundle's model names")
    p.add_argument("--limit", type=int, help="evaluate at most this many faces (a seeded random subset)")
    p.add_argument("--keras-limit", type=int,
                   help="run the (slow) Keras model on only this many faces per condition; the fp32 variant, checked "
                        "against Keras there, then stands in as the reference on all faces")
    p.add_argument("--threads", type=int, default=1, help="interpreter and TensorFlow threads (default 1)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and --limit")
    p.add_argument("--out-dir", help="where JSON and PNGs go (default benchmarks/results)")
    return p


def datasets_to_score(options: AccuracyOptions) -> list[str | None]:
    """The asked dataset, or each dataset of a bundle trained on several (None: the bundle's one)."""
    from auedge.edge.bundle import BundleError, load_bundle

    if options.dataset:
        return [options.dataset]
    try:
        training = load_bundle(options.bundle, check_hash=False).manifest.get("training") or {}
    except BundleError as exc:
        raise BenchmarkError(str(exc)) from exc
    names = training.get("datasets") or []
    return list(names) if len(names) > 1 else [None]


def main(argv: list[str] | None = None) -> int:
    from dataclasses import replace

    args = build_parser().parse_args(argv)
    options = AccuracyOptions(**vars(args))
    try:
        for dataset in datasets_to_score(options):
            asked = replace(options, dataset=dataset) if dataset else options
            if dataset and not options.data_dir:
                from auedge.train.data import default_data_dir

                asked = replace(asked, data_dir=str(default_data_dir(dataset)))
            result = evaluate(asked, log=lambda line: print(line, flush=True))
            for table in result.tables:
                print()
                print(table)
            print(f"\nreference: {result.data['reference']['note']}")
            print(f"load average {result.data['load_average_before']} -> {result.data['load_average_after']}; "
                  f"written {result.json_path}")
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
