"""The per-frame table, the per-input summary and the input plan of ``au-edge analyze``.

The table follows OpenFace's FeatureExtraction CSV in spirit (one row per frame and face, a
``success`` column, media timestamps, a confidence), so analysis scripts written for it adapt by
renaming columns: OpenFace's ``AU12_c`` is ``AU12_present`` here, and ``AU12_value`` is the
bundle's value (a probability for an occurrence bundle, not OpenFace's 0-5 ``AU12_r``). The
columns are :data:`FRAME_COLUMNS` then, for each AU of the bundle, :data:`AU_COLUMNS`; README.md's
section "Analyse a recording" is :func:`columns_markdown`, and a test keeps the two equal.

A frame with no face (or one that could not be decoded) still has one row, with ``success = 0``
and the face columns empty: the row count is the number of frames read.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

# name -> what it holds; the order is the CSV's.
FRAME_COLUMNS: dict[str, str] = {
    "frame": "frame number in the input, from 0 (OpenFace counts from 1)",
    "timestamp": "seconds from the first frame on the input's own clock (the video's timestamps, else frame / fps), "
                 "never the decoding speed",
    "face_id": "the face's track id: the same person keeps it while tracked (empty when no face)",
    "success": "1 when this row holds a face, 0 for a frame with no face or one that could not be read",
    "confidence": "the face detector's score, 0-1 (empty when no face)",
    "detected": "1 when the detector ran on this frame, 0 when tracking carried the face from an earlier frame",
    "face_x": "face box, left edge in pixels",
    "face_y": "face box, top edge in pixels",
    "face_w": "face box width in pixels",
    "face_h": "face box height in pixels",
}
# suffix -> what it holds, for each AU of the bundle (``AU12_value``, ``AU12_present``, ...).
AU_COLUMNS: dict[str, str] = {
    "value": "the model's value for this frame: the probability that the AU is present for an occurrence "
             "bundle (bundle.json says which), an intensity otherwise",
    "present": "1 when the value is at or above the bundle's threshold, else 0 (empty for an intensity AU)",
    "observable": "0 when the runtime judged the AU's face region covered (mask, hand): its value is then "
                  "not to be trusted; 1 otherwise",
    "smoothed": "the value after the daemon's per-track smoothing (One-Euro by default)",
}
ROUND = {"timestamp": 3, "confidence": 4, "box": 1, "au": 4}


def csv_columns(au_names: Iterable[str]) -> list[str]:
    """The CSV header for a bundle whose faces carry ``au_names``."""
    return [*FRAME_COLUMNS, *(f"{au}_{suffix}" for au in au_names for suffix in AU_COLUMNS)]


def columns_markdown() -> str:
    """The column list as README.md shows it (checked by tests/edge/test_edge_analyze.py)."""
    lines = ["| column | what it holds |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in FRAME_COLUMNS.items()]
    lines += [f"| `AU*_{suffix}` | {text} |" for suffix, text in AU_COLUMNS.items()]
    return "\n".join(lines)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def frame_rows(result: Any) -> list[dict[str, Any]]:
    """One :class:`~auedge.edge.streaming.FrameResult` as rows: one per face, or one with ``success = 0``."""
    base = {"frame": result.index, "timestamp": round(result.media_s, ROUND["timestamp"])}
    if not result.faces:
        empty = dict.fromkeys(csv_columns(result.au_names))
        return [{**empty, **base, "success": 0}]
    rows = []
    for face in result.faces:
        row = {**base, "face_id": face.track_id, "success": 1, "confidence": round(face.score, ROUND["confidence"]),
               "detected": int(result.detected)}
        row.update(zip(("face_x", "face_y", "face_w", "face_h"), (round(float(v), ROUND["box"]) for v in face.box)))
        for au in result.au_names:
            smoothed = face.aus_smoothed.get(au)
            row[f"{au}_value"] = round(float(face.aus[au]), ROUND["au"])
            row[f"{au}_present"] = _flag(face.present.get(au))
            row[f"{au}_observable"] = _flag(face.observable.get(au, True))
            row[f"{au}_smoothed"] = None if smoothed is None else round(float(smoothed), ROUND["au"])
        rows.append(row)
    return rows


@dataclass
class Recording:
    """What the summary and the timeline need of a whole input, as arrays (frames, then face rows)."""

    au_names: tuple[str, ...]
    frame_s: np.ndarray  # (frames,) media time
    frame_faces: np.ndarray  # (frames,) faces found
    frame_bad: np.ndarray  # (frames,) bool: unreadable frame
    row_frame: np.ndarray  # (rows,) frame number of each face row
    row_face: np.ndarray  # (rows,) face id
    values: dict[str, np.ndarray] = field(default_factory=dict)  # au -> (rows,)
    smoothed: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)  # bool
    observable: dict[str, np.ndarray] = field(default_factory=dict)  # bool

    @property
    def frames(self) -> int:
        return int(self.frame_s.size)

    def frame_durations(self) -> np.ndarray:
        """How long each frame stands for: to the next frame; the last one, the typical period."""
        if self.frames == 0:
            return np.zeros(0)
        gaps = np.diff(self.frame_s)
        period = float(np.median(gaps)) if gaps.size else 0.0
        return np.append(np.clip(gaps, 0.0, None), max(period, 0.0))


class TableWriter:
    """Writes each result's rows to the CSV as it comes and keeps the arrays of a :class:`Recording`."""

    def __init__(self, handle: IO[str], au_names: tuple[str, ...]) -> None:
        self.au_names = au_names
        self._csv = csv.DictWriter(handle, fieldnames=csv_columns(au_names), lineterminator="\n")
        self._csv.writeheader()
        self._frames: list[tuple[float, int, bool]] = []
        self._rows: list[tuple] = []  # (frame, face id, then per AU: value, smoothed, present, observable)
        self.detector_runs = 0

    @property
    def frames(self) -> int:
        return len(self._frames)

    def add(self, result: Any) -> None:
        self._csv.writerows(frame_rows(result))
        self._frames.append((result.media_s, len(result.faces), result.bad))
        self.detector_runs += int(result.detected and not result.bad)
        for face in result.faces:
            per_au = []
            for au in self.au_names:
                present = face.present.get(au)
                per_au += [face.aus[au], face.aus_smoothed.get(au, math.nan), bool(present),
                           face.observable.get(au, True)]
            self._rows.append((result.index, -1 if face.track_id is None else face.track_id, *per_au))

    def recording(self) -> Recording:
        frames = np.array(self._frames, dtype=np.float64).reshape(-1, 3)
        rows = np.array(self._rows, dtype=np.float64).reshape(-1, 2 + 4 * len(self.au_names))
        rec = Recording(self.au_names, frames[:, 0], frames[:, 1].astype(int), frames[:, 2].astype(bool),
                        rows[:, 0].astype(int), rows[:, 1].astype(int))
        for i, au in enumerate(self.au_names):
            value, smooth, present, observable = (rows[:, 2 + 4 * i + k] for k in range(4))
            rec.values[au], rec.smoothed[au] = value, smooth
            rec.present[au], rec.observable[au] = present.astype(bool), observable.astype(bool)
        return rec


