"""Face tracking between frames: run BlazeFace only when the picture has changed, keep track ids.

A bedside camera sees one mostly still face for hours, and the detector is about 40 % of a frame.
The AU crop is cut from the detector's eye/nose/mouth keypoints; while the pixels around them have
not changed, the keypoints of the last detection are still right, so the detector can be skipped.

When the detector runs again (chosen with ``benchmarks/tracking_sweep.py`` on the motion video of
``benchmarks/motion.py``; alternatives and why they lost):

* **the picture changed**: a 32x24 thumbnail of the frame (or of the detection region) is kept
  from the last detection; when any cell's mean differs from it by more than ``change_threshold``
  grey levels, the detector runs. A face that moves, turns, leaves or enters changes whole cells
  at once, which is caught on the very frame it happens; camera noise averages out over the 25
  pixels sampled per cell. The check costs about 0.05 ms on a 640x480 frame.
* **every ``redetect_every`` frames** whatever the thumbnail says: a safety net for changes too
  small for the thumbnail (a small face entering far away) and for slow drift.

The sweep (tiny crop-sensitive test model and real BlazeFace, MTFL faces, thresholds 3/6/12/24 x
every 5/15/30 frames): every setting reported each entering face on its first frame and dropped
each leaving one on the same frame; the threshold mostly moves the worst carried keypoint error
(max 0.040 eye distances at 6, 0.078 at 12, 0.187 at 24) for 1-3 % fewer detector runs, so 6;
every 15 frames costs a still face 6.7 % of frames in detection (3.3 % at 30) and finds a face the
change check missed within half a second at 30 fps.
* not chosen: the detector on the predicted region only (BlazeFace's cost is its 128x128 network,
  which a smaller source image does not shrink: on one core, 640x480 frame 1.87 ms of which the
  network 1.36 and the letterbox 0.17; a 316x316 region around the face 1.93 ms), and the AU
  model's occlusion outputs (not every bundle has them, and they were not trained to notice a
  misplaced crop).

Track ids: a detection inherits the id of the track whose box it overlaps most (IoU at least
``match_iou``); every other detection starts a new id, and a track no detection continues ends.
Between detections the tracks and their ids stay as they are. The daemon's smoothing keys its
filters on these ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THUMBNAIL_SIZE = (32, 24)  # width, height in cells: 20x20 pixel cells on a 640x480 frame
SAMPLES_PER_CELL = 5  # each cell averages 5x5 sampled pixels


@dataclass
class TrackingOptions:
    """Whether and how the estimator tracks faces between frames (TOML table ``[tracking]``).

    ``enabled``: on in the daemon (a video stream), off for still images (``au-edge infer``).
    ``redetect_every``: the detector runs at least every this many frames (1 = every frame).
    ``change_threshold``: grey levels (0-255) a thumbnail cell may change before the detector runs.
    ``match_iou``: box overlap for a detection to keep the id of the track it continues.
    """

    enabled: bool = True
    redetect_every: int = 15
    change_threshold: float = 6.0
    match_iou: float = 0.3

    def validate(self) -> None:
        if self.redetect_every < 1:
            raise ValueError(f"tracking.redetect_every must be >= 1 (got {self.redetect_every}); 1 detects every frame")
        if not (math.isfinite(self.change_threshold) and self.change_threshold > 0):
            raise ValueError(f"tracking.change_threshold must be a number > 0 grey levels (got {self.change_threshold})")
        if not (math.isfinite(self.match_iou) and 0.0 < self.match_iou <= 1.0):
            raise ValueError(f"tracking.match_iou must be in (0, 1] (got {self.match_iou})")


@dataclass(frozen=True)
class Track:
    """One followed face: the last detection's box (x, y, w, h), score and keypoints (6, 2)."""

    track_id: int
    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    inter_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Mean colour of each cell of a :data:`THUMBNAIL_SIZE` grid over ``image``, as int16.

    From a 5x5 grid of pixels per cell, not all of them: INTER_AREA straight from 640x480 costs
    0.38 ms on one core, sampling (nearest) to 160x120 first then averaging costs 0.05 ms, and 25
    samples still bring camera noise of sigma 2 grey levels down to 0.4 per cell."""
    import cv2

    width, height = THUMBNAIL_SIZE
    samples = cv2.resize(image, (width * SAMPLES_PER_CELL, height * SAMPLES_PER_CELL), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(samples, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


class FaceTracker:
    """Decides per frame whether to detect, and carries faces and their ids between detections.

    Call :meth:`needs_detection` once per frame; when it says yes, run the detector and pass the
    usable detections to :meth:`update`. :attr:`tracks` are the faces of the current frame either way.
    """

    def __init__(self, options: TrackingOptions | None = None) -> None:
        self.options = options or TrackingOptions()
        self.options.validate()
        self.tracks: list[Track] = []
        self._next_id = 1
        self._reference: np.ndarray | None = None
        self._pending: np.ndarray | None = None
        self._since_detection = 0
        self.last_change = math.inf  # largest cell change seen by the last needs_detection()
        self.detections = 0  # frames the detector ran on (update() calls), for benchmarks and metrics

    def reset(self, restart_ids: bool = False) -> None:
        """Forget every track (a camera reopened: the next frame is detected afresh; ids keep rising).

        ``restart_ids``: the next face is id 1 again (a new clip: its ids must not depend on what was
        analysed before it)."""
        if restart_ids:
            self._next_id = 1
        self.tracks = []
        self._reference = self._pending = None
        self._since_detection = 0

    def needs_detection(self, image: np.ndarray) -> bool:
        """True when the detector must run on ``image``: first frame, the K-th frame since the
        last detection, or a thumbnail cell changed by more than the threshold."""
        self._pending = thumbnail(image)
        reference = self._reference
        if reference is None or reference.shape != self._pending.shape:
            self.last_change = math.inf
            return True
        self.last_change = float(np.abs(self._pending - reference).max())
        if self._since_detection + 1 >= self.options.redetect_every or self.last_change > self.options.change_threshold:
            return True
        self._since_detection += 1
        return False

    def update(self, detections: list) -> list[Track]:
        """Tracks from this frame's detections (anything with ``box``, ``score``, ``keypoints``).

        Greedy by overlap: the best (track, detection) pair first, each used once; a detection
        with no partner at ``match_iou`` or more gets a new id.
        """
        pairs = sorted(
            ((box_iou(track.box, det.box), ti, di) for ti, track in enumerate(self.tracks)
             for di, det in enumerate(detections)),
            reverse=True,
        )
        ids: dict[int, int] = {}
        used: set[int] = set()
        for iou, ti, di in pairs:
            if iou < self.options.match_iou:
                break
            if ti in used or di in ids:
                continue
            ids[di] = self.tracks[ti].track_id
            used.add(ti)
        tracks = []
        for di, det in enumerate(detections):
            if di not in ids:
                ids[di] = self._next_id
                self._next_id += 1
            tracks.append(Track(ids[di], tuple(float(v) for v in det.box), float(det.score),
                                np.asarray(det.keypoints, dtype=np.float32)))
        self.tracks = tracks
        self.detections += 1
        self._reference = self._pending
        self._since_detection = 0
        return tracks
