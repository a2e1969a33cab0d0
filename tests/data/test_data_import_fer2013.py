"""import-fer2013: Kaggle's fer2013.csv and the folder-per-class version -> SPLIT/EMOTION/NAME + labels.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from auedge.train.data.cli import main
from PIL import Image

# (emotion code, Usage): every split, disgust (1) included.
CSV_ROWS = [(3, "Training"), (1, "Training"), (0, "PublicTest"), (6, "PrivateTest"), (5, "Training")]


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def write_csv(path: Path, rows=CSV_ROWS, header="emotion,pixels,Usage", pixels=None) -> Path:
    lines = [header]
    for i, (code, usage) in enumerate(rows):
        values = pixels if pixels is not None and i == len(rows) - 1 else " ".join(map(str, face(i).ravel()))
        lines.append(f"{code},{values},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


def read_labels(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def make_folders(root: Path, names: dict[str, dict[str, list[str]]]) -> Path:
    """``root/<split>/<class>/<name>.jpg`` for every name given."""
    for split, classes in names.items():
        for cls, files in classes.items():
            (root / split / cls).mkdir(parents=True)
            for j, name in enumerate(files):
                Image.fromarray(face(j)).save(root / split / cls / f"{name}.jpg")
    return root


def test_csv_import_keeps_the_pixels_and_the_challenge_splits(tmp_path, capsys):
    src, out = write_csv(tmp_path / "fer2013.csv"), tmp_path / "data" / "fer2013"
    assert main(["import-fer2013", "--src", str(src), "--out", str(out)]) == 0
    assert "imported 5 FER2013 faces (train 3, validation 1, test 1)" in capsys.readouterr().out
    labels = read_labels(out)
    assert list(labels[0]) == ["path", "split", "emotion"]
    assert [(r["split"], r["emotion"]) for r in labels] == [
        ("train", "disgust"), ("train", "happy"), ("train", "surprise"), ("validation", "angry"), ("test", "neutral")]
    assert labels[0]["path"] == "train/disgust/Training_00001.png"
    for row in labels:
        index = int(Path(row["path"]).stem.rsplit("_", 1)[1])
        np.testing.assert_array_equal(np.asarray(Image.open(out / row["path"])), face(index))  # lossless
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["fer2013"]


def test_csv_with_spaced_header_in_a_folder_and_jpg_output(tmp_path):
    """icml_face_data.csv writes ' Usage' and ' pixels'; a folder holding fer2013.csv is read too."""
    (tmp_path / "kaggle").mkdir()
    write_csv(tmp_path / "kaggle" / "fer2013.csv", header="emotion, pixels, Usage")
    out = tmp_path / "out"
    assert main(["import-fer2013", "--src", str(tmp_path / "kaggle"), "--out", str(out), "--format", "jpg"]) == 0
    paths = [r["path"] for r in read_labels(out)]
    assert len(paths) == 5 and all(p.endswith(".jpg") for p in paths)
    assert Image.open(out / paths[0]).size == (48, 48)


@pytest.mark.parametrize("header, rows, pixels, message", [
    ("emotion,pixel,Usage", CSV_ROWS, None, "missing columns ['pixels']"),
    ("emotion,pixels,Usage", CSV_ROWS, " ".join(["7"] * 2303), "2303 values, expected 2304"),
    ("emotion,pixels,Usage", CSV_ROWS, " ".join(["256"] * 2304), "values must lie in 0-255"),
    ("emotion,pixels,Usage", CSV_ROWS, " ".join(["x"] * 2304), "whole numbers"),
    ("emotion,pixels,Usage", [*CSV_ROWS, (7, "Training")], None, "'7' is not a FER2013 code"),
    ("emotion,pixels,Usage", [*CSV_ROWS, (2, "Validation")], None, "'Validation' is not one of"),
])
def test_bad_csv_is_one_error_line_and_no_output(tmp_path, capsys, header, rows, pixels, message):
    src = write_csv(tmp_path / "fer2013.csv", rows=rows, header=header, pixels=pixels)
    assert main(["import-fer2013", "--src", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # progress lines may come first
    assert [line for line in err if line.startswith("error")] == err[-1:] and message in err[-1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer2013.csv"]  # neither out nor a temporary folder


def test_folder_version_splits_test_by_the_challenge_names(tmp_path):
    src = make_folders(tmp_path / "archive", {
        "train": {"happy": ["Training_1", "Training_2"], "Disgust": ["Training_3"]},
        "test": {"happy": ["PublicTest_4", "PrivateTest_5"], "sad": ["PrivateTest_6"]},
    })
    out = tmp_path / "out"
    assert main(["import-fer2013", "--src", str(src), "--out", str(out)]) == 0
    got = {r["path"]: (r["split"], r["emotion"]) for r in read_labels(out)}
    assert got == {
        "train/disgust/Training_3.jpg": ("train", "disgust"), "train/happy/Training_1.jpg": ("train", "happy"),
        "train/happy/Training_2.jpg": ("train", "happy"),
        "validation/happy/PublicTest_4.jpg": ("validation", "happy"),
        "test/happy/PrivateTest_5.jpg": ("test", "happy"), "test/sad/PrivateTest_6.jpg": ("test", "sad"),
    }
    assert (out / "test/sad/PrivateTest_6.jpg").read_bytes() == (src / "test/sad/PrivateTest_6.jpg").read_bytes()


def test_folder_without_challenge_names_carves_validation_from_train_by_seed(tmp_path):
    src = make_folders(tmp_path / "archive", {
        "train": {"happy": [f"h{i}" for i in range(20)], "angry": [f"a{i}" for i in range(10)]},
        "test": {"happy": ["t1"], "angry": ["t2"]},
    })

    def split_of(out: Path, *extra: str) -> dict[str, str]:
        assert main(["import-fer2013", "--src", str(src), "--out", str(out), "--format", "png", *extra]) == 0
        return {Path(r["path"]).stem: r["split"] for r in read_labels(out)}

    first = split_of(tmp_path / "o1", "--val-fraction", "0.2")
    val = sorted(name for name, split in first.items() if split == "validation")
    assert len(val) == 6 and sum(n.startswith("h") for n in val) == 4  # 20 % of each class
    assert first["t1"] == first["t2"] == "test"
    assert split_of(tmp_path / "o2", "--val-fraction", "0.2") == first  # same seed, same carve
    assert split_of(tmp_path / "o3", "--val-fraction", "0.2", "--seed", "1") != first
    assert Image.open(tmp_path / "o1" / "test" / "happy" / "t1.png").mode == "L"


def test_bad_folder_is_one_error_line_and_no_output(tmp_path, capsys):
    src = make_folders(tmp_path / "archive", {"train": {"contempt": ["x"]}, "test": {"happy": ["y"]}})
    assert main(["import-fer2013", "--src", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("error")] == err[-1:] and "'contempt' is not one of" in err[-1]
    (src / "train" / "contempt").rename(src / "train" / "happy")
    (src / "test" / "happy" / "y.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert main(["import-fer2013", "--src", str(src), "--out", str(tmp_path / "out")]) == 2
    assert "y.jpg does not decode" in capsys.readouterr().err
    (src / "test").rename(src / "elsewhere")
    assert main(["import-fer2013", "--src", str(src), "--out", str(tmp_path / "out")]) == 2
    assert "'elsewhere' is not train, validation or test" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]


SHARED_FER = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fer2013"


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_FER / "labels.csv").is_file(), reason=f"FER2013 not found at {SHARED_FER}")
def test_kaggle_image_version_gives_back_the_shared_splits(tmp_path):
    """The Kaggle image version mixes PublicTest and PrivateTest in test/: rebuilt from ../shared's
    real images (every 100th face of each split), the import restores the shared rows exactly."""
    with open(SHARED_FER / "labels.csv", newline="", encoding="utf-8") as handle:
        chosen = [row for row in csv.DictReader(handle)][::100]
    src = tmp_path / "archive"
    for row in chosen:
        folder = "train" if row["split"] == "train" else "test"
        link = src / folder / row["emotion"] / Path(row["path"]).name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to((SHARED_FER / row["path"]).resolve())
    assert main(["import-fer2013", "--src", str(src), "--out", str(tmp_path / "out")]) == 0
    rows = sorted(tuple(row.items()) for row in read_labels(tmp_path / "out"))
    assert rows == sorted(tuple(row.items()) for row in chosen)
    assert {row["split"] for row in chosen} == {"train", "validation", "test"}
