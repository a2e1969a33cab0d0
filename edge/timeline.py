"""The timeline picture of ``au-edge analyze``: each AU over the input's time, drawn with OpenCV.

One panel per AU: the value (thin, light) and the smoothed value (thick) of each face (a faint
thin line where the AU was not observable on that face), the
bundle's threshold (dashed), spans where no face was found shaded sand and spans where faces were
found but the AU's region was covered on all of them ("not observable") shaded rose: the colours
of the daemon's live page, so the two read alike. OpenCV, not matplotlib: it is already a
dependency of the edge package and draws antialiased lines and text; matplotlib would add tens of
megabytes to a Raspberry Pi install for one picture.
"""

from __future__ import annotations

import cv2
import numpy as np
from auedge.edge.analyze import Recording

WIDTH, LEFT, RIGHT = 1400, 64, 24
HEADER, PANEL, GAP, AXIS = 84, 160, 36, 44
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return value & 0xFF, (value >> 8) & 0xFF, value >> 16


WHITE, INK, GRID = _bgr("#ffffff"), _bgr("#222222"), _bgr("#c8ccd0")
PANEL_BG, COVERED, NO_FACE, THRESHOLD = _bgr("#f4f6f8"), _bgr("#f1c9c9"), _bgr("#ece3c8"), _bgr("#777777")
# smoothed line of face 1, 2, ... (the first is the live page's); the value line is a lighter tint of each
FACE_COLOURS = [_bgr(c) for c in ("#1f4e79", "#b35806", "#1b7837", "#762a83", "#8c510a", "#01665e", "#c51b7d",
                                   "#4d4d4d")]
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def _px(value: float | np.ndarray) -> int:
    """The nearest pixel (numpy scalars and 0-d arrays included)."""
    return int(np.floor(float(value) + 0.5))


def _tint(colour: tuple[int, int, int], amount: float = 0.55) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * amount) for c in colour)


def _text(image: np.ndarray, text: str, x: int, y: int, scale: float = 0.45, colour=INK, thickness: int = 1) -> None:
    cv2.putText(image, text, (int(x), int(y)), FONT, scale, colour, thickness, cv2.LINE_AA)


def _clock(seconds: float, step: float) -> str:
    if step < 1:
        return f"{seconds:.1f} s"
    if seconds < 120 and step < 60:
        return f"{seconds:.0f} s"
    whole = _px(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2], edges[1::2] - 1))


class _Axes:
    """Media time -> x pixel, value -> y pixel within one panel."""

    def __init__(self, duration: float, top: int, low: float, high: float) -> None:
        self.duration = max(duration, 1e-6)
        self.top, self.low, self.high = top, low, high if high > low else low + 1.0
        self.plot_w = WIDTH - LEFT - RIGHT

    def x(self, seconds: np.ndarray | float) -> np.ndarray | float:
        return LEFT + np.asarray(seconds) / self.duration * self.plot_w

    def y(self, value: np.ndarray | float) -> np.ndarray | float:
        share = (np.clip(np.asarray(value, dtype=np.float64), self.low, self.high) - self.low) / (self.high - self.low)
        return self.top + PANEL - 2 - share * (PANEL - 4)


def _shade(image: np.ndarray, axes: _Axes, starts: np.ndarray, ends: np.ndarray, mask: np.ndarray, colour) -> None:
    for first, last in _runs(mask):
        x0, x1 = int(axes.x(starts[first])), int(np.ceil(axes.x(ends[last])))
        cv2.rectangle(image, (x0, axes.top), (max(x1, x0 + 1) - 1, axes.top + PANEL - 1), colour, -1)


def _polyline(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, tone, width: int) -> None:
    keep = np.isfinite(ys)
    points = np.stack([xs[keep], ys[keep]], axis=1)
    if len(points) == 1:
        cv2.circle(image, (_px(points[0, 0]), _px(points[0, 1])), width, tone, -1, cv2.LINE_AA)
    elif len(points):
        cv2.polylines(image, [np.round(points * 4).astype(np.int32)], False, tone, width, cv2.LINE_AA, shift=2)


def _lines(image: np.ndarray, axes: _Axes, rec: Recording, au: str, starts: np.ndarray) -> None:
    """Each face's value (thin) and smoothed value (thick), broken where the face was not seen; where
    the AU was not observable on that face, one faint thin line instead (another face may have been
    observable then, so the panel is not shaded)."""
    for k, face in enumerate(np.unique(rec.row_face)):
        colour = FACE_COLOURS[k % len(FACE_COLOURS)]
        mine = np.flatnonzero(rec.row_face == face)
        frames = rec.row_frame[mine]
        for piece in np.split(mine, np.flatnonzero(np.diff(frames) != 1) + 1):
            xs, observable = axes.x(starts[rec.row_frame[piece]]), rec.observable[au][piece]
            for first, last in _runs(observable):  # each run joined to the next point, so the line goes on
                span = slice(first, min(last + 2, piece.size))
                _polyline(image, xs[span], axes.y(rec.values[au][piece[span]]), _tint(colour), 1)
                _polyline(image, xs[span], axes.y(rec.smoothed[au][piece[span]]), colour, 2)
            for first, last in _runs(~observable):
                span = slice(first, min(last + 2, piece.size))
                _polyline(image, xs[span], axes.y(rec.values[au][piece[span]]), _tint(colour, 0.75), 1)


