"""FER2013 (the shared layout: ``labels.csv`` with path, split, emotion) -> rows and device-geometry crops.

What is taken from FER2013 and why:

- ``emotion`` becomes AU occurrence labels through a table that lives in the training recipe
  (``emotion_aus``), not here: by the emotion criteria used to label CK+ and by EMFACS, anger,
  fear and sadness involve AU4 and happiness AU12; surprise and neutral involve neither. An
  emotion the table does not name is a negative for every AU, unless the recipe lists it under
  ``exclude`` (it is then dropped: e.g. disgust, whose AU9/AU10 sometimes bring AU4 along).
  The labels are noisy (human accuracy on FER2013 is about 65 %), so figures on them are
  reported as "AU4 (expression proxy)".
- splits: FER2013's own ``train``, ``validation`` (PublicTest) -> ``val``, ``test`` (PrivateTest).
- subjects: FER2013 carries no identity, so each image is its own subject.

Crops: FER faces are 48x48 grayscale frames cut by the original Haar detector, with no landmarks;
the device cuts its crop from BlazeFace's keypoints. To give training the device's geometry, each
frame is upscaled 2x (cubic) and padded by a quarter of its side in black on every side (a face
that fills the whole frame is too big for BlazeFace's anchors; measured on 600 random FER faces:
found in 91 % without padding, 97.5 % with this padding, 91 % with replicated borders, 77 % with
a full side of padding), then the detection nearest the frame's centre whose eyes are plausible
is used. Where BlazeFace finds no such face, the crop is cut from :data:`TEMPLATE`, the median
keypoints of 2,909 FER training faces the detector did find (a seeded sample of 3,000; the eyes
made symmetric about the centre). The CropSet's ``meta["keypoints"]`` says which path each
face took ("detector" or "template").
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from auedge.train.data.manifest import DataError, ManifestRow

LABELS_FILE = "labels.csv"
DATASET = "fer2013"
SPLIT_NAMES = {"train": "train", "validation": "val", "test": "test"}
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FRAME = 48  # FER2013's frame side, pixels
UPSCALE = 2
PAD_FRACTION = 0.25  # black border on every side, as a fraction of the upscaled side
# Alignment keypoints (image-left eye, image-right eye, nose tip, mouth centre) in 48-px frame
# pixels, where the detector misses a face (see the module docstring for how they were measured).
TEMPLATE = np.array([[15.3, 18.9], [32.7, 18.9], [24.0, 28.3], [24.0, 37.0]], dtype=np.float64)
# A detection is taken when its eye distance and the midpoint of its eyes are like a FER face's:
# 1 % of detections had eyes closer than 6.5 px (a face in a poster, a hand); 95 % lie in 11-22 px.
EYE_DISTANCE_RANGE = (9.0, 30.0)
MAX_EYE_MIDPOINT_SHIFT = 12.0
# Mouth corners for the occluders' five landmarks: +-0.4 eye distances along the eye line around
# the mouth centre. The occluders never read the mouth corners (see occluders.py), so this only
# fills the landmark format.
MOUTH_HALF_WIDTH = 0.4
TEMPLATE_VERSION = 1  # bump when TEMPLATE, the padding or the acceptance rule changes (a new crop cache)


def parse_emotion_table(table: Mapping[str, object] | None) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """``{"au4": ["angry", ...], "au12": ["happy"], "exclude": ["disgust"]}`` -> (AU -> emotions, excluded).

    Raises DataError naming the bad entry: an unknown emotion or an emotion listed as excluded and
    as an AU's positive."""
    if not table:
        raise DataError("dataset fer2013 needs emotion_aus in the recipe: which emotions count as each AU "
                        "(e.g. emotion_aus = {au4 = [\"angry\", \"fear\", \"sad\"], au12 = [\"happy\"]})")
    aus: dict[str, frozenset[str]] = {}
    excluded: frozenset[str] = frozenset()
    for key, value in table.items():
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise DataError(f"emotion_aus.{key} must be a list of emotion names, got {value!r}")
        names = frozenset(v.strip().lower() for v in value)
        unknown = sorted(names - set(EMOTIONS))
        if unknown:
            raise DataError(f"emotion_aus.{key}: unknown emotion {unknown[0]!r}; use {', '.join(EMOTIONS)}")
        if key.strip().lower() == "exclude":
            excluded = names
        else:
            aus[key.strip().lower()] = names
    both = sorted(excluded & set().union(*aus.values())) if aus else []
    if both:
        raise DataError(f"emotion_aus: {both[0]!r} is excluded and also an AU's positive; keep one")
    return aus, excluded


