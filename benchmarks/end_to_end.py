"""`python benchmarks/end_to_end.py --bundle B`: the AU figures a device gets, face detector included.

``benchmarks/accuracy.py`` scores crops cut from the dataset's labelled landmarks: the accuracy of
the model. A device has no labels. It cuts the crop from BlazeFace's keypoints, and a face the
detector misses gets no AU value at all. This script runs every labelled image through the edge
runtime's whole path (``Estimator.estimate``: detect, crop from the keypoints, AU model, flip
averaging as the bundle says). On the same faces it also runs the same Estimator with the crop cut
from the labels (``estimate_with_landmarks``), so the table shows what the detector's keypoints cost.

A detection counts as the labelled face when the mean distance of its two eye keypoints to the
labelled eyes is under half a labelled eye distance (``matching_detection``, the rule of
``benchmarks/detection.py``; one eye may be further off if the other is closer). For each variant and
occluder (pasted on the whole photo with the training occluder code before detection):

* ``found``: share of faces detected;
* ``device``: the figures on found faces with crops from the detector's keypoints;
* ``labels``: the same found faces with crops from the labelled landmarks;
* ``all faces``: every face, a missed face counted as "AU absent" (value 0), as a device reports it.

Occurrence outputs give F1, precision, recall and ROC AUC at the bundle's threshold (per MTFL pose
too), 95 % bootstrap intervals of F1 and AUC, and the all-positive F1 (the floor a model must beat);
intensity outputs give ICC(3,1) and MAE. Prints a table and writes JSON. Without MTFL it runs on the
embedded synthetic faces and says so.

FACS-coded sets: ``--dataset manifest --data-dir FILE.csv`` runs any manifest; ``--dataset ckplus
--data-dir CK+`` builds CK+'s rows in place (``auedge.train.data.ckplus``); ``--dataset unbc
--data-dir UNBC`` builds UNBC-McMaster's, every frame with its coded intensities
(``auedge.train.data.unbc``; ``--limit N`` for a seeded sample of its 48,398 frames); ``--dataset disfa
--data-dir DIR`` reads the folder ``python -m auedge.train.data import-disfa`` wrote. AU labels that
are intensities become occurrence at ``--present-at`` (default 1, FACS' A level, also the usual cut on
UNBC-McMaster; 2 for DISFA, the literature's cut there); an AU of the bundle that the data does not
label is listed as not scored.
A row without landmarks (DISFA, CK+ without ``Landmarks/``) takes as its labelled face the device
detector's most confident face on the bare image: such a face's "label-crop" figures are the
detector's crop too, and a face the detector misses on the bare image counts as missed under every
occluder (the occluders are placed on the landmarks).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.store import (
    BenchmarkError,
    ResultFiles,
    format_table,
    load_bundle_with_detector,
    options_from_args,
    write_json,
)
from auedge.edge.bundle import OCCLUDED_SUFFIX

Log = Callable[[str], None]
MISSED_VALUE = 0.0  # what a device reports for a face it never found: nothing, i.e. "absent"
DATASETS = ("mtfl", "fer2013", "manifest", "ckplus", "unbc", "disfa")


@dataclass(frozen=True)
class EndToEndOptions:
    bundle: str
    data_dir: str | None = None
    dataset: str = "mtfl"  # mtfl (or synthetic when absent), fer2013, manifest, ckplus, unbc or disfa
    present_at: float | None = None  # intensity labels: present from this (None: 2 for disfa, else 1)
    synthetic: bool = False
    split: str = "test"
    variants: tuple[str, ...] = ()  # empty: the bundle's default model
    occluders: tuple[str, ...] = ("none", "mask-full")
    limit: int | None = None
    threads: int = 1
    seed: int = 0
    out_dir: str | None = None


@dataclass
class FaceScores:
    """AU values of one condition: (faces, outputs); NaN where the detector missed the face."""

    device: np.ndarray
    labels: np.ndarray
    found: np.ndarray
    cpu_ms: list[float]


def face_values(face: Any, names: list[str]) -> list[float]:
    """One face's value per bundle output: the AU values, and for an occlusion flag ("AU4_occluded")
    1.0 where the runtime reports that AU not observable, else 0.0 (a face result carries the flag's
    decision, not its probability)."""
    values = []
    for name in names:
        if name.endswith(OCCLUDED_SUFFIX):
            au = name.removesuffix(OCCLUDED_SUFFIX)
            values.append(np.nan if au not in face.observable else float(not face.observable[au]))
        else:
            values.append(face.aus.get(name, np.nan))
    return values


def run_condition(estimator: Any, faces: list[Any], occluder: str, seed: int, log: Log) -> FaceScores:
    """Every face through the detector path and the label-crop path of one Estimator."""
    from auedge.edge.align import points_from_landmarks
    from auedge.edge.face_detector import matching_detection
    from auedge.train.occluders import apply_occluder

    names = [o.au for o in estimator.bundle.outputs]
    device = np.full((len(faces), len(names)), np.nan)
    labels = np.full((len(faces), len(names)), np.nan)
    found = np.zeros(len(faces), dtype=bool)
    cpu_ms = []
    for i, face in enumerate(faces):
        if face.landmarks is None:  # no labels and not found on the bare image: missed (locate_faces)
            continue
        image = face.pixels()
        if occluder != "none":  # same seeds as benchmarks/detection.py: the same pasted occluders
            image = apply_occluder(image, face.landmarks, occluder, np.random.default_rng([seed, i]))
        start = time.process_time()
        result = estimator.estimate(image)
        cpu_ms.append((time.process_time() - start) * 1e3)
        best = matching_detection(result.faces, face.landmarks[0], face.landmarks[1])
        if best is not None:
            device[i] = face_values(best, names)
            found[i] = True
            labelled = estimator.estimate_with_landmarks(image, *points_from_landmarks(face.landmarks))
            labels[i] = face_values(labelled, names)
        if (i + 1) % 500 == 0:
            log(f"  {occluder}: {i + 1}/{len(faces)} faces, {found[: i + 1].mean():.1%} found")
    return FaceScores(device, labels, found, cpu_ms)


def locate_faces(estimator: Any, faces: list[Any], log: Log) -> str:
    """Give faces without landmarks the five points of the device detector's most confident face on
    the bare image (the mouth corners set around the mouth centre as for FER2013); a face it does not
    find keeps None. Returns a note for the source line ("" when every face has landmarks)."""
    from auedge.train.data.images import most_confident_landmarks

    unlabelled = [face for face in faces if face.landmarks is None]
    if not unlabelled:
        return ""
    for face in unlabelled:
        face.landmarks = most_confident_landmarks(estimator.estimate(face.pixels()).faces)
    missed = sum(face.landmarks is None for face in unlabelled)
    log(f"{len(unlabelled)} faces have no landmarks: located by the detector on the bare image, {missed} not found")
    return (f"; {len(unlabelled)} faces without landmarks located by the device detector on the bare image "
            f"(their label crop is the detector's; {missed} not found, counted missed under every occluder)")


def output_figures(output: Any, truth: np.ndarray, values: np.ndarray, poses: np.ndarray | None) -> dict[str, Any]:
    """F1 & co. (occurrence) or ICC & MAE (intensity) of one output, per pose for occurrence."""
    from auedge.train.metrics import intensity_metrics, occurrence_metrics

    keep = np.isfinite(truth) & np.isfinite(values)
    t, v = truth[keep], values[keep]
    if not len(t):
        return {"n": 0}
    if output.kind == "occurrence":
        figures = occurrence_metrics(t, v, output.threshold)
        figures["n"] = len(t)
        figures["ci95"] = occurrence_intervals(t, v, output.threshold)
        if poses is not None:
            figures["per_pose_f1"] = {
                str(p): occurrence_metrics(t[poses[keep] == p], v[poses[keep] == p], output.threshold)["f1"]
                for p in sorted(set(poses[keep])) if (poses[keep] == p).sum() >= 10
            }
        return figures
    lo, hi = output.range
    figures = intensity_metrics(t, v, lo, hi)  # values clipped to the label range, as a device shows them
    figures["n"] = len(t)
    return figures


def occurrence_intervals(truth: np.ndarray, values: np.ndarray, threshold: float) -> dict[str, list[float]]:
    """95 % percentile-bootstrap intervals of F1 and ROC AUC over the faces (1,000 resamples, seeded),
    so a model card can say how far a figure could move on another sample of the same kind of faces."""
    from auedge.benchmarks.stats import paired_bootstrap
    from auedge.train.metrics import f1_score, roc_auc

    f1 = paired_bootstrap(lambda t, v: f1_score(t, v >= threshold), [truth, values])
    auc = paired_bootstrap(roc_auc, [truth, values])
    return {"f1": [f1.low, f1.high], "roc_auc": [auc.low, auc.high]}


def summarise(estimator: Any, faces: list[Any], scores: FaceScores, present_at: float | None = None) -> dict[str, Any]:
    """Figures of every output the faces label. ``present_at``: intensity labels count as present from
    this value (None: 1, FACS' A level, as accuracy.py scores them); 0/1 labels map to themselves."""
    from auedge.benchmarks.accuracy import INTENSITY_OCCURRENCE

    cut = INTENSITY_OCCURRENCE if present_at is None else present_at
    poses = np.array([f.pose for f in faces])
    per_output, not_scored = {}, []
    for j, output in enumerate(estimator.bundle.outputs):
        if output.kind not in ("occurrence", "intensity") or output.au.endswith(OCCLUDED_SUFFIX):
            continue  # occlusion flags are scored from the occluders (flag_f1), not from labels
        au = output.au.lower()
        truth = np.array([f.aus.get(au, np.nan) for f in faces], dtype=np.float64)
        if not np.isfinite(truth).any():
            not_scored.append(output.au)
            continue
        if output.kind == "occurrence":
            if cut > 1 and np.nanmax(truth) <= 1:
                raise BenchmarkError(f"{au} labels are all 0/1 (occurrence codes), so none is present at --present-at "
                                     f"{cut:g}; pass --present-at 1 for occurrence labels")
            truth = np.where(np.isfinite(truth), truth >= cut, np.nan).astype(np.float64)
        found = scores.found
        everyone = np.where(found, scores.device[:, j], MISSED_VALUE)
        per_output[output.au] = {
            "kind": output.kind,
            "device": output_figures(output, np.where(found, truth, np.nan), scores.device[:, j], poses),
            "labels": output_figures(output, np.where(found, truth, np.nan), scores.labels[:, j], poses),
            "all_faces": output_figures(output, truth, everyone, poses),
        }
    flags = {}
    for j, output in enumerate(estimator.bundle.outputs):
        if output.au.endswith(OCCLUDED_SUFFIX):
            values = scores.device[scores.found, j]  # 1.0: the runtime said "not observable" (face_values)
            flags[output.au] = {"flagged": int((values > 0.5).sum()), "n": len(values),
                                "share": float(np.mean(values > 0.5)) if len(values) else float("nan")}
    return {
        "n": len(faces),
        "flags": flags,
        "found": int(scores.found.sum()),
        "found_rate": float(scores.found.mean()) if len(faces) else float("nan"),
        "found_per_pose": {str(p): float(scores.found[poses == p].mean()) for p in sorted(set(poses))},
        "cpu_ms_per_image_median": float(np.median(scores.cpu_ms)) if scores.cpu_ms else None,
        "outputs": per_output,
        "not_scored": not_scored,  # outputs of the bundle that these faces do not label
    }


def run_end_to_end(options: EndToEndOptions, log: Log = print) -> dict[str, Any]:
    from auedge.benchmarks.detection import DetectionOptions, load_faces
    from auedge.edge.backends import BackendError
    from auedge.edge.bundle import BundleError
    from auedge.edge.estimator import Estimator, EstimatorOptions

    if options.threads < 1:
        raise BenchmarkError(f"--threads must be >= 1, got {options.threads}")
    if options.limit is not None and options.limit < 1:
        raise BenchmarkError(f"--limit must be >= 1, got {options.limit}")
    if options.present_at is not None and not 0 < options.present_at <= 5:  # any dataset's intensity labels
        raise BenchmarkError(f"--present-at must be in (0, 5], got {options.present_at}")
    bundle = load_bundle_with_detector(options.bundle)
    variants = options.variants or (bundle.default_model,)
    unknown = [v for v in variants if v not in {m.name for m in bundle.models}]
    if unknown:
        raise BenchmarkError(f"bundle {bundle.root} has no variant {unknown[0]!r}; it has "
                             f"{', '.join(m.name for m in bundle.models)}")
    if options.dataset == "fer2013":
        from auedge.benchmarks.detection import load_fer_faces
        from auedge.train.data import default_data_dir

        folder = Path(options.data_dir) if options.data_dir else default_data_dir("fer2013")
        emotion_aus = (bundle.manifest.get("training") or {}).get("emotion_aus")
        faces, source = load_fer_faces(folder, options.split, emotion_aus, options.limit, log, options.seed)
    elif options.dataset == "mtfl":
        faces, source = load_faces(DetectionOptions(data_dir=options.data_dir, synthetic=options.synthetic,
                                                    split=options.split, limit=options.limit, seed=options.seed), log)
    elif options.dataset in ("manifest", "ckplus", "unbc", "disfa"):
        faces, source = manifest_faces(options)
    else:
        raise BenchmarkError(f"--dataset {options.dataset!r}: use one of {', '.join(DATASETS)}")
    if not faces:
        raise BenchmarkError("no labelled faces to run")
    log(f"{len(faces)} faces from {source}")
    present_at = options.present_at if options.present_at is not None else default_present_at(options.dataset)
    rows = []
    for variant in variants:
        try:
            estimator = Estimator.create_from_options(
                EstimatorOptions(bundle_path=bundle.root, model=variant, num_threads=options.threads))
        except (BackendError, BundleError) as exc:
            raise BenchmarkError(f"variant {variant}: {exc}") from exc
        try:
            if variant == variants[0]:  # faces without landmarks: located once, on the device's own detector
                source += locate_faces(estimator, faces, log)
            for occluder in options.occluders:
                scores = run_condition(estimator, faces, occluder, options.seed, log)
                row = {"variant": variant, "occluder": occluder, **summarise(estimator, faces, scores, present_at)}
                rows.append(row)
                log(f"{variant} {occluder}: found {row['found']}/{row['n']} ({row['found_rate']:.1%})")
        finally:
            estimator.close()
    files = ResultFiles("end_to_end", bundle.root.name, options.out_dir, bundle_root=bundle.root)
    data = files.header(
        source=source, synthetic=source.startswith("synthetic"), split=options.split,
        flip_average=bool((bundle.manifest.get("inference") or {}).get("flip_average", False)),
        crop=bundle.crop.to_dict(), missed_value=MISSED_VALUE, rows=rows, dataset=options.dataset,
        present_at=present_at, flag_f1=flag_f1(rows),
    )
    data["json_path"] = str(write_json(files.json_path, data))
    return data


def default_present_at(dataset: str) -> float:
    """The intensity an AU counts as present from: 2 on DISFA (the AU-detection literature's cut
    there), FACS' A level (1) everywhere else, UNBC-McMaster included (OpenFace's UNBC models count
    any coded intensity as present: see ``auedge.train.data.unbc``)."""
    from auedge.benchmarks.accuracy import INTENSITY_OCCURRENCE
    from auedge.train.data.disfa import DISFA_PRESENT_AT

    return DISFA_PRESENT_AT if dataset == "disfa" else INTENSITY_OCCURRENCE


def manifest_faces(options: EndToEndOptions) -> tuple[list[Any], str]:
    """Faces of a manifest CSV (``manifest``), of the folder ``import-disfa`` wrote (``disfa``), or of
    CK+ or UNBC-McMaster read in place (``ckplus``, ``unbc``: its intensities, so ``--present-at`` cuts
    them), through the training data's own readers."""
    from auedge.benchmarks.detection import load_manifest_faces
    from auedge.train.data.loader import default_data_dir, manifest_rows
    from auedge.train.data.manifest import DataError

    if options.dataset != "manifest" and options.data_dir is None:
        folder = default_data_dir(options.dataset)
    else:
        folder = options.data_dir
    reader = options.dataset if options.dataset in ("ckplus", "unbc") else "manifest"  # disfa: import-disfa's CSV
    try:  # the trainer's dispatch, so a dataset read in place is wired once, in the loader
        rows = manifest_rows(reader, folder, kind="intensity" if options.dataset == "unbc" else None)
    except DataError as exc:
        raise BenchmarkError(str(exc)) from None
    return load_manifest_faces(rows, options.split, options.limit, options.seed, f"{options.dataset} {folder}")


def flag_f1(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """F1 of each occlusion flag on bare faces plus faces with one occluder (device path, found faces).

    Truth comes from the occluder code (``region_covered``): under that occluder every face's region
    is covered or none is; on bare faces none is. Rows of one variant are paired with its bare row."""
    from auedge.train.metrics import binary_scores
    from auedge.train.occluders import region_covered

    out = []
    bare = {row["variant"]: row for row in rows if row["occluder"] == "none"}
    for row in rows:
        base = bare.get(row["variant"])
        if row["occluder"] == "none" or base is None:
            continue
        for flag, fig in row.get("flags", {}).items():
            covered = region_covered(flag.removesuffix(OCCLUDED_SUFFIX).lower(), row["occluder"])
            b = base["flags"].get(flag, {"flagged": 0, "n": 0})
            truth = np.r_[np.zeros(b["n"]), np.full(fig["n"], float(covered))]
            pred = np.r_[np.arange(b["n"]) < b["flagged"], np.arange(fig["n"]) < fig["flagged"]]
            scores = binary_scores(truth, pred)
            out.append({"variant": row["variant"], "occluder": row["occluder"], "flag": flag, "covered": covered,
                        "f1": scores["f1"] if covered else None, "flagged_share": fig["share"],
                        "bare_flagged_share": b["flagged"] / b["n"] if b["n"] else float("nan")})
    return out


def end_to_end_table(rows: list[dict[str, Any]]) -> str:
    """One line per variant x occluder x output: found rate, then device / label-crop / all-faces figures."""
    lines = []
    for row in rows:
        for au, fig in row["outputs"].items():
            device, labels, everyone = fig["device"], fig["labels"], fig["all_faces"]
            if fig["kind"] == "occurrence":
                poses = device.get("per_pose_f1", {})
                lines.append([row["variant"], row["occluder"], au, f"{row['found_rate']:.1%}",
                              f"{device['f1']:.3f}", f"{device['roc_auc']:.3f}", f"{labels['f1']:.3f}",
                              f"{labels['roc_auc']:.3f}", f"{everyone['f1']:.3f}",
                              f"{everyone.get('all_positive_f1', float('nan')):.3f}",
                              " / ".join(f"{poses[p]:.2f}" for p in sorted(poses)) or "-"])
            else:
                lines.append([row["variant"], row["occluder"], au, f"{row['found_rate']:.1%}",
                              f"ICC {device['icc31']:.3f}", f"MAE {device['mae']:.2f}", f"ICC {labels['icc31']:.3f}",
                              f"MAE {labels['mae']:.2f}", f"ICC {everyone['icc31']:.3f}", "-", "-"])
        for au in row.get("not_scored", []):
            lines.append([row["variant"], row["occluder"], au, f"{row['found_rate']:.1%}", "not scored", *["-"] * 6])
    return format_table(["variant", "occluder", "AU", "found", "device F1", "device AUC", "label-crop F1",
                         "label-crop AUC", "all faces F1", "all-positive F1", "device F1 per pose"], lines)


def build_parser() -> argparse.ArgumentParser:
    from auedge.benchmarks.detection import csv_list

    p = argparse.ArgumentParser(prog="auedge-bench-end-to-end", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--bundle", required=True, help="bundle folder written by convert/export.py")
    p.add_argument("--dataset", default="mtfl", choices=DATASETS,
                   help="mtfl (the embedded synthetic faces when MTFL is absent), fer2013 (its test = PrivateTest; "
                        "labels from the bundle's emotion table), manifest (--data-dir FILE.csv), ckplus or unbc (the CK+ "
                        "or UNBC-McMaster folder, read in place) or disfa (the folder import-disfa wrote)")
    p.add_argument("--data-dir", help="the dataset's folder (default $AUEDGE_DATA/<dataset> or ../shared/data/<dataset>; "
                   "for mtfl, synthetic faces if absent; for manifest, the CSV)")
    p.add_argument("--synthetic", action="store_true", help="the embedded synthetic faces even when MTFL is there")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                   help="split (MTFL: test = AFLW, no val; FER2013: val = PublicTest, test = PrivateTest; CK+/UNBC/DISFA: "
                        "test = the subjects the readers carve out; all = every row, for a model that never saw the set)")
    p.add_argument("--present-at", type=float,
                   help="intensity labels count as present from this value (default 1, FACS' A level, as on unbc; "
                        "2 for disfa)")
    p.add_argument("--variants", type=csv_list, default=(), help="comma list of the bundle's models (default: its default)")
    p.add_argument("--occlude", dest="occluders", type=csv_list, default=("none", "mask-full"),
                   help="comma list of occluders pasted on the photo (default none,mask-full)")
    p.add_argument("--limit", type=int, help="first N faces only")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    p.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from auedge.benchmarks.detection import check_occluders

    try:
        check_occluders(args.occluders)
        options = options_from_args(EndToEndOptions, args)
        data = run_end_to_end(options, log=lambda line: print(line, flush=True))
    except (BenchmarkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(f"{data['source']}; crop method {data['crop'].get('method', 'eyes')}; flip averaging {data['flip_average']}; "
          f"intensity labels present from {data['present_at']:g}")
    print(end_to_end_table(data["rows"]))
    if data["flag_f1"]:
        print()
        print(format_table(["variant", "occluder", "flag", "region covered", "F1 (with bare faces)", "flagged",
                            "flagged on bare"],
                           [[f["variant"], f["occluder"], f["flag"], "yes" if f["covered"] else "no",
                             "-" if f["f1"] is None else f"{f['f1']:.3f}", f"{f['flagged_share']:.1%}",
                             f"{f['bare_flagged_share']:.1%}"] for f in data["flag_f1"]]))
    print(f"\nwritten {data['json_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