def _episodes(rec: Recording, au: str, threshold: float, durations: np.ndarray) -> list[dict[str, Any]]:
    """Runs of consecutive frames in which one face's smoothed ``au`` stays at or above ``threshold``
    and observable. The smoothed value, not the per-frame decision: a value hovering at the
    threshold would otherwise split one episode into dozens of one-frame ones."""
    smoothed = np.where(np.isfinite(rec.smoothed[au]), rec.smoothed[au], rec.values[au])
    on = (smoothed >= threshold) & rec.observable[au]
    episodes = []
    for face in np.unique(rec.row_face):
        mine = rec.row_face == face
        frames, active = rec.row_frame[mine], on[mine]
        start = None
        for i, (frame, is_on) in enumerate(zip(frames, active)):
            broken = i > 0 and frame != frames[i - 1] + 1  # the face was not seen in between
            if start is not None and (not is_on or broken):
                episodes.append((face, frames[start], frames[i - 1]))
                start = None
            if is_on and start is None:
                start = i
        if start is not None:
            episodes.append((face, frames[start], frames[-1]))
    return [{"face_id": int(face), "start_s": round(float(rec.frame_s[a]), 3), "end_s": round(float(rec.frame_s[b]), 3),
             "duration_s": round(float(durations[a : b + 1].sum()), 3)} for face, a, b in episodes]


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def au_summary(rec: Recording, au: str, threshold: float | None) -> dict[str, Any]:
    """Observable share of face time and present share of observable time, both time-weighted and from
    the per-frame decisions (the CSV's ``_present``, ``_observable``); episodes from the smoothed value.
    With several faces, times add up over faces (``face_s`` can exceed the duration)."""
    durations = rec.frame_durations()
    weight = durations[rec.row_frame] if rec.row_frame.size else np.zeros(0)
    observable = rec.observable[au]
    face_s, observable_s = float(weight.sum()), float(weight[observable].sum())
    present_s = float(weight[observable & rec.present[au]].sum())
    episodes = _episodes(rec, au, threshold, durations) if threshold is not None else []
    longest = max(episodes, key=lambda e: e["duration_s"], default=None)
    return {"threshold": None if threshold is None else round(threshold, 6), "face_s": round(face_s, 3), "observable_s": round(observable_s, 3),
            "observable_share": _share(observable_s, face_s), "present_s": round(present_s, 3),
            "present_share": _share(present_s, observable_s) if threshold is not None else None,
            "episodes": len(episodes), "longest_episode": longest}


