"""Temporal smoothing of AU values per face track.

Per-frame AU outputs flicker (a blink, a compression artefact); a consumer wants a steady signal
without much lag. Each face is followed from frame to frame by the estimator's ``track_id`` when it
tracks faces (:mod:`auedge.edge.tracking`), else by the nearest box centre (faces move little
between frames at 5-30 fps), and each AU of a track has its own filter:

* ``ema``: exponential moving average, ``y += alpha * (x - y)``; simple, fixed lag.
* ``one_euro``: the One-Euro filter (Casiez et al., CHI 2012): a low-pass whose cut-off rises
  with the signal's speed, so it is smooth when the face is still and follows fast changes.
  Time-based, so it behaves the same at 5 and 30 fps.
* ``none``: the raw values are passed through (still tracked, so ``track_id`` is stable).

A track whose face is not seen for more than ``max_missed_frames`` frames is dropped, and a face
that reappears starts a fresh track (no smoothing across a lost face, which would blend two people).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from auedge.edge.results import FaceResult

METHODS = ("none", "ema", "one_euro")


@dataclass
class SmoothingOptions:
    """How AU values are smoothed over time (TOML table ``[smoothing]``)."""

    method: str = "one_euro"
    alpha: float = 0.5  # ema: weight of the new value (1 = no smoothing)
    min_cutoff: float = 1.0  # one_euro: Hz, lower = smoother when still
    beta: float = 0.05  # one_euro: how fast the cut-off rises with speed
    d_cutoff: float = 1.0  # one_euro: Hz, for the derivative
    match_distance: float = 0.75  # a face matches a track if centres are closer than this x box size
    max_missed_frames: int = 0  # frames a track survives without its face (0 = reset when lost)

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"smoothing.method must be one of {', '.join(METHODS)} (got {self.method!r})")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"smoothing.alpha must be in (0, 1] (got {self.alpha})")
        for name in ("min_cutoff", "d_cutoff"):
            if getattr(self, name) <= 0:
                raise ValueError(f"smoothing.{name} must be > 0 (got {getattr(self, name)})")
        if self.beta < 0 or self.match_distance <= 0 or self.max_missed_frames < 0:
            raise ValueError("smoothing.beta, smoothing.max_missed_frames must be >= 0 and match_distance > 0")


class ExponentialFilter:
    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value: float | None = None

    def __call__(self, x: float, ts: float) -> float:
        self.value = x if self.value is None else self.value + self.alpha * (x - self.value)
        return self.value


def _smoothing_factor(dt: float, cutoff: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter on one scalar; ``ts`` in seconds (frames with dt <= 0 reuse the last rate)."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float, default_dt: float = 1 / 30) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.default_dt = default_dt
        self.value: float | None = None
        self.derivative = 0.0
        self.last_ts: float | None = None

    def __call__(self, x: float, ts: float) -> float:
        if self.value is None:
            self.value, self.last_ts = x, ts
            return x
        dt = ts - self.last_ts if self.last_ts is not None else 0.0
        if dt <= 0:
            dt = self.default_dt
        self.last_ts = ts
        a_d = _smoothing_factor(dt, self.d_cutoff)
        self.derivative = a_d * (x - self.value) / dt + (1 - a_d) * self.derivative
        cutoff = self.min_cutoff + self.beta * abs(self.derivative)
        a = _smoothing_factor(dt, cutoff)
        self.value = a * x + (1 - a) * self.value
        return self.value


class PassThrough:
    def __call__(self, x: float, ts: float) -> float:
        return x


def make_filter(options: SmoothingOptions):
    if options.method == "ema":
        return ExponentialFilter(options.alpha)
    if options.method == "one_euro":
        return OneEuroFilter(options.min_cutoff, options.beta, options.d_cutoff)
    return PassThrough()


@dataclass
class SmoothedFace:
    """What the smoother adds to one face of one frame."""

    track_id: int
    aus: dict[str, float]


class _Track:
    def __init__(self, track_id: int, box: tuple[float, float, float, float]) -> None:
        self.track_id = track_id
        self.box = box
        self.filters: dict[str, object] = {}
        self.missed = 0


def box_centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


class FaceSmoother:
    """Keeps face tracks and their AU filters; call :meth:`update` once per frame, in order."""

    def __init__(self, options: SmoothingOptions | None = None) -> None:
        self.options = options or SmoothingOptions()
        self.options.validate()
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def track_count(self) -> int:
        return len(self._tracks)

    def reset(self) -> None:
        self._tracks.clear()

    def _match(self, faces: list[FaceResult]) -> dict[int, _Track]:
        """A face with the estimator's ``track_id`` goes to the track of that id; the others by
        greedy nearest-centre matching: closest (track, face) pairs first, within the gate."""
        by_id = {track.track_id: track for track in self._tracks}
        matched: dict[int, _Track] = {}
        for fi, face in enumerate(faces):
            if face.track_id is not None and face.track_id in by_id:
                matched[fi] = by_id[face.track_id]
        used_tracks = {id(track) for track in matched.values()}
        pairs = []
        for ti, track in enumerate(self._tracks):
            if id(track) in used_tracks:
                continue
            tx, ty = box_centre(track.box)
            gate = self.options.match_distance * max(track.box[2], track.box[3], 1.0)
            for fi, face in enumerate(faces):
                if face.track_id is not None:
                    continue  # the estimator said which face this is: never re-attach it by position
                fx, fy = box_centre(face.box)
                distance = math.hypot(fx - tx, fy - ty)
                if distance <= gate:
                    pairs.append((distance, ti, fi))
        pairs.sort()
        for _, ti, fi in pairs:
            if id(self._tracks[ti]) in used_tracks or fi in matched:
                continue
            matched[fi] = self._tracks[ti]
            used_tracks.add(id(self._tracks[ti]))
        return matched

    def update(self, faces: list[FaceResult], ts: float) -> list[SmoothedFace]:
        """Smoothed AUs for ``faces`` (same order) at time ``ts`` (seconds)."""
        matched = self._match(faces)
        seen = {id(track) for track in matched.values()}
        survivors = []
        for track in self._tracks:
            if id(track) in seen:
                track.missed = 0
                survivors.append(track)
            else:
                track.missed += 1
                if track.missed <= self.options.max_missed_frames:
                    survivors.append(track)
        self._tracks = survivors
        results = []
        for fi, face in enumerate(faces):
            track = matched.get(fi)
            if track is None:
                track_id = self._next_id if face.track_id is None else int(face.track_id)
                self._next_id = max(self._next_id, track_id) + 1
                track = _Track(track_id, face.box)
                self._tracks.append(track)
            track.box = face.box
            smoothed = {}
            for au, value in face.aus.items():
                flt = track.filters.get(au)
                if flt is None:
                    flt = track.filters[au] = make_filter(self.options)
                smoothed[au] = float(flt(float(value), ts))
            results.append(SmoothedFace(track.track_id, smoothed))
        return results
