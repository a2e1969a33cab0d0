"""UNBC-McMaster Shoulder Pain Expression Archive (Lucey et al., FG 2011) -> manifest rows, one per frame.

What the distribution holds (Lucey, Cohn, Prkachin, Solomon and Matthews, *Painful data: The
UNBC-McMaster Shoulder Pain Expression Archive Database*, FG 2011): 200 video sequences of 25
people with shoulder pain moving their affected and unaffected arm, 48,398 frames, every frame FACS
coded, a frame-level pain score (PSPI), sequence-level self-report and observer measures, and 66
AAM landmarks per frame. Its layout, as public readers of the download use it (OpenFace's
``model_training/AU_training/data extraction/extract_UNBC_labels.m`` and ``find_UNBC.m``, read in
the copy at github.com/AiCure/open_dbm ``pkg/OpenFace/``; github.com/pblomsma/facial-behavior
``facial_behavior_analysis.R``; and several UNBC loaders found by code search that read
``Images/.../X.png`` beside ``AAM_landmarks/.../X_aam.txt`` and ``Frame_Labels/PSPI/.../X_facs.txt``)::

    Images/042-ll042/ll042t1aaaff/ll042t1aaaff001.png         25 subject folders NNN-xxNNN, 200 sequences
    Frame_Labels/FACS/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt
                        one line per AU present: AU number, intensity and (in OpenFace's reading, which
                        scans four numbers a line) two more numbers that no reader uses (lines of
                        two are read too); floats written as 4.0000000e+00; an empty file is a frame
                        with no AU
    Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt     one number, the frame's PSPI
    AAM_landmarks/042-ll042/ll042t1aaaff/ll042t1aaaff001_aam.txt          66 "x y" lines
    Sequence_Labels/{AFF,OPR,SEN,VAS}/042-ll042/ll042t1aaaff.txt          one number per sequence:
                        the self-reported affective (AFF) and sensory (SEN) scales and visual
                        analogue scale (VAS), and the observer's pain rating (OPR)

The folders may sit one level deeper (``Images/Images/``, ``Frame_Labels/Frame_Labels/``), as
copies of the zips unpack; both are found. None of this was checked against the real download
(it is licensed and not on this project's machines): the tests use synthetic trees in this layout.

Rows, and why:

- **every frame** (``stride`` 1), or every ``stride``-th frame of each sequence in frame order
  (its 1st, 1+stride-th, ...): neighbouring frames of a video are near copies.
- **labels**: the AUs UNBC codes, 4, 6, 7, 9, 10, 12, 20, 25, 26, 27 and 43, plus any other AU a
  file lists (FACS coding lists every AU present, so an AU a frame's file does not list is absent:
  0, as for CK+). ``occurrence`` (default) writes 0/1; ``intensity`` the coded 1-5 (A-E), 0 where
  absent and NaN where listed with intensity 0 (not scored); AU43 (eyes closed) is coded as
  occurrence only, so with ``intensity`` it is left unknown rather than read as an intensity 1. A
  line with AU 0 (FACS' code for a neutral face) lists nothing.
- **PSPI** (Prkachin and Solomon Pain Intensity, 0-16 = AU4 + max(AU6, AU7) + max(AU9, AU10) +
  AU43) as the meta column ``pspi``, from ``Frame_Labels/PSPI`` where it exists, else computed
  from the frame's FACS codes by that formula; frames whose file and codes disagree are counted
  in a note on stderr. It is metadata, not a label column: the labels are AUs.
- **subject** the subject folder (``042-ll042``); **meta** ``sequence``, ``frame`` (its number),
  ``pspi``, the sequence measures ``aff``, ``opr``, ``sen``, ``vas`` (empty where the download has
  no file) and ``source`` ``unbc``.
- **landmarks** from ``AAM_landmarks/`` when its file for the frame exists: the 66-point markup is
  the 68-point one without the two inner mouth corners (68's 60 and 64; menpo's
  ``face_ibug_68_to_face_ibug_66`` labeller), so its points 0-59 are the 68's and the same indices
  serve: 36-41 and 42-47 the eye contours (each eye's centre is their mean), 30 the nose tip, 48 and
  54 the outer mouth corners; each pair ordered by x so "left" is image-left, as in MTFL. Without
  the folder the rows carry none: the device path does not need them, training does.
- **splits**: UNBC has no official split (papers use leave-one-subject-out or 5-fold by subject),
  so whole subjects are carved into ``test`` by a seeded hash (``test_fraction`` 0.2, ``seed`` 0);
  ``all_split="test"`` puts every row in ``test`` for evaluation-only use.

Occurrence from intensity in evaluation: an AU counts as present from intensity 1 (A) on UNBC, as in
OpenFace's UNBC occurrence models (``experiments/UNBC/Script_HOG_SVM_train.m`` sets every label
above 1 to 1, so any coded intensity is a positive; ``Prepare_HOG_AU_data.m`` balances on labels
> 0), unlike DISFA's literature cut of 2 (``benchmarks/end_to_end.py --dataset unbc`` defaults to 1).

Terms: UNBC-McMaster is given out by Jeffrey Cohn's lab (https://sites.pitt.edu/~emotion/um-spread.htm)
for research under a signed agreement; never commit it.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from auedge.train.data import facs_files
from auedge.train.data.manifest import DataError, ManifestRow
from auedge.train.data.splits import split_by_subject

SOURCE = "unbc"
IMAGES = ("Images",)
FRAME_LABELS = ("Frame_Labels",)
LANDMARKS = ("AAM_landmarks",)
SEQUENCE_LABELS = ("Sequence_Labels",)
SEQUENCE_MEASURES = ("AFF", "OPR", "SEN", "VAS")
AUS = (4, 6, 7, 9, 10, 12, 20, 25, 26, 27, 43)
OCCURRENCE_ONLY = (43,)
POINTS_66 = 66
PSPI_MAX = 16
DEFAULT_STRIDE = 1
FACS_FIX = ("each line must be 'AU intensity' or 'AU intensity n n', two or four numbers as in the "
            "UNBC-McMaster download; restore the file from its Frame_Labels")
RESTORE_LABELS = "restore it from the UNBC-McMaster download's Frame_Labels"
RESTORE_LANDMARKS = "restore it from the UNBC-McMaster download's AAM_landmarks"


def read_facs(path: Path) -> dict[int, float]:
    """AU number -> intensity of one frame's ``_facs.txt`` (empty: no AU present)."""
    return facs_files.read_facs_codes(path, widths=(2, 4), fix=FACS_FIX, restore=RESTORE_LABELS, first_au=0)