def _dashed(image: np.ndarray, y: int, colour) -> None:
    for x in range(LEFT, WIDTH - RIGHT, 12):
        cv2.line(image, (x, y), (min(x + 6, WIDTH - RIGHT), y), colour, 1, cv2.LINE_AA)


def _legend(image: np.ndarray, title: str, faces: list[int]) -> None:
    _text(image, title, LEFT, 24, 0.55, INK, 1)
    x = LEFT
    entries = [("value", "line", _tint(FACE_COLOURS[0])), ("smoothed", "line", FACE_COLOURS[0]),
               ("threshold", "dash", THRESHOLD), ("not observable (region covered)", "box", COVERED),
               ("no face", "box", NO_FACE)]
    for label, kind, colour in entries:
        if kind == "box":
            cv2.rectangle(image, (x, 40), (x + 18, 52), colour, -1)
        else:
            cv2.line(image, (x, 46), (x + 18, 46), colour, 1 if kind == "dash" else 2, cv2.LINE_AA)
        _text(image, label, x + 24, 51)
        x += 34 + cv2.getTextSize(label, FONT, 0.45, 1)[0][0]
    if len(faces) > 1:  # a second line; the colours repeat after len(FACE_COLOURS) faces
        shown, x = faces[:len(FACE_COLOURS)], LEFT
        for k, face in enumerate(shown):
            cv2.line(image, (x, 68), (x + 18, 68), FACE_COLOURS[k], 2, cv2.LINE_AA)
            _text(image, f"face {face}", x + 24, 73)
            x += 84
        if len(faces) > len(shown):
            _text(image, f"+{len(faces) - len(shown)} more (colours repeat)", x, 73)


def _time_axis(image: np.ndarray, axes: _Axes, top: int) -> None:
    step = next((s for s in TICK_STEPS if axes.duration / s <= 12), TICK_STEPS[-1])
    for k in range(int(axes.duration / step) + 1):
        seconds = k * step
        x = _px(axes.x(seconds))
        cv2.line(image, (x, top), (x, top + 5), INK, 1)
        label = _clock(seconds, step)
        width = cv2.getTextSize(label, FONT, 0.42, 1)[0][0]
        _text(image, label, min(max(x - width // 2, 2), WIDTH - width - 2), top + 20, 0.42)
    _text(image, "time in the recording", WIDTH // 2 - 80, top + 38, 0.42)


def draw_timeline(rec: Recording, thresholds: dict[str, float | None],
                  ranges: dict[str, tuple[float, float]] | None = None, title: str = "",
                  notes: dict[str, str] | None = None) -> np.ndarray:
    """The picture (BGR uint8) of ``rec``: one panel per AU, time along x, shared by every panel;
    ``notes`` are written above each AU's panel (e.g. its share of time present)."""
    ranges, notes = ranges or {}, notes or {}
    durations = rec.frame_durations()
    starts = rec.frame_s - (rec.frame_s[0] if rec.frames else 0.0)
    ends = starts + durations
    duration = float(ends[-1]) if rec.frames else 1.0
    height = HEADER + len(rec.au_names) * (PANEL + GAP) + AXIS
    image = np.full((height, WIDTH, 3), WHITE, dtype=np.uint8)
    faces = sorted(int(f) for f in np.unique(rec.row_face))
    _legend(image, title, faces)
    no_face = rec.frame_faces == 0
    for i, au in enumerate(rec.au_names):
        top = HEADER + GAP + i * (PANEL + GAP)
        low, high = ranges.get(au, (0.0, 1.0))
        axes = _Axes(duration, top, low, high)
        cv2.rectangle(image, (LEFT, top), (WIDTH - RIGHT - 1, top + PANEL - 1), PANEL_BG, -1)
        observable_somewhere = np.zeros(rec.frames, dtype=bool)
        observable_somewhere[rec.row_frame[rec.observable[au]]] = True
        _shade(image, axes, starts, ends, no_face, NO_FACE)
        _shade(image, axes, starts, ends, ~no_face & ~observable_somewhere, COVERED)
        threshold = thresholds.get(au)
        if threshold is not None:
            _dashed(image, _px(axes.y(threshold)), THRESHOLD)
        _lines(image, axes, rec, au, starts)
        cv2.rectangle(image, (LEFT, top), (WIDTH - RIGHT - 1, top + PANEL - 1), GRID, 1)
        _text(image, au, LEFT, top - 10, 0.55, INK, 1)
        if notes.get(au):
            _text(image, notes[au], LEFT + 20 + cv2.getTextSize(au, FONT, 0.55, 1)[0][0], top - 10, 0.42)
        for value in (low, high) + (() if threshold is None else (threshold,)):
            label = f"{value:g}"
            width = cv2.getTextSize(label, FONT, 0.4, 1)[0][0]
            _text(image, label, LEFT - 6 - width, int(axes.y(value)) + 5, 0.4)
    _time_axis(image, _Axes(duration, 0, 0.0, 1.0), HEADER + len(rec.au_names) * (PANEL + GAP) + 2)
    return image


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError("OpenCV could not encode the timeline as PNG")
    return data.tobytes()
