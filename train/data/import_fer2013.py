"""FER2013 as users have it -> the shared layout: ``SPLIT/EMOTION/NAME.png`` images and ``labels.csv``.

    python -m auedge.train.data import-fer2013 --src fer2013.csv --out data/fer2013
    python -m auedge.train.data import-fer2013 --src archive/ --out data/fer2013     # train/<class>/, test/<class>/

Two inputs are read:

``fer2013.csv`` (the Kaggle challenge's file, or a folder holding it)
    columns ``emotion`` (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral),
    ``pixels`` (2304 space-separated grey values 0-255, a 48x48 face row by row) and ``Usage``.
    ``Training`` -> ``train``, ``PublicTest`` -> ``validation``, ``PrivateTest`` -> ``test``: the
    challenge's own splits. Images are written as PNG (lossless) unless ``--format jpg``, named
    ``<Usage>_<row>`` after their 0-based row in the CSV.
a folder per class (the common Kaggle image version)
    ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, classes named as above (``angry`` ...
    ``neutral``; ``anger``, ``sadness``, ``happiness``, ``surprised``, ``fearful``, ``disgusted`` and any
    capitalisation are read too). There ``test`` mixes the challenge's PublicTest and PrivateTest.
    Where every test image keeps its original name (``PublicTest_*`` / ``PrivateTest_*``), the names
    restore the challenge's split: PublicTest -> ``validation``, PrivateTest -> ``test``. Otherwise
    ``test`` stays the test split and validation is carved from ``train``: ``--val-fraction`` (default
    0.1) of each class, chosen by a generator seeded with ``--seed`` (default 0), so the same input
    and seed always give the same split. FER2013 has no person identities, so the carve is by image.
    A ``validation/`` (or ``val/``) folder beside them is used as it is. Images are copied unchanged
    (hard links where possible) unless ``--format`` asks for another encoding.

``labels.csv`` has the columns ``path`` (relative, ``SPLIT/EMOTION/NAME``), ``split`` (train,
validation, test) and ``emotion``. Disgust is kept: which expressions stand for which AU is the
training recipe's choice, not the importer's. Everything is built under a temporary name and renamed
into ``--out`` only when every row has been checked; a bad input is one error line and exit status 2.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from auedge.train.data.manifest import DataError
from auedge.train.data.progress import Progress
from auedge.train.data.staging import place_file, staged_folder, write_labels
from PIL import Image, UnidentifiedImageError

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # index = Kaggle's code
CLASS_ALIASES = {"anger": "angry", "disgusted": "disgust", "fearful": "fear", "happiness": "happy",
                 "sadness": "sad", "surprised": "surprise"}
SPLITS = ("train", "validation", "test")
USAGE_SPLITS = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
SPLIT_FOLDERS = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
                 "test": "test", "testing": "test"}
CSV_COLUMNS = ("emotion", "pixels", "Usage")
CSV_NAME = "fer2013.csv"
SIDE = 48
FORMATS = ("png", "jpg")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DEFAULT_VAL_FRACTION = 0.1
LAYOUT_HINT = "fer2013.csv (emotion, pixels, Usage) or a folder with train/<class>/ and test/<class>/"


@dataclass(frozen=True)
class FerFace:
    """One face to write: where it goes, and either its pixels (CSV) or its source file (folders)."""

    split: str
    emotion: str
    name: str  # file stem
    pixels: np.ndarray | None = None
    source: Path | None = None

    def rel_path(self, suffix: str) -> str:
        return f"{self.split}/{self.emotion}/{self.name}{suffix}"


# ---------------------------------------------------------------- Kaggle's fer2013.csv


def count_rows(path: Path) -> int:
    """Data rows of a CSV, counted from its newlines (for progress; the reader checks every row)."""
    newlines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            newlines, last = newlines + chunk.count(b"\n"), chunk[-1:]
    return max(newlines + (last != b"\n") - 1, 0)


def parse_pixels(text: str, where: str) -> np.ndarray:
    """2304 grey values 0-255 -> a 48x48 uint8 image."""
    values = text.split()
    if len(values) != SIDE * SIDE:
        raise DataError(f"{where}, column pixels: {len(values)} values, expected {SIDE * SIDE} ({SIDE}x{SIDE} grey)")
    try:
        grey = np.array(values, dtype=np.int64)
    except ValueError:
        raise DataError(f"{where}, column pixels: values must be whole numbers 0-255") from None
    if grey.min() < 0 or grey.max() > 255:
        raise DataError(f"{where}, column pixels: values must lie in 0-255, found {grey.min()}..{grey.max()}")
    return grey.astype(np.uint8).reshape(SIDE, SIDE)


def read_csv_faces(path: Path) -> Iterator[FerFace]:
    """The faces of Kaggle's ``fer2013.csv``, checked row by row (a bad row is a DataError)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{path}: missing columns {missing} (found {header[:6]}); expected Kaggle's fer2013.csv "
                            "with emotion, pixels, Usage")
        at = {c: header.index(c) for c in CSV_COLUMNS}
        for index, cells in enumerate(reader):
            where = f"{path} line {reader.line_num}"
            if len(cells) != len(header):
                raise DataError(f"{where}: {len(cells)} cells, the header has {len(header)}")
            code, usage = cells[at["emotion"]].strip(), cells[at["Usage"]].strip()
            if code not in {str(i) for i in range(len(EMOTIONS))}:
                names = ", ".join(f"{i} {e}" for i, e in enumerate(EMOTIONS))
                raise DataError(f"{where}, column emotion: {code!r} is not a FER2013 code ({names})")
            if usage not in USAGE_SPLITS:
                raise DataError(f"{where}, column Usage: {usage!r} is not one of {', '.join(USAGE_SPLITS)}")
            yield FerFace(USAGE_SPLITS[usage], EMOTIONS[int(code)], f"{usage}_{index:05d}",
                          pixels=parse_pixels(cells[at["pixels"]], where))


