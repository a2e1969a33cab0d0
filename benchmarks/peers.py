"""``python benchmarks/peers.py --bundle B``: our AU12 next to an established tool, on the same MTFL faces.

What was looked for: an AU estimator installable offline from PyPI that ships its model files
(OpenFace-2-compatible extractors, py-feat, LibreFace, ...). None does: each downloads its weights
from a model hub or a file host at run time, which this machine (and a device) cannot reach, or has
no wheel for this platform, or pins a CUDA PyTorch. ``CANDIDATES`` records what was tried and why it
failed; ``--check-registry`` repeats the check (``pip download --no-deps`` each one and look inside
the wheel for model files) and records the outcome in the JSON.

What runs instead: OpenCV's Haar smile cascade (``haarcascade_smile.xml``, shipped inside the
opencv-python 4.x wheels; OpenCV 5, which the project uses, dropped the cascades). It is a smile
detector, not an AU estimator, but smiling is exactly MTFL's AU12 proxy label, and it is the
long-established offline baseline. It runs in its own virtual environment (``--setup`` makes it:
``.cache/auedge/peers-opencv4``) on the same aligned crops as our model; its neighbour-count
threshold is chosen on MTFL training faces, then both are scored once on the testing split:
F1 / precision / recall / accuracy / ROC AUC against the smile labels, agreement with our int8
decisions, and time per face.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.store import BenchmarkError, ResultFiles, format_table, load_average, write_json

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO / ".cache" / "auedge" / "peers-opencv4"
PEER_PACKAGE = "opencv-python-headless==4.10.0.84"
WORKER = Path(__file__).resolve().parent / "peer_smile_cascade.py"
WEIGHT_SUFFIXES = (".pt", ".pth", ".onnx", ".tflite", ".safetensors", ".pkl", ".joblib", ".h5", ".bin", ".dat", ".xml",
                   ".json", ".ckpt", ".model", ".xgb", ".ubj")
TRAIN_FACES = 1500  # MTFL training faces used to choose the cascade's threshold

# What was tried on this machine (2026-11-25): package, version, what its wheel holds, why it cannot run.
CANDIDATES: list[dict[str, Any]] = [
    {"package": "py-feat", "version": "2.1.5", "ships_weights": False, "runs_here": False,
     "note": "10.6 MB wheel holds code and test videos only; AU models (xgb/svm, img2pose, RetinaFace) are fetched "
             "from the Hugging Face hub at first use (huggingface_hub); also needs torch>=2.5 + torchvision + torchcodec"},
    {"package": "libreface", "version": "0.2.0", "ships_weights": False, "runs_here": False,
     "note": "74 kB wheel; AU detection/intensity weights are downloaded from Google Drive with gdown at run time; "
             "pins torch==2.0.0, torchvision==0.15.1, mediapipe==0.10.5, dlib (a CUDA torch pull)"},
    {"package": "openface-test", "version": "0.1.26", "ships_weights": False, "runs_here": False,
     "note": "OpenFace 3.0 code (RetinaFace, STAR, multitask AU head); weights come from the Hugging Face hub; "
             "pins numpy==1.26.4 and opencv 4.11 beside an unpinned torch"},
    {"package": "mini-face", "version": "0.1.3", "ships_weights": None, "runs_here": False,
     "note": "OpenFace 2 wrapper: pip finds no distribution for this platform/Python ('from versions: none')"},
    {"package": "openface", "version": "0.0.0", "ships_weights": False, "runs_here": False,
     "note": "2.5 kB placeholder wheel: a feature_extraction.py that calls an OpenFace binary the user must build"},
    {"package": "painfacenet", "version": "0.2.0", "ships_weights": False, "runs_here": False,
     "note": "9.6 kB wheel, a framework without trained AU models"},
    {"package": "opencv-python-headless", "version": "4.10.0.84", "ships_weights": True, "runs_here": True,
     "note": "haarcascade_smile.xml (smile detector, not an AU tool) shipped in the wheel; run in its own venv "
             "because OpenCV 5 has no CascadeClassifier"},
]


@dataclass
class PeersOptions:
    bundle: str
    data_dir: str | None = None
    peer_python: str | None = None
    setup: bool = False
    check_registry: bool = False
    limit: int | None = None
    threads: int = 1
    keras: str | None = None
    with_keras: bool = False
    out_dir: str | None = None


def peer_python_path(options: PeersOptions) -> Path:
    return Path(options.peer_python) if options.peer_python else PEER_VENV / "bin" / "python"


def setup_peer_venv(log: Any) -> None:
    """A venv that sees the system packages (numpy) but has its own OpenCV 4 with the cascades."""
    python = PEER_VENV / "bin" / "python"
    if not python.is_file():
        log(f"creating {PEER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(PEER_VENV)], check=True)
    log(f"installing {PEER_PACKAGE} into {PEER_VENV}")
    subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_PACKAGE], check=True)


def check_registry(log: Any) -> list[dict[str, Any]]:
    """Download each candidate's wheel (no dependencies, nothing installed) and list model-like files."""
    found = []
    with tempfile.TemporaryDirectory(prefix="auedge-peers-") as tmp:
        for cand in CANDIDATES:
            target = Path(tmp) / cand["package"]
            proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(target),
                                   f"{cand['package']}=={cand['version']}"], capture_output=True, text=True,
                                  timeout=600, check=False)
            entry = {"package": cand["package"], "version": cand["version"], "downloaded": proc.returncode == 0}
            if proc.returncode != 0:
                entry["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
            for wheel in target.glob("*.whl") if target.is_dir() else []:
                with zipfile.ZipFile(wheel) as archive:
                    models = [(i.filename, i.file_size) for i in archive.infolist()
                              if i.filename.lower().endswith(WEIGHT_SUFFIXES) and i.file_size > 50_000]
                entry.update(wheel=wheel.name, wheel_bytes=wheel.stat().st_size, model_like_files=models[:20])
            log(f"registry check {cand['package']}: {entry.get('model_like_files', entry.get('error'))}")
            found.append(entry)
    return found


def run_cascade(python: Path, crops: np.ndarray) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="auedge-peers-") as tmp:
        src, dst = Path(tmp) / "crops.npz", Path(tmp) / "scores.npz"
        np.savez(src, crops=crops)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.run([str(python), str(WORKER), "--crops", str(src), "--out", str(dst)],
                              capture_output=True, text=True, timeout=3600, env=env, check=False)
        if proc.returncode != 0 or not dst.is_file():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BenchmarkError(f"the smile-cascade worker failed ({tail}); re-create it with --setup")
        with np.load(dst) as data:
            return {"scores": data["scores"], "ms": data["ms"], "opencv": str(data["opencv"])}


