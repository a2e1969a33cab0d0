"""The official MTFL download -> the ``labels.csv`` folder that :mod:`auedge.train.data.mtfl` reads.

    python -m auedge.train.data import-mtfl --src MTFL.zip --out data/mtfl

``--src`` is ``MTFL.zip`` from the TCDCN project page or the folder unzipped from it, which holds
``training.txt``, ``testing.txt`` (the annotations) and the image folders ``lfw_5590/``,
``net_7876/`` and ``AFLW/``. Each annotation line is, per the dataset's own readme::

    lfw_5590\\Aaron_Eckhart_0001.jpg x1 x2 x3 x4 x5 y1 y2 y3 y4 y5 gender smile glasses pose

with the five points in the order left eye, right eye, nose, left mouth corner, right mouth corner,
and 1-based codes: gender 1 male / 2 female; smile and glasses 1 yes / 2 no; pose 1 left profile,
2 left, 3 frontal, 4 right, 5 right profile. Paths use backslashes; lines may start with a space.

Written into ``--out`` (built under a temporary name, then renamed): the images (hard links where
the file system allows, else copies), ``SOURCE-readme.txt`` (the dataset's readme, when present) and
``labels.csv`` with one row per image, in file order, training first::

    path,split,source,width,height,mode,smile,glasses,gender,pose,leye_x,leye_y,...,rmouth_y

``split`` is ``training`` / ``testing`` as MTFL names them, ``source`` the image's folder, width,
height and mode read from the image, smile and glasses 0/1, gender ``male``/``female``, and the
landmarks in pixels in the dataset's own order (its "left" is image-left, smaller x, except on a
handful of profile faces, kept as annotated). This is exactly the layout of ``../shared/data/mtfl``.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from auedge.train.data.manifest import LANDMARK_COLUMNS, DataError
from auedge.train.data.progress import Progress
from auedge.train.data.staging import place_file, safe_relative, staged_folder, write_labels
from PIL import Image, UnidentifiedImageError

ANNOTATIONS = {"training": "training.txt", "testing": "testing.txt"}
README_NAMES = ("readme.txt", "README.txt", "SOURCE-readme.txt")
COLUMNS = ("path", "split", "source", "width", "height", "mode", "smile", "glasses", "gender", "pose",
           *LANDMARK_COLUMNS)
GENDER = {"1": "male", "2": "female"}
YES_NO = {"1": "1", "2": "0"}
POSES = ("1", "2", "3", "4", "5")
FIELDS = 15  # path, 10 coordinates, 4 attribute codes
LAYOUT_HINT = "MTFL.zip or the folder unzipped from it (training.txt, testing.txt, lfw_5590/, net_7876/, AFLW/)"


@dataclass(frozen=True)
class MtflFace:
    """One annotation line, decoded to the labels.csv values (all text, ready to write)."""

    path: str
    split: str
    smile: str
    glasses: str
    gender: str
    pose: str
    landmarks: tuple[str, ...]  # leye_x, leye_y, reye_x, ..., rmouth_y


def _code(value: str, table: dict[str, str] | tuple[str, ...], column: str, where: str) -> str:
    if value not in table:
        allowed = "/".join(table)
        raise DataError(f"{where}: {column} code {value!r} is not one of {allowed} (see MTFL's readme)")
    return table[value] if isinstance(table, dict) else value


def parse_line(line: str, split: str, where: str) -> MtflFace:
    """One line of ``training.txt`` / ``testing.txt`` -> :class:`MtflFace`; a bad line is a DataError."""
    cells = line.split()
    if len(cells) != FIELDS:
        raise DataError(f"{where}: {len(cells)} fields, expected {FIELDS} (image path, x1..x5, y1..y5, gender, "
                        "smile, glasses, pose); is this MTFL's training.txt or testing.txt?")
    try:
        coords = [float(v) for v in cells[1:11]]
    except ValueError:
        raise DataError(f"{where}: landmark coordinates {cells[1:11]} are not all numbers") from None
    if not all(math.isfinite(v) for v in coords):
        raise DataError(f"{where}: landmark coordinates {cells[1:11]} must be finite")
    xs, ys = coords[:5], coords[5:]
    gender, smile, glasses, pose = cells[11:]
    return MtflFace(
        path=safe_relative(cells[0], where), split=split,
        smile=_code(smile, YES_NO, "smile", where), glasses=_code(glasses, YES_NO, "glasses", where),
        gender=_code(gender, GENDER, "gender", where), pose=_code(pose, POSES, "pose", where),
        landmarks=tuple(repr(v) for pair in zip(xs, ys) for v in pair),
    )


def read_annotations(root: Path) -> list[MtflFace]:
    """Every face of ``training.txt`` then ``testing.txt`` under ``root``; duplicated images refused."""
    faces: list[MtflFace] = []
    for split, name in ANNOTATIONS.items():
        path = root / name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path} cannot be read as text ({exc}); use MTFL's own annotation file") from None
        faces += [parse_line(line, split, f"{path} line {number}")
                  for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    seen: set[str] = set()
    for face in faces:
        if face.path in seen:
            raise DataError(f"{root}: image {face.path} is annotated twice; use the unmodified MTFL annotation files")
        seen.add(face.path)
    if not faces:
        raise DataError(f"{root}: training.txt and testing.txt list no faces")
    return faces


def find_root(folder: Path) -> Path:
    """The folder holding the annotation files: ``folder`` itself or its one subfolder that does."""
    candidates = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ANNOTATIONS.values()):
            return candidate
    raise DataError(f"{folder}: no training.txt and testing.txt found; --src must be {LAYOUT_HINT}")


def image_info(path: Path, face: MtflFace) -> tuple[str, str, str]:
    """Width, height and PIL mode of an image, read from its header only."""
    if not path.is_file():
        raise DataError(f"image {face.path} ({face.split}.txt) not found at {path}; is the download complete?")
    try:
        with Image.open(path) as image:
            return str(image.width), str(image.height), image.mode
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"image {path} does not decode ({exc}); download MTFL.zip again") from None


def import_mtfl(src: str | Path, out: str | Path, force: bool = False, progress: bool = True) -> dict[str, int]:
    """Import MTFL from ``src`` (zip or folder) into ``out``; returns the number of faces per split."""
    src, out = Path(src), Path(out)
    if not src.exists():
        raise DataError(f"--src {src} not found; pass {LAYOUT_HINT}")
    if src.resolve() == out.resolve() or out.resolve().is_relative_to(src.resolve()):
        raise DataError(f"--out {out} must be a new folder outside --src {src}")
    with staged_folder(out, force) as stage:
        if src.is_file():
            if not zipfile.is_zipfile(src):
                raise DataError(f"--src {src} is neither a folder nor a zip file; pass {LAYOUT_HINT}")
            with zipfile.ZipFile(src) as archive:
                archive.extractall(stage / ".unpacked")  # extractall drops absolute and ".." member names
            root = find_root(stage / ".unpacked")
        else:
            root = find_root(src)
        faces = read_annotations(root)
        meter = Progress("import-mtfl", len(faces), enabled=progress)
        rows = []
        for done, face in enumerate(faces, 1):
            image = root / face.path
            width, height, mode = image_info(image, face)
            place_file(image, stage / face.path)
            rows.append((face.path, face.split, face.path.split("/")[0], width, height, mode, face.smile,
                         face.glasses, face.gender, face.pose, *face.landmarks))
            meter.update(done)
        readme = next((root / n for n in README_NAMES if (root / n).is_file()), None)
        if readme is not None:
            shutil.copyfile(readme, stage / "SOURCE-readme.txt")
        shutil.rmtree(stage / ".unpacked", ignore_errors=True)
        write_labels(stage / "labels.csv", COLUMNS, rows)
    meter.say(f"{len(rows)} faces in {meter.elapsed:.1f}s")
    return {split: sum(face.split == split for face in faces) for split in ANNOTATIONS}