# ---------------------------------------------------------------- a folder per class


def class_name(folder: Path) -> str:
    name = folder.name.strip().lower()
    name = CLASS_ALIASES.get(name, name)
    if name not in EMOTIONS:
        raise DataError(f"{folder}: class folder {folder.name!r} is not one of {', '.join(EMOTIONS)}")
    return name


def split_folders(src: Path) -> dict[str, Path]:
    """``train``, ``test`` (and ``validation`` if present) under ``src``; other visible folders refused."""
    found: dict[str, Path] = {}
    for child in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        split = SPLIT_FOLDERS.get(child.name.lower())
        if split is None:
            raise DataError(f"{child}: folder {child.name!r} is not train, validation or test; --src must be {LAYOUT_HINT}")
        if split in found:
            raise DataError(f"{src}: both {found[split].name}/ and {child.name}/ hold the {split} split")
        found[split] = child
    if "train" not in found or "test" not in found:
        raise DataError(f"{src}: no train/ and test/ folders found; --src must be {LAYOUT_HINT}")
    return found


def folder_faces(folder: Path, split: str) -> list[FerFace]:
    """Every image under ``folder/<class>/``, in name order (hidden and non-image files are skipped)."""
    faces = []
    for class_folder in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        emotion = class_name(class_folder)
        faces += [FerFace(split, emotion, f.stem, source=f) for f in sorted(class_folder.iterdir())
                  if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")]
    return faces


def carve_validation(train: list[FerFace], fraction: float, seed: int) -> list[FerFace]:
    """Move ``fraction`` of each class of ``train`` to validation, chosen by a seeded generator."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"--val-fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for emotion in EMOTIONS:
        members = [i for i, face in enumerate(train) if face.emotion == emotion]
        picks = rng.permutation(len(members))[: round(fraction * len(members))]
        chosen |= {members[i] for i in picks}
    return [FerFace("validation", f.emotion, f.name, source=f.source) if i in chosen else f for i, f in enumerate(train)]


def read_folder_faces(src: Path, val_fraction: float, seed: int) -> tuple[list[FerFace], str]:
    """The faces of a folder-per-class tree, and one line saying where validation came from."""
    folders = split_folders(src)
    faces = {split: folder_faces(folder, split) for split, folder in folders.items()}
    if "validation" in faces:
        return [f for split in SPLITS for f in faces[split]], f"validation from {folders['validation'].name}/"
    test = faces["test"]
    prefixes = {face.name.split("_", 1)[0] for face in test}
    if test and prefixes <= {"PublicTest", "PrivateTest"}:
        test = [FerFace(USAGE_SPLITS[f.name.split("_", 1)[0]], f.emotion, f.name, source=f.source) for f in test]
        return faces["train"] + test, "validation = test images named PublicTest_*, test = PrivateTest_*"
    train = carve_validation(faces["train"], val_fraction, seed)
    return train + test, f"validation = {val_fraction:g} of each train class (seed {seed}); test = test/"


# ---------------------------------------------------------------- writing


def write_face(face: FerFace, stage: Path, image_format: str | None) -> str:
    """Write one face into the staged folder; returns its relative path."""
    if face.pixels is not None:
        rel = face.rel_path(f".{image_format or 'png'}")
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face.pixels).save(stage / rel, quality=95)
        return rel
    assert face.source is not None
    keep = image_format is None or face.source.suffix.lower().lstrip(".") in _aliases(image_format)
    rel = face.rel_path(face.source.suffix if keep else f".{image_format}")
    try:
        with Image.open(face.source) as image:
            image.load()  # a truncated or foreign file stops the import, not the training
            if not keep:
                if (stage / rel).exists():
                    raise DataError(f"{face.source}: another image of {face.split}/{face.emotion} is also named "
                                    f"{face.name}; rename one of them")
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                image.convert("L").save(stage / rel, quality=95)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"image {face.source} does not decode ({exc}); remove it or download the set again") from None
    if keep:
        place_file(face.source, stage / rel)
    return rel


def _aliases(image_format: str) -> tuple[str, ...]:
    return ("jpg", "jpeg") if image_format == "jpg" else (image_format,)


def import_fer2013(src: str | Path, out: str | Path, image_format: str | None = None,
                   val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0, force: bool = False,
                   progress: bool = True) -> dict[str, int]:
    """Import FER2013 from ``src`` (CSV or folder) into ``out``; returns the number of faces per split."""
    src, out = Path(src), Path(out)
    if image_format is not None and image_format not in FORMATS:
        raise DataError(f"--format {image_format!r} is not one of {', '.join(FORMATS)}")
    if src.is_dir() and (src / CSV_NAME).is_file():
        src = src / CSV_NAME
    if not src.exists():
        raise DataError(f"--src {src} not found; pass {LAYOUT_HINT}")
    if src.is_dir() and (src.resolve() == out.resolve() or out.resolve().is_relative_to(src.resolve())):
        raise DataError(f"--out {out} must be a new folder outside --src {src}")
    counts = dict.fromkeys(SPLITS, 0)
    with staged_folder(out, force) as stage:
        if src.is_dir():
            faces, rule = read_folder_faces(src, val_fraction, seed)
            total: int = len(faces)
            source: Iterator[FerFace] | list[FerFace] = faces
        else:
            total, source, rule = count_rows(src), read_csv_faces(src), "the CSV's Usage column"
        meter = Progress("import-fer2013", total, enabled=progress)
        meter.say(f"splits from {rule}")
        rows = []
        for done, face in enumerate(source, 1):
            rows.append((write_face(face, stage, image_format), face.split, face.emotion))
            counts[face.split] += 1
            meter.update(done)
        if not rows:
            raise DataError(f"{src}: no faces found; --src must be {LAYOUT_HINT}")
        order = {(s, e): i for i, (s, e) in enumerate((s, e) for s in SPLITS for e in EMOTIONS)}
        rows.sort(key=lambda row: (order[row[1], row[2]], row[0]))
        write_labels(stage / "labels.csv", ("path", "split", "emotion"), rows)
    meter.say(f"{len(rows)} faces in {meter.elapsed:.1f}s")
    return counts