def cascade_times(ms: np.ndarray) -> dict[str, float]:
    """The cascade's time per face as the same statistic as ours (``variant_predictions``: total time /
    faces, i.e. the mean), with its median beside it."""
    ms = np.asarray(ms, dtype=np.float64)
    return {"ms_per_face": float(ms.mean()) if ms.size else float("nan"),
            "ms_per_face_median": float(np.median(ms)) if ms.size else float("nan")}


def best_count(truth: np.ndarray, scores: np.ndarray) -> tuple[int, float]:
    """The neighbour count k (smile = score >= k) with the best F1 on the given (training) faces."""
    from auedge.train.metrics import f1_score

    best = (1, -1.0)
    for k in range(1, int(scores.max(initial=1)) + 2):
        f1 = f1_score(truth, scores >= k)
        if f1 > best[1] + 1e-12:
            best = (k, f1)
    return best


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    observed = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    expected = pa * pb + (1 - pa) * (1 - pb)
    return (observed - expected) / (1 - expected) if expected < 1 else float("nan")


def run_peers(options: PeersOptions, log: Any = print) -> tuple[Path, dict[str, Any], str]:
    from auedge.benchmarks.accuracy import (
        keras_predictions,
        occurrence_truth,
        training_keypoints,
        variant_predictions,
    )
    from auedge.edge.bundle import BundleError, load_bundle
    from auedge.train.data import DataError, default_data_dir, load_crops
    from auedge.train.metrics import binary_scores, roc_auc

    if options.threads < 1:
        raise BenchmarkError(f"--threads must be >= 1, got {options.threads}")
    if options.limit is not None and options.limit < 1:
        raise BenchmarkError(f"--limit must be >= 1, got {options.limit}")
    try:
        bundle = load_bundle(options.bundle)
    except BundleError as exc:
        raise BenchmarkError(str(exc)) from exc
    if "AU12" not in bundle.au_names:
        raise BenchmarkError(f"bundle {bundle.root} has no AU12 output; peers compare AU12 (smile) only")
    j = bundle.au_names.index("AU12")
    files = ResultFiles("peers", bundle.root.name, options.out_dir, bundle_root=bundle.root)
    load_before = load_average()
    registry = check_registry(log) if options.check_registry else None
    if options.setup:
        setup_peer_venv(log)
    data_dir = Path(options.data_dir) if options.data_dir else default_data_dir("mtfl")
    try:
        keypoints = training_keypoints(bundle)
        crops = load_crops("mtfl", data_dir, ["au12"], bundle.crop, keypoints=keypoints)
    except DataError as exc:
        raise BenchmarkError(f"{exc} (peers compare on MTFL: pass --data-dir)") from exc
    test = crops.where("test")
    if options.limit:
        test = test.subset(np.sort(np.random.default_rng(0).permutation(len(test))[: options.limit]))
    train = crops.where("train")
    train = train.subset(np.sort(np.random.default_rng(1).permutation(len(train))[:TRAIN_FACES]))
    truth = occurrence_truth(test.labels[:, 0])
    log(f"MTFL testing faces: {len(test)}; threshold faces for the peer: {len(train)} from training")

    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    ours: dict[str, Any] = {}
    threshold = bundle.outputs[j].threshold if bundle.outputs[j].threshold is not None else 0.5
    images = {"none": test.images}
    from auedge.benchmarks.accuracy import keras_path

    kpath = keras_path(options.keras, bundle, bundle.manifest.get("training") or {})
    if options.with_keras and kpath is not None and kpath.is_file():
        try:
            ours["keras-float"] = keras_predictions(kpath, images, bundle, options.threads)
        except ImportError as exc:
            log(f"note: no Keras reference ({exc})")
    for name in dict.fromkeys([bundle.default_model, "fp32"]):
        if name in {m.name for m in bundle.models}:
            ours[name] = variant_predictions(bundle, name, images, options.threads)
    int8_decisions = None
    for name, pred in ours.items():
        scores = pred["values"]["none"][:, j]
        decisions = scores >= threshold
        if name == bundle.default_model:
            int8_decisions = decisions
        figures[name] = {**binary_scores(truth, decisions), "roc_auc": roc_auc(truth, scores),
                         "ms_per_face": pred["ms_per_face"], "threshold": threshold}

    peer: dict[str, Any] = {"name": "opencv-haar-smile", "package": PEER_PACKAGE}
    python = peer_python_path(options)
    if not python.is_file():
        peer["error"] = f"{python} not found; run peers.py --setup once (makes a venv with {PEER_PACKAGE})"
        log(f"peer: {peer['error']}")
    else:
        try:
            start = time.perf_counter()
            fit = run_cascade(python, train.images)
            k, train_f1 = best_count(occurrence_truth(train.labels[:, 0]), fit["scores"])
            result = run_cascade(python, test.images)
            decisions = result["scores"] >= k
            peer.update(opencv=result["opencv"], min_neighbours=k, train_f1=train_f1,
                        seconds=time.perf_counter() - start)
            figures[peer["name"]] = {**binary_scores(truth, decisions), "roc_auc": roc_auc(truth, result["scores"]),
                                     **cascade_times(result["ms"]), "threshold": k}
            if int8_decisions is not None:
                figures[peer["name"]]["agreement_with_ours"] = float(np.mean(decisions == int8_decisions))
                figures[peer["name"]]["kappa_with_ours"] = cohen_kappa(decisions, int8_decisions)
            log(f"peer: OpenCV {result['opencv']} smile cascade, minNeighbors {k} (training F1 {train_f1:.3f})")
        except BenchmarkError as exc:
            peer["error"] = str(exc)
            log(f"peer: {exc}")

    headers = ["model", "F1", "precision", "recall", "accuracy", "ROC AUC",
               f"agreement with our {bundle.default_model}", "ms per face (mean)"]
    for name, f in figures.items():
        agreement = f.get("agreement_with_ours", 1.0 if name == bundle.default_model else None)
        if name != peer["name"] and name != bundle.default_model and int8_decisions is not None:
            agreement = float(np.mean((ours[name]["values"]["none"][:, j] >= threshold) == int8_decisions))
        rows.append([name, f["f1"], f["precision"], f["recall"], f["accuracy"], f["roc_auc"], agreement, f["ms_per_face"]])
    summary = (
        "No established AU estimator could run here: every candidate on PyPI downloads its model weights at run "
        "time (or has no wheel for this platform); see the candidates table. As the closest established offline "
        "peer, OpenCV's Haar smile cascade (an AU12 proxy, the label MTFL carries) ran on the same aligned MTFL "
        f"testing crops (cut from the {'detector keypoints' if keypoints == 'detector' else 'labelled landmarks'}, "
        "as the bundle's training cut them); its neighbour threshold was chosen on MTFL training faces. Our rows are "
        "per face through the device path (batch 1); Keras (when run) in batches of 64; the cascade per crop on one thread."
        if "error" not in peer else
        f"No established AU estimator could run here (see candidates); the smile-cascade peer failed: {peer['error']}"
    )
    data = files.header(
        bundle_path=str(bundle.root.resolve()), faces=len(test), data_dir=str(data_dir), keypoints=keypoints,
        summary=summary, candidates=CANDIDATES, registry_check=registry, peer=peer, figures=figures,
        table={"headers": headers, "rows": rows}, load_average_before=load_before, load_average_after=load_average(),
        plots=[],
    )
    path = write_json(files.json_path, data)
    return path, data, format_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="auedge-bench-peers", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--bundle", required=True, help="bundle with an AU12 output")
    p.add_argument("--data-dir", help="MTFL folder (default ../shared/data/mtfl)")
    p.add_argument("--peer-python", help=f"Python with OpenCV 4 (default {PEER_VENV}/bin/python)")
    p.add_argument("--setup", action="store_true", help=f"create/update the peer venv ({PEER_PACKAGE}) first")
    p.add_argument("--check-registry", action="store_true",
                   help="pip download --no-deps each candidate and look for model files (uses the network)")
    p.add_argument("--limit", type=int, help="at most this many testing faces")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--with-keras", action="store_true",
                   help="add the float Keras model as a row (slow: TensorFlow costs ~100 ms/face on a loaded 2-core "
                        "machine); without it the fp32 variant is the float row (accuracy.py checks it against Keras)")
    p.add_argument("--keras", help="float reference model (default runs/<training.run>/model.keras)")
    p.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    args = p.parse_args(argv)
    try:
        path, data, table = run_peers(PeersOptions(**vars(args)), log=lambda line: print(line, flush=True))
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(format_table(["package", "version", "runs here", "why"],
                       [[c["package"], c["version"], c["runs_here"], c["note"][:90]] for c in CANDIDATES]))
    print()
    print(table)
    print(f"\n{data['summary']}\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
