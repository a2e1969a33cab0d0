"""CK+ (the Extended Cohn-Kanade database, Lucey et al., CVPR Workshops 2010) -> manifest rows.

Layout, as the database's own ReadMe describes its distribution (mirrored at
http://kerwin.cn/dl/11?query=CK; the same tree in github.com/Open-Debin/Emotion-FAN data/frame/readme.md)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    FACS/S005/001/S005_001_00000011_facs.txt            one per sequence: its last (peak) frame
    Landmarks/S005/001/S005_001_00000011_landmarks.txt  optional: 68 AAM points per frame, "x y" a line
    Emotion/S005/001/S005_001_00000011_emotion.txt      optional: one number 0-7 (327 of 593 sequences)

The zips of the download unpack with or without an extra level (``Landmarks/Landmarks/``,
``FACS_labels/FACS/``, ``Emotion_labels/Emotion/``); every one of those is found.
Each of the 593 sequences runs "from the neutral face to the peak expression" (the ReadMe), and
only the peak is FACS coded: a ``_facs.txt`` line is an AU number and its intensity, both written
as floats (``4.0000000e+00   3.0000000e+00``); intensity 0 means the AU is present but its
intensity was not scored, 1-5 are FACS' A-E.

Rows, and why:

- the **peak frame** of every coded sequence. FACS coding lists every AU present, so an AU the
  file does not list is absent: 0, not unknown. Labels are ``occurrence`` 0/1 by default; with
  ``kind="intensity"`` the scored intensity 1-5, 0 where absent and NaN where present but not
  scored (intensity 0), so no occurrence code is ever read as an intensity.
- the **first frame** of each coded sequence (``neutral_frames``, default 1; 0 for none) as a
  neutral face, all AUs 0: the protocol's sequences start at neutral, and this is the convention
  of CK+ AU work since Lucey et al. (neutral first frame against coded peak). It gives every
  subject negatives of the same face under the same light, which a peak-only set lacks entirely
  (nearly every peak has some AU). Frames in between are onset frames with unknown intensities
  and are not used.
- **subject** ``S005``; **meta** ``sequence`` (``S005_001``), ``frame`` (``peak``/``neutral``),
  ``emotion`` (from ``Emotion/`` where a file exists) and ``source`` ``ckplus``.
- **landmarks** from ``Landmarks/`` when its file for the frame exists: the 68-point markup
  (0-based: 36-41 and 42-47 the two eye contours, 30 the nose tip, 48 and 54 the mouth corners);
  eye centre = mean of its six contour points; each pair ordered by x so "left" is image-left, as
  in MTFL. Without the folder the rows carry none: the device path (``benchmarks/end_to_end.py``)
  does not need them, training does (``Landmarks.zip`` is part of the download).
- **splits**: CK+ has no official split (its protocol is leave-one-subject-out), so whole
  subjects are carved into ``test`` by a seeded hash (``test_fraction``, default 0.2, ``seed``);
  the rest is the ``train`` pool the loader carves validation from. ``all_split="test"`` puts
  every row in ``test`` for evaluation-only use.

Terms: CK+ is given out for non-commercial research under a signed agreement; never commit it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from auedge.train.data.facs_files import (
    au_labels,
    checked_root,
    find_folder,
    five_points,
    read_facs_codes,
    read_points,
)
from auedge.train.data.manifest import DataError, ManifestRow
from auedge.train.data.splits import split_by_subject

SOURCE = "ckplus"
IMAGES = ("cohn-kanade-images",)
FACS = ("FACS", "FACS_labels")
LANDMARKS = ("Landmarks",)
EMOTION = ("Emotion", "Emotion_labels")
FRAME_NAME = re.compile(r"^(?P<subject>S\d+)_(?P<sequence>\d+)_(?P<frame>\d+)$")
BASE_AUS = (4, 12)
EMOTIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
POINTS_68 = 68


def read_facs(path: Path) -> dict[int, float]:
    """AU number -> intensity (0 = present, intensity not scored; 1-5 = A-E) of one ``_facs.txt``."""
    codes = read_facs_codes(path, widths=(2,), restore="restore it from the CK+ download",
                            fix="each line must be 'AU intensity', two numbers as in the CK+ download; restore the file from it")
    if not codes:
        raise DataError(f"FACS file {path} lists no AU; a coded CK+ peak lists at least one: restore it from the download")
    return codes


def read_landmarks(path: Path) -> np.ndarray:
    """The 68 (x, y) points of one ``_landmarks.txt``."""
    return read_points(path, POINTS_68, "restore it from Landmarks.zip")


def read_emotion(path: Path) -> str:
    try:
        value = float(path.read_text(encoding="utf-8", errors="replace").split()[0])
    except (OSError, IndexError, ValueError):
        raise DataError(f"emotion file {path} does not hold one number 0-7; restore it from Emotion_labels.zip") from None
    if value not in range(len(EMOTIONS)):
        raise DataError(f"emotion file {path}: {value:g} is not 0-7; restore it from Emotion_labels.zip")
    return EMOTIONS[int(value)]


def build_manifest(
    data_dir: str | Path,
    *,
    kind: str = "occurrence",
    neutral_frames: int = 1,
    test_fraction: float = 0.2,
    seed: int = 0,
    all_split: str | None = None,
) -> list[ManifestRow]:
    """Scan a CK+ folder (the one holding ``cohn-kanade-images/`` and ``FACS/``) into manifest rows."""
    if neutral_frames < 0:
        raise DataError(f"ckplus: neutral frames must be >= 0, got {neutral_frames}")
    root = checked_root(data_dir, dataset="ckplus", name="CK+", holding="cohn-kanade-images/ and FACS/", kind=kind,
                        test_fraction=test_fraction, all_split=all_split)
    images, facs = find_folder(root, IMAGES), find_folder(root, FACS)
    for folder, name, zip_name in ((images, "cohn-kanade-images", "cohn-kanade-images.zip"), (facs, "FACS", "FACS_labels.zip")):
        if folder is None:
            raise DataError(f"CK+ folder {root} has no {name}/ folder; unzip {zip_name} of the CK+ download into it")
    landmarks, emotion = find_folder(root, LANDMARKS), find_folder(root, EMOTION)
    coded = sorted(facs.glob("S*/*/*_facs.txt"))
    if not coded:
        raise DataError(f"{facs} holds no S*/NNN/*_facs.txt files; is it the FACS folder of CK+?")
    sequences = []
    for path in coded:
        stem = path.name.removesuffix("_facs.txt")
        match = FRAME_NAME.match(stem)
        if match is None:
            raise DataError(f"FACS file {path}: name is not SNNN_NNN_NNNNNNNN_facs.txt; restore CK+'s file names")
        peak = images / path.parent.relative_to(facs) / f"{stem}.png"
        if not peak.is_file():
            raise DataError(f"FACS file {path} codes frame {peak}, which is missing; unzip cohn-kanade-images.zip fully")
        sequences.append((match, peak, read_facs(path)))
    au_numbers = sorted(set(BASE_AUS) | {n for _, _, codes in sequences for n in codes})
    rows: list[ManifestRow] = []
    no_landmarks = 0
    for match, peak, codes in sequences:
        subject, sequence = match["subject"], f"{match['subject']}_{match['sequence']}"
        before = sorted(p for p in peak.parent.glob(f"{sequence}_*.png") if p.name < peak.name)
        meta = {"sequence": sequence, "source": SOURCE}
        if emotion is not None:
            label = emotion / peak.parent.relative_to(images) / f"{peak.stem}_emotion.txt"
            meta["emotion"] = read_emotion(label) if label.is_file() else ""
        frames = [(p, None, "neutral") for p in before[:neutral_frames]] + [(peak, codes, "peak")]
        for image, frame_codes, role in frames:
            points = None
            if landmarks is not None:
                file = landmarks / image.parent.relative_to(images) / f"{image.stem}_landmarks.txt"
                points = five_points(read_landmarks(file)) if file.is_file() else None
            no_landmarks += points is None
            rows.append(ManifestRow(str(image.resolve()), subject, "train", au_labels(frame_codes, au_numbers, kind),
                                    points, meta | {"frame": role}))
    if no_landmarks:
        where = f"{landmarks} has no file for them" if landmarks is not None else "no Landmarks/ folder"
        print(f"ckplus: {no_landmarks} of {len(rows)} rows have no landmarks ({where}): the device path does not "
              "need them, training does (unzip Landmarks.zip beside cohn-kanade-images/)", file=sys.stderr)
    split_by_subject(rows, test_fraction, seed, "ckplus-test", all_split)
    return rows
