"""Decode an image file and cut the project's one aligned crop out of it.

Runs in the loader's process or in a small process pool (spawned, so it never forks a process
that already holds TensorFlow); everything here is therefore a plain top-level function on
picklable values.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
from auedge.edge.align import CropParams, align_points, points_from_landmarks, transform_points
from auedge.train.data.manifest import DataError
from auedge.train.data.progress import Progress


def decode_image(path: str) -> np.ndarray:
    """RGB uint8 (H, W, 3) pixels of an image file, as stored (EXIF orientation is ignored,
    because dataset landmarks are given on the stored pixel grid); grey images become RGB."""
    try:
        with open(path, "rb") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"image {path} cannot be read ({exc.strerror}); fix the path in the manifest") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if image is None:
        raise DataError(f"image {path} does not decode (corrupt or not an image); replace it or pass skip_bad")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def align_one(
    image: np.ndarray, landmarks: np.ndarray, params: CropParams, keypoints: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The crop of one RGB image and its (5, 2) landmarks carried into crop pixels.

    The crop is cut from ``keypoints`` (the face detector's, in its order: eyes, nose tip, mouth
    centre) when given, else from the landmarks themselves (eyes: rows 0, 1; method ``landmarks``
    also fits the nose and the mouth-corner midpoint). The landmarks always come along, because
    the occluders are placed on them."""
    points = np.asarray(landmarks, dtype=np.float32)
    source = points_from_landmarks(points) if keypoints is None else keypoints
    crop, matrix = align_points(image, source, params)
    return crop, transform_points(points, matrix).astype(np.float32)


@dataclass
class AlignedChunk:
    """Crops of a run of rows; rows that failed have ``ok`` False, a black crop and NaN landmarks.
    ``from_detector`` says which crops were cut from the face detector's keypoints."""

    images: np.ndarray
    landmarks: np.ndarray
    ok: np.ndarray
    from_detector: np.ndarray
    errors: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, n: int, size: int) -> AlignedChunk:
        return cls(
            images=np.zeros((n, size, size, 3), dtype=np.uint8),
            landmarks=np.full((n, 5, 2), np.nan, dtype=np.float32),
            ok=np.zeros(n, dtype=bool),
            from_detector=np.zeros(n, dtype=bool),
        )


def _open_detector(path: str | None):
    """A one-thread BlazeFace for this process's chunk, or None (crops from the labels)."""
    if path is None:
        return None
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    return FaceDetector.create_from_options(FaceDetectorOptions(model_path=path, num_threads=1))


def detector_keypoints(detector, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The four alignment keypoints of the detection that is the labelled face, or None when the
    detector does not find it (its eyes farther than half an eye distance from the labelled ones)."""
    from auedge.edge.face_detector import matching_detection

    found = matching_detection(detector.detect(image), landmarks[0], landmarks[1])
    return None if found is None else np.asarray(found.keypoints[:4], dtype=np.float64)


def most_confident_landmarks(detections: list) -> np.ndarray | None:
    """Five landmarks (MTFL order) of the most confident detection, or None when there is none.

    For datasets without landmarks of their own and one face per image (DISFA, CK+ without
    ``Landmarks/``): the mouth corners are set around the detector's mouth centre as for FER2013
    (``fer2013.landmarks_from_keypoints``); the crop is cut from the eyes, the occluders use them all."""
    from auedge.train.data.fer2013 import landmarks_from_keypoints

    best = max(detections, key=lambda d: d.score, default=None)
    return None if best is None else landmarks_from_keypoints(np.asarray(best.keypoints[:4], dtype=np.float64))


def align_rows(
    paths: list[str], landmarks: np.ndarray, crop: dict, skip_bad: bool, detector_path: str | None = None
) -> AlignedChunk:
    """Decode and align each image with its (5, 2) landmarks (eyes are rows 0 and 1).

    With ``detector_path`` every image first goes through BlazeFace, as on a device, and the crop
    is cut from the keypoints of the detection that matches the labelled eyes; a face the detector
    misses is cut from its labels (``from_detector`` False)."""
    params = CropParams.from_dict(crop)
    chunk = AlignedChunk.empty(len(paths), params.size)
    detector = _open_detector(detector_path)
    try:
        for i, path in enumerate(paths):
            try:
                image = decode_image(path)
                keypoints = detector_keypoints(detector, image, landmarks[i]) if detector is not None else None
                try:
                    chunk.images[i], chunk.landmarks[i] = align_one(image, landmarks[i], params, keypoints)
                except ValueError as exc:
                    raise DataError(f"image {path}: {exc}; fix its landmarks or drop the row") from None
            except DataError as exc:
                if not skip_bad:
                    raise
                chunk.errors.append(str(exc))
                continue
            chunk.ok[i] = True
            chunk.from_detector[i] = keypoints is not None
    finally:
        if detector is not None:
            detector.backend.close()
    return chunk


CHUNK_ROWS = 256


def align_all(
    paths: list[str],
    landmarks: np.ndarray,
    crop: CropParams,
    *,
    skip_bad: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
    detector_path: str | None = None,
) -> AlignedChunk:
    """Decode and align every row, in chunks, in this process or a spawned pool of ``workers``.

    One process is the default: on the 2-core reference machine a pool of 2 was slower for all of
    MTFL (16.2 s against 14.5 s), the spawn and the transfer of crops back eating the gain. With
    more free cores, pass more workers.
    """
    n = len(paths)
    out = AlignedChunk.empty(n, crop.size)
    starts = list(range(0, n, CHUNK_ROWS))
    jobs = [(paths[s : s + CHUNK_ROWS], landmarks[s : s + CHUNK_ROWS], crop.to_dict(), skip_bad, detector_path)
            for s in starts]

    def collect(start: int, part: AlignedChunk) -> None:
        stop = start + len(part.ok)
        out.images[start:stop], out.landmarks[start:stop], out.ok[start:stop] = part.images, part.landmarks, part.ok
        out.from_detector[start:stop] = part.from_detector
        out.errors.extend(part.errors)
        if progress is not None:
            progress.update(stop)

    if workers <= 1:
        for start, job in zip(starts, jobs):
            collect(start, align_rows(*job))
        return out
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(align_rows, *job) for job in jobs]
        try:
            for start, future in zip(starts, futures):
                collect(start, future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return out
