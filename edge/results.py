"""What the estimator returns: plain dataclasses, JSON-ready, shared by the CLI, daemon and sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaceResult:
    """One face in one frame.

    ``box`` is ``(x, y, w, h)`` in image pixels; ``keypoints`` the detector's six points
    (eyes, nose tip, mouth centre, ear tragions) as ``(x, y)``; ``aus`` maps an AU name to its
    value (probability for occurrence models, 0-5 intensity otherwise); ``present`` maps an
    occurrence AU to the thresholded decision; ``observable`` is False for an AU whose region is
    judged covered (then its value is still reported but should not be trusted); ``track_id``
    names the face across frames when the estimator tracks (None for a still image);
    ``aus_smoothed`` holds the per-track smoothed values where frames are a sequence (the daemon,
    :func:`auedge.edge.stream`), and is empty for a still image.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: list[tuple[float, float]]
    aus: dict[str, float]
    present: dict[str, bool] = field(default_factory=dict)
    observable: dict[str, bool] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    track_id: int | None = None
    aus_smoothed: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Rounded, JSON-ready; built field by field (``dataclasses.asdict`` deep-copies every
        value, which cost more than the rest of a daemon record together)."""
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "keypoints": [[round(float(x), 2), round(float(y), 2)] for x, y in self.keypoints],
            "aus": {k: round(float(v), 4) for k, v in self.aus.items()},
            "present": {k: bool(v) for k, v in self.present.items()},
            "observable": {k: bool(v) for k, v in self.observable.items()},
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
            "track_id": None if self.track_id is None else int(self.track_id),
            "aus_smoothed": {k: round(float(v), 4) for k, v in self.aus_smoothed.items()},
        }


@dataclass
class EstimateResult:
    """All faces of one image or frame, with whole-frame timings (detect, total).

    ``detected`` is False on a tracked frame whose faces were carried from an earlier detection
    (then ``timings_ms`` has no ``detect``)."""

    faces: list[FaceResult]
    image_size: tuple[int, int]
    timings_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "faces": [f.to_dict() for f in self.faces],
            "image_size": list(self.image_size),
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
        }