def build_manifest(data_dir: str | Path, table: Mapping[str, object] | None,
                   aus: Sequence[str] | None = None) -> list[ManifestRow]:
    """Rows of the shared FER2013 layout, labelled by the recipe's emotion table.

    ``aus`` (the task's) restricts which AUs get labels; an AU the table does not name stays
    unknown (NaN), so it is left out of the loss rather than taught as absent."""
    data_dir = Path(data_dir)
    labels = data_dir / LABELS_FILE
    if not data_dir.is_dir():
        raise DataError(f"data dir {data_dir} not found; pass the FER2013 folder (holding {LABELS_FILE}), or import "
                        "Kaggle's fer2013.csv first: python -m auedge.train.data import-fer2013 --help")
    if not labels.is_file():
        raise DataError(f"{labels} not found; the FER2013 folder must hold {LABELS_FILE} (path, split, emotion)")
    positives, excluded = parse_emotion_table(table)
    wanted = [a.lower() for a in aus] if aus is not None else sorted(positives)
    root = str(data_dir.resolve())
    rows: list[ManifestRow] = []
    with open(labels, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("path", "split", "emotion") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{labels}: missing columns {missing}; is this the FER2013 labels.csv (path, split, emotion)?")
        for record in reader:
            where = f"{labels} line {reader.line_num}"
            split = SPLIT_NAMES.get(record["split"].strip().lower())
            if split is None:
                raise DataError(f"{where}, column split: {record['split']!r} is not train, validation or test")
            emotion = record["emotion"].strip().lower()
            if emotion not in EMOTIONS:
                raise DataError(f"{where}, column emotion: {emotion!r} is not one of {', '.join(EMOTIONS)}")
            if emotion in excluded:
                continue
            labels_of = {au: float(emotion in positives[au]) if au in positives else np.nan for au in wanted}
            path = record["path"].strip()
            rows.append(ManifestRow(
                path=os.path.join(root, path), subject=path, split=split, aus=labels_of,
                meta={"emotion": emotion, "dataset": DATASET},
            ))
    if not rows:
        raise DataError(f"{labels} has no rows left after emotion_aus.exclude")
    return rows


def read_frame(path: str) -> np.ndarray:
    """The FER frame as RGB uint8 (grey repeated), whatever its stored size or colour."""
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"image {path} does not decode (missing, corrupt or not an image); replace it or drop its row")
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)


def detector_canvas(frame: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The frame upscaled and padded for BlazeFace; returns (canvas, scale, offset): a canvas point
    ``p`` is frame point ``(p - offset) / scale``."""
    h, w = frame.shape[:2]
    big = cv2.resize(frame, (w * UPSCALE, h * UPSCALE), interpolation=cv2.INTER_CUBIC)
    pad = round(PAD_FRACTION * big.shape[0])
    canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return canvas, float(UPSCALE), float(pad)


def template_for(frame: np.ndarray) -> np.ndarray:
    """:data:`TEMPLATE` scaled to a frame of another size (a user's 64-px copy, say)."""
    return TEMPLATE * (np.array([frame.shape[1], frame.shape[0]], dtype=np.float64) / FRAME)


def plausible(points: np.ndarray, frame_shape: tuple[int, ...]) -> bool:
    """Eyes as far apart, and as central, as a FER face's (in 48-px frame units)."""
    unit = frame_shape[1] / FRAME
    eye_distance = float(np.hypot(*(points[1] - points[0]))) / unit
    shift = float(np.hypot(*((points[0] + points[1]) / 2 - (TEMPLATE[0] + TEMPLATE[1]) / 2 * unit))) / unit
    return EYE_DISTANCE_RANGE[0] <= eye_distance <= EYE_DISTANCE_RANGE[1] and shift <= MAX_EYE_MIDPOINT_SHIFT


def frame_keypoints(detector, frame: np.ndarray) -> np.ndarray | None:
    """The four alignment keypoints of the plausible detection nearest the frame's centre, in
    frame pixels, or None when the detector finds none."""
    canvas, scale, offset = detector_canvas(frame)
    centre = np.array([frame.shape[1], frame.shape[0]], dtype=np.float64) / 2
    best, best_distance = None, np.inf
    for found in detector.detect(canvas):
        points = (np.asarray(found.keypoints[:4], dtype=np.float64) - offset) / scale
        distance = float(np.hypot(*((points[0] + points[1]) / 2 - centre)))
        if plausible(points, frame.shape) and distance < best_distance:
            best, best_distance = points, distance
    return best


def landmarks_from_keypoints(points: np.ndarray) -> np.ndarray:
    """Five landmarks (MTFL order) from the four keypoints: the mouth corners are put at
    +-:data:`MOUTH_HALF_WIDTH` eye distances along the eye line around the mouth centre."""
    eye_line = points[1] - points[0]
    corner = MOUTH_HALF_WIDTH * eye_line
    return np.vstack([points[:3], points[3] - corner, points[3] + corner]).astype(np.float32)


def align_frames(paths: Sequence[str], params, detector_path: str | None, progress=None):
    """Device-geometry crops of FER frames: an :class:`~auedge.train.data.images.AlignedChunk` whose
    ``from_detector`` is False where :data:`TEMPLATE` was used (``detector_path`` None: always)."""
    from auedge.train.data.images import AlignedChunk, _open_detector, align_one

    chunk = AlignedChunk.empty(len(paths), params.size)
    detector = _open_detector(detector_path)
    try:
        for i, path in enumerate(paths):
            frame = read_frame(path)
            points = frame_keypoints(detector, frame) if detector is not None else None
            chunk.from_detector[i] = points is not None
            if points is None:
                points = template_for(frame)
            chunk.images[i], chunk.landmarks[i] = align_one(frame, landmarks_from_keypoints(points), params, points)
            chunk.ok[i] = True
            if progress is not None and (i + 1) % 500 == 0:
                progress.update(i + 1)
    finally:
        if detector is not None:
            detector.backend.close()
    if progress is not None:
        progress.update(len(paths))
    return chunk
