"""import-mtfl: the official MTFL download (training.txt / testing.txt + images) -> the labels.csv folder."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from auedge.train.data import mtfl
from auedge.train.data.cli import main
from PIL import Image

SHARED_MTFL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mtfl"
# Three lines as MTFL writes them: backslash paths, a leading space after the first line, six-digit decimals.
TRAINING = (
    "lfw_5590\\Aaron_Eckhart_0001.jpg 107.250000 147.750000 126.250000 106.250000 140.750000 "
    "108.750000 113.250000 143.750000 158.750000 162.750000 1 2 2 3\n"
    " net_7876\\_60_924_0.jpg 73.000000 105.000000 98.000000 72.000000 96.000000 65.000000 62.000000 89.000000 "
    "105.000000 104.000000 2 1 1 4\n"
)
TESTING = (" AFLW/0001-image20056.jpg 56.607985 101.326679 79.548094 43.831216 93.196007 43.250454 58.059891 "
           "69.965517 86.226860 103.940109 1 1 2 3\n")
EXPECTED = [
    ["lfw_5590/Aaron_Eckhart_0001.jpg", "training", "lfw_5590", "250", "250", "RGB", "0", "0", "male", "3",
     "107.25", "108.75", "147.75", "113.25", "126.25", "143.75", "106.25", "158.75", "140.75", "162.75"],
    ["net_7876/_60_924_0.jpg", "training", "net_7876", "160", "216", "RGB", "1", "1", "female", "4",
     "73.0", "65.0", "105.0", "62.0", "98.0", "89.0", "72.0", "105.0", "96.0", "104.0"],
    ["AFLW/0001-image20056.jpg", "testing", "AFLW", "150", "150", "L", "1", "0", "male", "3",
     "56.607985", "43.250454", "101.326679", "58.059891", "79.548094", "69.965517", "43.831216", "86.22686",
     "93.196007", "103.940109"],
]


def make_download(folder: Path, training: str = TRAINING, testing: str = TESTING) -> Path:
    """A miniature MTFL folder: the two annotation files, the readme and three decodable JPEGs."""
    folder.mkdir(parents=True)
    (folder / "training.txt").write_text(training)
    (folder / "testing.txt").write_text(testing)
    (folder / "readme.txt").write_text("Multi-Task Facial Landmark (MTFL) dataset v1.0\n")
    rng = np.random.default_rng(0)
    for rel, (w, h), mode in (("lfw_5590/Aaron_Eckhart_0001.jpg", (250, 250), "RGB"),
                              ("net_7876/_60_924_0.jpg", (160, 216), "RGB"), ("AFLW/0001-image20056.jpg", (150, 150), "L")):
        (folder / rel).parent.mkdir(exist_ok=True)
        shape = (h, w, 3) if mode == "RGB" else (h, w)
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(folder / rel)
    return folder


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_import_mtfl_writes_the_layout_the_loader_reads(tmp_path, capsys):
    src, out = make_download(tmp_path / "MTFL"), tmp_path / "data" / "mtfl"
    assert main(["import-mtfl", "--src", str(src), "--out", str(out)]) == 0
    assert "imported 3 MTFL faces (training 2, testing 1)" in capsys.readouterr().out
    header, *rows = read_rows(out / "labels.csv")
    assert header[:10] == ["path", "split", "source", "width", "height", "mode", "smile", "glasses", "gender", "pose"]
    assert rows == EXPECTED
    assert (out / "SOURCE-readme.txt").read_text().startswith("Multi-Task")
    assert (out / "AFLW" / "0001-image20056.jpg").read_bytes() == (src / "AFLW" / "0001-image20056.jpg").read_bytes()
    manifest = {Path(r.path).name: r for r in mtfl.build_manifest(out)}
    eckhart = manifest["Aaron_Eckhart_0001.jpg"]
    assert eckhart.subject == "Aaron_Eckhart" and eckhart.split == "train" and eckhart.aus == {"au12": 0.0}
    np.testing.assert_allclose(eckhart.landmarks[0], [107.25, 108.75])
    assert manifest["0001-image20056.jpg"].split == "test" and manifest["_60_924_0.jpg"].meta["glasses"] == "1"
    assert [p.name for p in tmp_path.joinpath("data").iterdir()] == ["mtfl"]  # no temporary folder left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0700


def test_import_mtfl_reads_the_zip_as_downloaded(tmp_path):
    src = make_download(tmp_path / "unzipped")
    archive = tmp_path / "MTFL.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, "MTFL/" + path.relative_to(src).as_posix())
    assert main(["import-mtfl", "--src", str(archive), "--out", str(tmp_path / "out")]) == 0
    assert read_rows(tmp_path / "out" / "labels.csv")[1:] == EXPECTED
    assert not (tmp_path / "out" / ".unpacked").exists()


@pytest.mark.parametrize("training, message", [
    (TRAINING.replace(" 1 2 2 3\n", " 1 2 2\n"), "14 fields, expected 15"),
    (TRAINING.replace(" 1 2 2 3\n", " 1 3 2 3\n"), "smile code '3' is not one of 1/2"),
    (TRAINING.replace(" 1 2 2 3\n", " 1 2 2 6\n"), "pose code '6'"),
    (TRAINING.replace("107.250000", "nan"), "must be finite"),
    (TRAINING.replace("lfw_5590\\Aaron", "..\\..\\Aaron"), "must be relative to the dataset folder"),
    (TRAINING + TRAINING, "annotated twice"),
    (TRAINING.replace("Aaron_Eckhart_0001", "Aaron_Eckhart_0002"), "not found"),
])
def test_bad_download_is_one_error_line_and_no_output(tmp_path, capsys, training, message):
    src, out = make_download(tmp_path / "MTFL", training=training), tmp_path / "out"
    assert main(["import-mtfl", "--src", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # progress lines may come first
    assert [line for line in err if line.startswith("error")] == err[-1:] and message in err[-1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MTFL"]  # neither out nor a temporary folder


def test_existing_output_is_kept_unless_forced(tmp_path, capsys):
    src, out = make_download(tmp_path / "MTFL"), tmp_path / "out"
    out.mkdir()
    (out / "labels.csv").write_text("mine\n")
    assert main(["import-mtfl", "--src", str(src), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and (out / "labels.csv").read_text() == "mine\n"
    assert main(["import-mtfl", "--src", str(src), "--out", str(out), "--force"]) == 0
    assert read_rows(out / "labels.csv")[1:] == EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MTFL", "out"]
    assert main(["import-mtfl", "--src", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 2
    assert main(["import-mtfl", "--src", str(out), "--out", str(tmp_path / "o3")]) == 2  # no annotation files
    assert "no training.txt and testing.txt" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_MTFL / "labels.csv").is_file(), reason=f"MTFL not found at {SHARED_MTFL}")
def test_import_reproduces_the_shared_labels_from_mtfl_format_annotations(tmp_path):
    """Annotation lines written back in MTFL's own format from ../shared's labels.csv (150 faces a split),
    over the real images: the import gives back exactly the shared rows (sizes, modes, numbers)."""
    header, *shared = read_rows(SHARED_MTFL / "labels.csv")
    col = {name: header.index(name) for name in header}
    src = tmp_path / "MTFL"
    src.mkdir()
    for folder in ("lfw_5590", "net_7876", "AFLW"):
        (src / folder).symlink_to((SHARED_MTFL / folder).resolve())
    chosen = [r for split in ("training", "testing") for r in [r for r in shared if r[1] == split][::40][:150]]
    chosen += [r for r in shared if r[col["mode"]] != "RGB"][:3]  # the grayscale AFLW photos too
    for split in ("training", "testing"):
        lines = []
        for r in (r for r in chosen if r[1] == split):
            xs = [r[col[f"{p}_x"]] for p in ("leye", "reye", "nose", "lmouth", "rmouth")]
            ys = [r[col[f"{p}_y"]] for p in ("leye", "reye", "nose", "lmouth", "rmouth")]
            codes = ["1" if r[col["gender"]] == "male" else "2", "1" if r[col["smile"]] == "1" else "2",
                     "1" if r[col["glasses"]] == "1" else "2", r[col["pose"]]]
            lines.append(" " + " ".join([r[0].replace("/", "\\"), *[f"{float(v):.6f}" for v in xs + ys], *codes]))
        (src / f"{split}.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["import-mtfl", "--src", str(src), "--out", str(out)]) == 0
    got_header, *got = read_rows(out / "labels.csv")
    assert got_header == header
    assert sorted(got) == sorted(chosen)