def read_number(path: Path, what: str, restore: str, top: float | None = None) -> float:
    """The one number a PSPI file (0..``top``) or a sequence-measure file (>= 0) holds."""
    cells = " ".join(facs_files.read_text_lines(path, what, restore)).split()
    try:
        (value,) = (float(cell) for cell in cells)
    except ValueError:
        value = math.nan
    if not 0 <= value <= (math.inf if top is None else top):  # also NaN: no number, several, or not a number
        span = "a number >= 0" if top is None else f"a number 0-{top:g}"
        raise DataError(f"{what} {path} must hold one number, {span}, not {' '.join(cells)[:40]!r}; {restore}")
    return value


def pspi_of(codes: dict[int, float]) -> float:
    """Prkachin and Solomon Pain Intensity of one frame: AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43."""
    return (codes.get(4, 0.0) + max(codes.get(6, 0.0), codes.get(7, 0.0))
            + max(codes.get(9, 0.0), codes.get(10, 0.0)) + float(43 in codes))


def frame_labels(codes: dict[int, float], au_numbers: list[int], kind: str) -> dict[str, float]:
    """One frame's AU labels (see the module docstring)."""
    labels = facs_files.au_labels(codes, au_numbers, kind)
    if kind == "intensity":
        labels.update({f"au{n}": math.nan for n in OCCURRENCE_ONLY if n in au_numbers})
    return labels


def sequence_frames(images: Path, stride: int) -> list[tuple[str, str, int, Path]]:
    """(subject, sequence, frame number, image) of every ``stride``-th frame of each sequence."""
    frames: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for image in images.glob("*/*/*.png"):
        subject, sequence = image.parent.parent.name, image.parent.name
        match = re.fullmatch(re.escape(sequence) + r"(\d+)", image.stem)
        if match is None:
            raise DataError(f"image {image}: name is not {sequence}NNN.png (its sequence and frame number); "
                            "restore the UNBC-McMaster file names")
        frames.setdefault((subject, sequence), []).append((int(match[1]), image))
    chosen = []
    for (subject, sequence), listed in sorted(frames.items()):
        chosen += [(subject, sequence, number, image) for number, image in sorted(listed)[::stride]]
    return chosen