def summarize(rec: Recording, thresholds: dict[str, float | None]) -> dict[str, Any]:
    """The numbers of one input: frames, faces, time with a face, and per AU its share and episodes."""
    durations = rec.frame_durations()
    gaps = np.diff(rec.frame_s)
    with_face = int((rec.frame_faces > 0).sum())
    return {
        "frames": rec.frames,
        "bad_frames": int(rec.frame_bad.sum()),
        "duration_s": round(float(durations.sum()), 3),
        "media_fps": round(1.0 / float(np.median(gaps)), 3) if gaps.size and np.median(gaps) > 0 else None,
        "frames_with_face": with_face,
        "face_share": _share(with_face, rec.frames),
        "faces": sorted(int(f) for f in np.unique(rec.row_face)),
        "face_rows": int(rec.row_frame.size),
        "aus": {au: au_summary(rec, au, thresholds.get(au)) for au in rec.au_names},
    }


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"


def panel_note(stats: dict[str, Any]) -> str:
    """One AU's summary in a few words (above its panel in the timeline)."""
    longest = stats["longest_episode"]
    note = (f"present {_percent(stats['present_share'])} of observable face time, "
            f"observable {_percent(stats['observable_share'])} of face time")
    return note + (f", longest episode {longest['duration_s']:.2f} s" if longest else "")


def summary_lines(name: str, summary: dict[str, Any]) -> list[str]:
    """The summary as the few lines ``au-edge analyze`` prints per input."""
    faces = summary["faces"]
    bad = f"; {summary['bad_frames']} unreadable" if summary["bad_frames"] else ""
    ids = " " + ", ".join(map(str, faces[:8])) + (" ..." if len(faces) > 8 else "") if faces else ""
    head = (f"{name}: {summary['frames']} frames, {summary['duration_s']:.1f} s; a face in "
            f"{summary['frames_with_face']} ({_percent(summary['face_share'])}), {len(faces)} face id(s){ids}{bad}")
    lines = [head]
    for au, stats in summary["aus"].items():
        longest = stats["longest_episode"]
        episode = (f", longest {longest['duration_s']:.2f} s (face {longest['face_id']} at {longest['start_s']:.2f} s)"
                   if longest else "")
        lines.append(f"  {au}: present {_percent(stats['present_share'])} of observable face time (observable "
                     f"{_percent(stats['observable_share'])}), {stats['episodes']} episode(s){episode}")
    return lines


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    from auedge.edge.atomic_io import write_atomic

    write_atomic(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
