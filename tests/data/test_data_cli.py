"""The data CLI: one error line and status 2 on bad data; manifests written by adapters read back."""

from __future__ import annotations

import math

from auedge.train.data import read_manifest
from auedge.train.data.cli import main
from data_fixtures import make_bosphorus, make_manifest_dataset


def test_missing_data_dir_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["prepare", "--dataset", "mtfl", "--data-dir", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: data dir") and "--dataset synthetic" in err[0]


def test_bosphorus_manifest_with_intensities_then_prepare(tmp_path, capsys):
    folder = make_bosphorus(tmp_path / "bos", ["bs001_LFAU_12_0", "bs001_N_N_0", "bs002_UFAU_4_0"])
    table = tmp_path / "intensity.csv"
    table.write_text("file,au12\nbs001_LFAU_12_0,4\n")
    out = tmp_path / "bos.csv"
    assert main(["manifest", "--dataset", "bosphorus", "--data-dir", str(folder), "--intensity-csv", str(table),
                 "--out", str(out)]) == 0
    rows = {r.path.rsplit("/", 1)[-1]: r for r in read_manifest(out)}
    assert rows["bs001_LFAU_12_0.png"].aus["au12"] == 4 and rows["bs001_N_N_0.png"].aus["au12"] == 0
    # au4 is posed in bs002_UFAU_4_0 but the file scores it nowhere: unknown, never read as intensity 1.
    assert all(math.isnan(r.aus["au4"]) for r in rows.values())
    assert main(["prepare", "--dataset", "manifest", "--data-dir", str(out), "--aus", "au12,au4", "--crop-size", "32",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "\nmanifest: train 1, val 0, test 2; au12 known 100%, au4 known 0%" in capsys.readouterr().out


def test_prepare_fails_on_a_corrupt_image_unless_skipping(tmp_path, capsys):
    manifest = make_manifest_dataset(tmp_path / "ds", subjects=2, per_subject=2, test_subjects=1)
    (tmp_path / "ds" / "images" / "s1_0.png").write_bytes(b"\x89PNG broken")
    common = ["prepare", "--dataset", "manifest", "--data-dir", str(manifest), "--crop-size", "32",
              "--cache-dir", str(tmp_path / "cache")]
    assert main(common) == 2
    assert "s1_0.png does not decode" in capsys.readouterr().err
    assert main([*common, "--skip-bad"]) == 0
    assert "train 1, val 0, test 2" in capsys.readouterr().out  # one train subject: no val carved