def sequence_measures(folder: Path | None, subject: str, sequence: str) -> dict[str, str]:
    """The sequence's AFF, OPR, SEN and VAS (``Sequence_Labels/``), empty where the download has no file."""
    if folder is None:
        return {}
    measures = {}
    for name in SEQUENCE_MEASURES:
        path = folder / name / subject / f"{sequence}.txt"
        restore = "restore it from the download's Sequence_Labels"
        measures[name.lower()] = f"{read_number(path, f'{name} file', restore):g}" if path.is_file() else ""
    return measures


def build_manifest(data_dir: str | Path, *, kind: str = "occurrence", stride: int = DEFAULT_STRIDE,
                   test_fraction: float = 0.2, seed: int = 0, all_split: str | None = None) -> list[ManifestRow]:
    """Scan a UNBC-McMaster folder (the one holding ``Images/`` and ``Frame_Labels/``) into manifest rows."""
    if stride < 1:
        raise DataError(f"unbc: --stride must be >= 1 (1 = every frame), got {stride}")
    root = facs_files.checked_root(data_dir, dataset="unbc", name="UNBC-McMaster", holding="Images/ and Frame_Labels/",
                                   kind=kind, test_fraction=test_fraction, all_split=all_split)
    images, labels = facs_files.find_folder(root, IMAGES), facs_files.find_folder(root, FRAME_LABELS)
    facs = labels / "FACS" if labels is not None and (labels / "FACS").is_dir() else None
    for folder, name in ((images, "Images"), (facs, "Frame_Labels/FACS")):
        if folder is None:
            raise DataError(f"UNBC-McMaster folder {root} has no {name}/ folder; unzip the download's {name.split('/')[0]} "
                            "into it")
    pspi_dir = labels / "PSPI" if (labels / "PSPI").is_dir() else None
    landmarks, sequences = facs_files.find_folder(root, LANDMARKS), facs_files.find_folder(root, SEQUENCE_LABELS)
    frames = sequence_frames(images, stride)
    if not frames:
        raise DataError(f"{images} holds no <subject>/<sequence>/*.png frames; is it the Images folder of UNBC-McMaster?")
    coded = []
    for subject, sequence, number, image in frames:
        facs_file = facs / subject / sequence / f"{image.stem}_facs.txt"
        if not facs_file.is_file():
            raise DataError(f"frame {image} has no FACS file {facs_file}; unzip the download's Frame_Labels fully")
        coded.append(read_facs(facs_file))
    au_numbers = sorted(set(AUS) | {n for codes in coded for n in codes})
    rows: list[ManifestRow] = []
    measures: dict[tuple[str, str], dict[str, str]] = {}
    no_landmarks = disagree = 0
    for (subject, sequence, number, image), codes in zip(frames, coded):
        pspi = pspi_of(codes)
        if pspi_dir is not None:
            file = pspi_dir / subject / sequence / f"{image.stem}_facs.txt"
            if not file.is_file():
                raise DataError(f"frame {image} has no PSPI file {file}; unzip the download's Frame_Labels fully")
            coded_pspi, pspi = pspi, read_number(file, "PSPI file", RESTORE_LABELS, PSPI_MAX)
            disagree += pspi != coded_pspi
        points = None
        if landmarks is not None:
            file = landmarks / subject / sequence / f"{image.stem}_aam.txt"
            if file.is_file():
                points = facs_files.five_points(facs_files.read_points(file, POINTS_66, RESTORE_LANDMARKS))
        no_landmarks += points is None
        if (subject, sequence) not in measures:
            measures[subject, sequence] = sequence_measures(sequences, subject, sequence)
        meta = {"sequence": sequence, "frame": str(number), "pspi": f"{pspi:g}", **measures[subject, sequence],
                "source": SOURCE}
        rows.append(ManifestRow(str(image.resolve()), subject, "train", frame_labels(codes, au_numbers, kind), points, meta))
    notes = []
    if pspi_dir is None:
        notes.append("no Frame_Labels/PSPI folder: PSPI computed from the FACS codes")
    elif disagree:
        notes.append(f"{disagree} of {len(rows)} frames have a PSPI file that differs from AU4 + max(AU6, AU7) + "
                     "max(AU9, AU10) + AU43 of their FACS codes (the file's value is kept)")
    if no_landmarks:
        where = f"{landmarks} has no file for them" if landmarks is not None else "no AAM_landmarks/ folder"
        notes.append(f"{no_landmarks} of {len(rows)} rows have no landmarks ({where}): the device path does not "
                     "need them, training does (unzip the download's AAM_landmarks beside Images/)")
    for note in notes:
        print(f"unbc: {note}", file=sys.stderr)
    split_by_subject(rows, test_fraction, seed, "unbc-test", all_split)
    return rows
