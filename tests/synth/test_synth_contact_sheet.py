"""The contact-sheet script: MTFL-style folder, synthetic fallback, synthetic grid, run as a script."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
from auedge.train import contact_sheet
from auedge.train.data.synthetic import generate
from auedge.train.occluders import OCCLUDER_KINDS
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def fake_mtfl(folder: Path, n: int = 3) -> Path:
    """A tiny MTFL-shaped folder (labels.csv + JPEGs) made of synthetic faces."""
    faces = generate(n, seed=4)
    (folder / "lfw").mkdir(parents=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "split", "pose", *contact_sheet.LANDMARKS])
        for k in range(n):
            rel = f"lfw/face{k}.jpg"
            Image.fromarray(faces.images[k]).save(folder / rel, quality=95)
            writer.writerow([rel, "training", "3", *faces.landmarks[k].reshape(-1).tolist()])
    return folder


def test_synth_contact_sheet_from_an_mtfl_folder(tmp_path):
    out = tmp_path / "sheet.png"
    assert contact_sheet.main(["--data-dir", str(fake_mtfl(tmp_path / "mtfl")), "--out", str(out), "--n", "2"]) == 0
    sheet = np.asarray(Image.open(out))
    assert sheet.shape == ((len(OCCLUDER_KINDS) + 1) * 160, contact_sheet.LABEL_WIDTH + 2 * 160, 3)
    bare, masked = sheet[:160, contact_sheet.LABEL_WIDTH :], sheet[160:320, contact_sheet.LABEL_WIDTH :]
    assert not np.array_equal(bare, masked)


def test_synth_contact_sheet_falls_back_to_synthetic_and_draws_a_grid(tmp_path, capsys):
    out = tmp_path / "fallback.png"
    assert contact_sheet.main(["--data-dir", str(tmp_path / "absent"), "--out", str(out), "--n", "1"]) == 0
    assert "using synthetic faces" in capsys.readouterr().err
    assert Image.open(out).size == (contact_sheet.LABEL_WIDTH + 160, (len(OCCLUDER_KINDS) + 1) * 160)
    grid = tmp_path / "grid.png"
    assert contact_sheet.main(["--synthetic-grid", "--out", str(grid), "--n", "3"]) == 0
    assert Image.open(grid).size == (8 * 192, 192 + contact_sheet.TEXT_HEIGHT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fallback.png", "grid.png"]  # no temporary leftovers


def test_synth_contact_sheet_runs_as_a_script(tmp_path):
    out = tmp_path / "script.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "train" / "contact_sheet.py"), "--out", str(out), "--n", "1"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    bad = subprocess.run(
        [sys.executable, str(REPO / "train" / "contact_sheet.py"), "--out", str(out), "--n", "0"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode != 0 and "--n must be at least 1" in bad.stderr


def test_synth_contact_sheet_of_dataset_photos_is_refused_where_git_would_commit_it(tmp_path, capsys):
    """Dataset photos are licensed: a sheet of them may be written where git ignores it, never where
    ``git add -A`` would take it (the fault this closes: real-face sheets committed under experiments/)."""
    repo = tmp_path / "repo"
    (repo / "experiments" / "local").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("experiments/local/\n")
    mtfl = fake_mtfl(tmp_path / "mtfl", n=2)
    tracked = repo / "experiments" / "occluders.png"
    assert contact_sheet.main(["--data-dir", str(mtfl), "--out", str(tracked), "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "experiments/local/" in err and "occluders.png" in err
    assert sorted(p.name for p in (repo / "experiments").iterdir()) == ["local"]  # nothing written
    ignored = repo / "experiments" / "local" / "occluders.png"
    assert contact_sheet.main(["--data-dir", str(mtfl), "--out", str(ignored), "--n", "1"]) == 0
    assert ignored.is_file()
    synthetic = repo / "experiments" / "synthetic.png"  # synthetic faces may be committed
    assert contact_sheet.main(["--out", str(synthetic), "--n", "1"]) == 0
    assert synthetic.is_file()
