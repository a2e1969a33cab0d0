"""Procedural faces with known AU12 and AU4 intensities: the dataset that ships with the code.

Why: the project must train, convert and test end to end without downloading anything, and real
AU intensity data (Bosphorus, DISFA) cannot be redistributed. These faces carry *exact* intensities
drawn into the geometry (lip corners, brows), so a model's error is measurable, and they are drawn
with skin shading, hair, eye whites, nostrils and lips so that a real face detector accepts them.

Everything is deterministic: identity ``i`` of seed ``s`` is drawn from ``default_rng([s, 0, i])``
and image ``k`` from ``default_rng([s, 1, k])``, so ``generate(n, s)`` is a prefix of
``generate(m, s)`` for ``m > n``. Several consecutive images share one identity
(``IMAGES_PER_SUBJECT``) so splits can be subject-disjoint.

Geometry is written in face units: the origin is the eye midpoint, x to the image right, y down, and
one unit is the eye distance. A pose (scale, in-plane rotation, shift) maps face units to pixels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from auedge.train.data.staging import staged_folder

IMAGES_PER_SUBJECT = 5
ZERO_SHARE = 0.3  # share of images with an AU at exactly 0
MAX_INTENSITY = 5.0
SPLIT_SHARES = (("train", 0.8), ("val", 0.1), ("test", 0.1))
LANDMARK_COLUMNS = (
    "leye_x", "leye_y", "reye_x", "reye_y", "nose_x", "nose_y",
    "lmouth_x", "lmouth_y", "rmouth_x", "rmouth_y",
)
MANIFEST_COLUMNS = ("path", "subject", "split", "au12", "au4", *LANDMARK_COLUMNS)

SKIN_TONES = np.array(
    [(250, 222, 200), (238, 196, 165), (225, 176, 138), (200, 145, 105), (165, 112, 78), (125, 82, 58), (92, 60, 44)],
    dtype=np.float32,
)
HAIR_COLOURS = np.array(
    [(20, 16, 14), (45, 30, 22), (80, 55, 35), (120, 85, 50), (185, 150, 95), (150, 150, 150), (60, 40, 30)],
    dtype=np.float32,
)
IRIS_COLOURS = np.array([(70, 45, 25), (100, 70, 40), (60, 90, 120), (80, 110, 80), (40, 30, 25)], dtype=np.float32)


@dataclass
class SyntheticFaces:
    """A batch of generated faces; landmark order is the project's (see auedge.edge.align)."""

    images: np.ndarray  # uint8 (n, H, W, 3) RGB
    landmarks: np.ndarray  # float32 (n, 5, 2) pixels
    au12: np.ndarray  # float32 (n,) intensity 0-5 drawn into the face
    au4: np.ndarray  # float32 (n,)
    subject: list[str]


@dataclass(frozen=True)
class Identity:
    """What stays fixed for one synthetic person."""

    skin: np.ndarray
    hair: np.ndarray
    hair_style: int  # 0 short, 1 long, 2 fringe, 3 nearly bald
    iris: np.ndarray
    lips: np.ndarray
    face_half_width: float
    face_top: float
    chin: float
    jaw: float
    eye_width: float
    eye_height: float
    iris_radius: float
    brow_height: float
    brow_thickness: float
    brow_length: float
    brow_arch: float
    nose_length: float
    nose_width: float
    mouth_y: float
    mouth_half_width: float
    upper_lip: float
    lower_lip: float
    clothes: np.ndarray
    split: str


def _draw_identity(rng: np.random.Generator) -> Identity:
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(t)
    skin = SKIN_TONES[lo] + (SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] - SKIN_TONES[lo]) * (t - lo)
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 255)
    hair = np.clip(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15), 0, 255)
    lips = np.clip(skin * np.array([0.82, 0.52, 0.52]) * rng.uniform(0.85, 1.0) + np.array([20, 0, 5]), 0, 255)
    u, split = rng.uniform(), SPLIT_SHARES[-1][0]
    for name, upper in zip((name for name, _ in SPLIT_SHARES), np.cumsum([share for _, share in SPLIT_SHARES])):
        if u < upper:
            split = name
            break
    return Identity(
        skin=skin.astype(np.float32),
        hair=hair.astype(np.float32),
        hair_style=int(rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])),
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.8, 1.2),
        lips=lips.astype(np.float32),
        face_half_width=rng.uniform(0.95, 1.1),
        face_top=rng.uniform(-1.05, -0.9),
        chin=rng.uniform(1.55, 1.75),
        jaw=rng.uniform(0.55, 0.8),
        eye_width=rng.uniform(0.40, 0.48),
        eye_height=rng.uniform(0.15, 0.20),
        iris_radius=rng.uniform(0.085, 0.1),
        brow_height=rng.uniform(0.28, 0.33),
        brow_thickness=rng.uniform(0.06, 0.09),
        brow_length=rng.uniform(0.5, 0.6),
        brow_arch=rng.uniform(0.03, 0.07),
        nose_length=rng.uniform(0.56, 0.64),
        nose_width=rng.uniform(0.34, 0.42),
        mouth_y=rng.uniform(1.0, 1.08),
        mouth_half_width=rng.uniform(0.36, 0.41),
        upper_lip=rng.uniform(0.06, 0.09),
        lower_lip=rng.uniform(0.08, 0.12),
        clothes=rng.uniform(20, 230, 3).astype(np.float32),
        split=split,
    )


def _intensity(rng: np.random.Generator) -> float:
    return 0.0 if rng.uniform() < ZERO_SHARE else float(rng.uniform(0.0, MAX_INTENSITY))


class _Canvas:
    """A float RGB image plus the face-units -> pixels pose, with anti-aliased ROI painting."""

    def __init__(self, image: np.ndarray, centre: np.ndarray, unit: float, angle: float, yaw: float) -> None:
        self.image = image
        self.size = image.shape[0]
        self.centre = centre
        self.unit = unit
        c, s = np.cos(angle), np.sin(angle)
        self.rot = np.array([[c, -s], [s, c]], dtype=np.float64)
        self.yaw = yaw
        # Yaw squeezes the face horizontally and slides features sideways in proportion to depth.
        self._matrix_t = (unit * self.rot @ np.diag([1.0 - 0.25 * abs(yaw), 1.0])).T
        self._depth_shift = unit * 0.5 * yaw * self.rot[:, 0]

    def px(self, pts: np.ndarray, depth: float = 0.0) -> np.ndarray:
        """Face units -> pixels; ``depth`` (0 flat, 1 nose tip) sets how far yaw shifts the point."""
        return np.reshape(pts, (-1, 2)) @ self._matrix_t + (self.centre + depth * self._depth_shift)

    def face_coords(self, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Face-unit coordinates (x, y) of every ``step``-th pixel, for smooth shading maps."""
        g = np.arange(0, self.size, step, dtype=np.float32) + (step - 1) / 2.0
        xx, yy = np.meshgrid(g - self.centre[0], g - self.centre[1])
        inv = self.rot.T / self.unit
        return (inv[0, 0] * xx + inv[0, 1] * yy), (inv[1, 0] * xx + inv[1, 1] * yy)

    def _box(self, fixed: np.ndarray, pad: float) -> tuple[int, int, int, int] | None:
        """Pixel bounding box (x0, y0, x1, y1) of 1/16-px points plus ``pad``, clipped to the image."""
        bx, by, bw, bh = cv2.boundingRect(fixed)
        x0, y0 = max(int(bx / 16 - pad), 0), max(int(by / 16 - pad), 0)
        x1, y1 = min(int((bx + bw) / 16 + pad) + 2, self.size), min(int((by + bh) / 16 + pad) + 2, self.size)
        return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)

    def _blend(self, box, mask: np.ndarray, colour, alpha: float, blur: float) -> None:
        """Alpha-composite ``colour`` (RGB triple or full-size image) through an 8-bit coverage mask."""
        x0, y0, x1, y1 = box
        m = np.multiply(mask, alpha / 255.0, dtype=np.float32)
        if blur > 0:
            m = cv2.GaussianBlur(m, (0, 0), blur)
        roi = self.image[y0:y1, x0:x1]
        if colour.ndim == 3:
            roi[:] = cv2.blendLinear(colour[y0:y1, x0:x1], roi, m, 1.0 - m)
        else:  # roi -= (roi - colour) * m, in OpenCV calls: numpy broadcasting over RGB is slow
            roi -= cv2.multiply(cv2.subtract(roi, (*colour.tolist(), 0.0)), cv2.merge([m, m, m]))

    def fill(self, polys: list[np.ndarray], colour, alpha: float = 1.0, blur: float = 0.0) -> None:
        """Fill pixel-space polygons (anti-aliased, 1/16 px precision)."""
        fixed = [np.rint(p * 16).astype(np.int32) for p in polys]
        box = self._box(np.concatenate(fixed) if len(fixed) > 1 else fixed[0], 3 * blur + 2)
        if box is None:
            return
        origin = np.array(box[:2], np.int32) * 16
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), np.uint8)
        cv2.fillPoly(mask, [f - origin for f in fixed], 255, cv2.LINE_AA, shift=4)
        self._blend(box, mask, np.asarray(colour, np.float32), alpha, blur)

    def stroke(self, lines: list[np.ndarray], colour, width: float, alpha: float = 1.0, blur: float = 0.0) -> None:
        """Draw pixel-space polylines ``width`` pixels wide (one call for several: fewer, larger ROIs are faster)."""
        thickness = max(1, round(width))
        fixed = [np.rint(p * 16).astype(np.int32) for p in lines]
        box = self._box(np.concatenate(fixed) if len(fixed) > 1 else fixed[0], 3 * blur + thickness + 2)
        if box is None:
            return
        origin = np.array(box[:2], np.int32) * 16
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), np.uint8)
        cv2.polylines(mask, [f - origin for f in fixed], False, 255, thickness, cv2.LINE_AA, shift=4)
        self._blend(box, mask, np.asarray(colour, np.float32), alpha, blur)


@lru_cache(maxsize=64)
def _arc(n: int, a0: float, a1: float) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


@lru_cache(maxsize=64)
def _bezier_weights(n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return np.hstack([(1 - t) ** 2, 2 * (1 - t) * t, t**2])


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 36, a0: float = 0, a1: float = 2 * np.pi) -> np.ndarray:
    return _arc(n, a0, a1) * (rx, ry) + (cx, cy)


def _curve(p0, p1, p2, n: int = 16) -> np.ndarray:
    """Quadratic Bezier from p0 to p2 pulled towards p1."""
    return _bezier_weights(n) @ np.array([p0, p1, p2], dtype=np.float64)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A gradient, a smooth colour field or a blocky 'room' texture: never a cue for the AUs.

    Colours are mixed on a small grid and resized: numpy broadcasting over a trailing RGB axis is
    slow, and a resize is one OpenCV call.
    """
    kind = rng.integers(3)
    a, b = rng.uniform(10, 245, 3).astype(np.float32), rng.uniform(10, 245, 3).astype(np.float32)
    if kind == 0:  # linear gradient
        angle = rng.uniform(0, 2 * np.pi)
        g = np.linspace(-0.5, 0.5, 8, dtype=np.float32)
        t = np.float32(np.cos(angle)) * g[None, :] + np.float32(np.sin(angle)) * g[:, None] + np.float32(0.5)
        return cv2.resize(a + (b - a) * t[..., None], (size, size), interpolation=cv2.INTER_LINEAR)
    if kind == 1:  # smooth colour field
        low = rng.uniform(0, 1, (int(rng.integers(2, 6)),) * 2 + (3,)).astype(np.float32)
        return cv2.resize(a + (b - a) * low, (size, size), interpolation=cv2.INTER_LINEAR)
    cells = int(rng.integers(6, 24))
    low = rng.uniform(0, 1, (cells, cells, 1)).astype(np.float32)
    return cv2.resize(a + (b - a) * low, (size, size), interpolation=cv2.INTER_NEAREST)


def _face_outline(ident: Identity) -> np.ndarray:
    a = ident.face_half_width
    top, chin = ident.face_top, ident.chin
    yc, b = (top + chin) / 2, (chin - top) / 2
    pts = _ellipse(0, yc, a, b, n=64)
    below = np.clip((pts[:, 1] - 0.45) / (chin - 0.45), 0, 1)
    pts[:, 0] *= 1 - (1 - ident.jaw) * below**1.6
    return pts


def _draw_hair_back(cv: _Canvas, ident: Identity, texture: np.ndarray | None) -> None:
    a = ident.face_half_width
    if ident.hair_style == 3:
        return
    top = ident.face_top - 0.25
    if ident.hair_style == 1:  # long: a dome over the head that falls past the jaw to the shoulders
        dome = _ellipse(0, 0.1, a + 0.3, 0.1 - top, n=40, a0=np.pi, a1=2 * np.pi)
        poly = np.concatenate([dome, [[a + 0.45, 2.2], [-a - 0.45, 2.2]]])
    else:
        poly = _ellipse(0, 0.05, a + 0.14, 0.05 - top, n=48, a0=np.pi * 0.92, a1=np.pi * 2.08)
    cv.fill([cv.px(poly)], texture)


def _draw_hair_front(cv: _Canvas, ident: Identity, texture: np.ndarray | None, rng: np.random.Generator) -> None:
    if ident.hair_style == 3:
        return
    a = ident.face_half_width
    line = -0.62 if ident.hair_style == 2 else rng.uniform(-0.82, -0.7)
    xs = np.linspace(-a - 0.2, a + 0.2, 24)
    dip = 0.06 * np.cos(xs / a * np.pi / 2) if ident.hair_style != 2 else 0.04 * np.sin(xs * 9)
    hairline = np.stack([xs, line + dip + 0.25 * (xs / a) ** 4], axis=1)
    hairline[:, 1] = np.minimum(hairline[:, 1], 0.15)
    cap = _ellipse(0, ident.face_top + 0.3, a + 0.12, 0.55, n=24, a0=0, a1=-np.pi)
    cv.fill([cv.px(np.concatenate([hairline, cap]))], texture, blur=0.6)


def _draw_skin(cv: _Canvas, ident: Identity, light: np.ndarray, rng: np.random.Generator) -> None:
    # Shading is smooth, so it is computed on a 4x coarser grid and resized: most of the speed-up.
    fx, fy = cv.face_coords(step=4)
    a, yc = ident.face_half_width, (ident.face_top + ident.chin) / 2
    b = (ident.chin - ident.face_top) / 2
    r2 = (fx / a) ** 2 + ((fy - yc) / b) ** 2
    shade = 1.0 - 0.28 * np.clip(r2, 0, 1.2) ** 2
    shade += light[0] * fx + light[1] * fy
    # Eye sockets and under-nose darker, cheeks and nose bridge lighter: reads as relief.
    for sx in (-0.5, 0.5):
        shade -= 0.10 * np.exp(-(((fx - sx) / 0.28) ** 2 + ((fy + 0.05) / 0.18) ** 2))
        shade += 0.05 * np.exp(-(((fx - sx * 1.1) / 0.25) ** 2 + ((fy - 0.55) / 0.22) ** 2))
    shade += 0.06 * np.exp(-((fx / 0.12) ** 2 + ((fy - 0.2) / 0.45) ** 2))
    shade -= 0.10 * np.exp(-((fx / 0.45) ** 2 + ((fy - ident.chin + 0.05) / 0.12) ** 2))
    blush = np.exp(-(((np.abs(fx) - 0.55) / 0.2) ** 2 + ((fy - 0.6) / 0.18) ** 2))
    low = ident.skin * shade[..., None] + np.array([18, -6, -6], np.float32) * blush[..., None]
    skin = cv2.resize(low.astype(np.float32), (cv.size, cv.size), interpolation=cv2.INTER_LINEAR)
    # Ears and neck first, in the same skin, a little darker.
    ears = [cv.px(_ellipse(k * (ident.face_half_width - 0.02), 0.2, 0.13, 0.28, n=24)) for k in (-1, 1)]
    cv.fill(ears, ident.skin * 0.8)
    cv.fill([cv.px(_face_outline(ident))], skin)


def _draw_neck(cv: _Canvas, ident: Identity) -> None:
    w = ident.face_half_width * 0.55
    neck = np.array([[-w, 0.9], [w, 0.9], [w + 0.05, 2.4], [-w - 0.05, 2.4]])
    cv.fill([cv.px(neck)], ident.skin * 0.72)
    shoulders = np.concatenate([[[-2.2, 3.5]], _ellipse(0, 2.45, 1.9, 0.5, n=24, a0=np.pi, a1=2 * np.pi), [[2.2, 3.5]]])
    cv.fill([cv.px(shoulders)], ident.clothes)
    # A round neckline: the neck runs on into the collar opening, shadowed under the chin.
    cv.fill([cv.px(_ellipse(0, 1.98, w + 0.22, 0.3, n=20, a0=0, a1=np.pi))], ident.skin * 0.72)
    cv.fill([cv.px(_ellipse(0, ident.chin + 0.05, w + 0.1, 0.22, n=20))], ident.skin * 0.5, alpha=0.6, blur=cv.unit / 12)


def _eye(cv: _Canvas, ident: Identity, side: int, au4: float, gaze: np.ndarray) -> np.ndarray:
    """Draw one eye; return its centre in pixels (the landmark)."""
    cx, w = side * 0.5, ident.eye_width / 2
    h = ident.eye_height / 2 * (1 - 0.18 * au4 / MAX_INTENSITY)
    upper = _curve((cx - w, 0.01), (cx - 0.2 * w * side, -2 * h), (cx + w, 0.01))
    lower = _curve((cx + w, 0.01), (cx, 1.6 * h), (cx - w, 0.01))
    outline = np.concatenate([upper, lower])
    depth = 0.4
    cv.fill([cv.px(_ellipse(cx, -0.04, w * 1.35, h * 2.4, n=28), depth)], (40, 20, 15), alpha=0.18, blur=2.0 * cv.unit / 55)
    # Sclera, then iris, pupil and glint clipped by the eyelids: all through one coverage mask of the eye opening.
    fixed = np.rint(cv.px(outline, depth) * 16).astype(np.int32)
    box = cv._box(fixed, 2)
    if box is not None:
        origin = np.array(box[:2], np.int32) * 16
        shape = (box[3] - box[1], box[2] - box[0])
        opening = np.zeros(shape, np.uint8)
        cv2.fillPoly(opening, [fixed - origin], 255, cv2.LINE_AA, shift=4)
        cv._blend(box, opening, np.array((235, 232, 226), np.float32), 1.0, 0.0)
        ir = ident.iris_radius
        ic = (cx + gaze[0], gaze[1] + 0.005)
        for part, colour, alpha in (
            (_ellipse(*ic, ir, ir, n=24), ident.iris, 1.0),
            (_ellipse(*ic, ir * 0.45, ir * 0.45, n=16), (12, 10, 10), 1.0),
            (_ellipse(ic[0] + 0.3 * ir, ic[1] - 0.35 * ir, ir * 0.2, ir * 0.2, n=10), (250, 250, 250), 0.85),
        ):
            mask = np.zeros(shape, np.uint8)
            cv2.fillPoly(mask, [np.rint(cv.px(part, depth) * 16).astype(np.int32) - origin], 255, cv2.LINE_AA, shift=4)
            cv._blend(box, cv2.multiply(mask, opening, scale=1 / 255), np.asarray(colour, np.float32), alpha, 0.0)
    lid = max(1.5, cv.unit * 0.035)
    cv.stroke([cv.px(upper, depth)], (25, 18, 16), lid)
    cv.stroke([cv.px(lower, depth)], (90, 60, 50), lid * 0.5, alpha=0.6)
    crease = _curve((cx - w * 0.9, -0.5 * h), (cx, -2.6 * h - 0.02), (cx + w * 0.9, -0.5 * h))
    cv.stroke([cv.px(crease, depth)], (60, 35, 30), lid * 0.6, alpha=0.35, blur=0.5)
    return cv.px(np.array([[cx, 0.0]]), depth)[0]


def _brows(cv: _Canvas, ident: Identity, au4: float) -> None:
    q = au4 / MAX_INTENSITY
    colour = ident.hair * 0.8
    t = _bezier_weights(14)[:, 2]
    thick = ident.brow_thickness * (1.15 - 0.6 * t) * (1 + 0.15 * q)
    polys = []
    for side in (-1, 1):
        inner_x = side * (0.2 - 0.08 * q)
        outer_x = side * (0.2 + ident.brow_length)
        base = -ident.brow_height + 0.11 * q
        inner_y = base + 0.07 * q
        outer_y = base + 0.03
        peak = np.array([side * (0.2 + 0.65 * ident.brow_length), base - ident.brow_arch * (1 - 0.6 * q)])
        spine = _curve((inner_x, inner_y), peak, (outer_x, outer_y), n=14)
        top, bottom = spine.copy(), spine.copy()
        top[:, 1] -= thick * 0.55
        bottom[:, 1] += thick * 0.45
        polys.append(cv.px(np.concatenate([top, bottom[::-1]]), 0.45))
    cv.fill(polys, colour, alpha=0.9, blur=0.5)
    # Glabella: vertical furrows between the brows at higher intensities.
    furrow = np.clip((au4 - 1.5) / 3.0, 0, 1)
    if furrow > 0:
        y0 = -ident.brow_height + 0.03 * q
        lines = [cv.px(_curve((x * 1.2, y0 - 0.03), (x * 0.6, y0 + 0.08), (x * 0.8, y0 + 0.2), n=8), 0.5)
                 for x in (-0.05, 0.05)]
        cv.stroke(lines, ident.skin * 0.5, max(1.0, cv.unit * 0.018), alpha=0.7 * furrow, blur=0.3)
        line = _curve((-0.12, 0.08), (0, 0.06 + 0.02 * q), (0.12, 0.08), n=8)
        cv.stroke([cv.px(line, 0.6)], ident.skin * 0.6, max(1.0, cv.unit * 0.015), alpha=0.4 * furrow, blur=0.5)


def _nose(cv: _Canvas, ident: Identity) -> np.ndarray:
    """Draw the nose; return the tip (the landmark) in pixels."""
    ny, w = ident.nose_length, ident.nose_width / 2
    shadow = ident.skin * 0.6
    s = cv.unit / 55
    bridges = [cv.px(_curve((k * 0.1, 0.0), (k * 0.1, 0.3), (k * (w * 0.6), ny - 0.08), n=10), 0.7) for k in (-1, 1)]
    cv.stroke(bridges, shadow, 2.5 * s, alpha=0.35, blur=1.6 * s)
    wings = [cv.px(_curve((k * w * 0.55, ny - 0.14), (k * w * 1.15, ny - 0.02), (k * w * 0.6, ny + 0.04), n=10), 0.75)
             for k in (-1, 1)]
    cv.stroke(wings, shadow, 2.0 * s, alpha=0.6, blur=0.8 * s)
    cv.fill([cv.px(_ellipse(0, ny + 0.03, w * 0.8, 0.06, n=20), 0.8)], shadow, alpha=0.35, blur=1.5 * s)
    cv.fill([cv.px(_ellipse(0, ny - 0.07, w * 0.45, 0.07, n=20), 1.0)], np.minimum(ident.skin * 1.12, 255), alpha=0.5,
            blur=1.2 * s)
    nostrils = [cv.px(_ellipse(k * w * 0.38, ny + 0.025, w * 0.22, 0.033, n=16), 0.85) for k in (-1, 1)]
    cv.fill(nostrils, ident.skin * 0.25, alpha=0.9, blur=0.4 * s)
    return cv.px(np.array([[0.0, ny - 0.04]]), 1.0)[0]


def _mouth(cv: _Canvas, ident: Identity, au12: float) -> np.ndarray:
    """Draw the lips; return the two corners (image-left, image-right) in pixels."""
    r = au12 / MAX_INTENSITY
    my = ident.mouth_y
    hw = ident.mouth_half_width + 0.09 * r
    corner_y = my - 0.14 * r
    mid_y = my + 0.03 * r
    left, right = np.array([-hw, corner_y]), np.array([hw, corner_y])
    open_h = 0.07 * np.clip((au12 - 2.0) / 3.0, 0, 1)
    depth = 0.55
    # Nasolabial folds deepen from intensity ~1.5 on.
    fold = np.clip((au12 - 1.2) / 3.0, 0, 1)
    if fold > 0:
        folds = [cv.px(_curve((k * (ident.nose_width / 2 + 0.04), ident.nose_length - 0.06),
                              (k * (hw + 0.1), my - 0.3 * r - 0.05), (k * (hw + 0.08), corner_y + 0.14), n=12), 0.5)
                 for k in (-1, 1)]
        cv.stroke(folds, ident.skin * 0.55, max(1.5, cv.unit * 0.03), alpha=0.6 * fold, blur=cv.unit / 50)
        cheeks = [cv.px(_ellipse(k * 0.52, 0.55 - 0.06 * r, 0.2, 0.12, n=16), 0.4) for k in (-1, 1)]  # raised cheeks
        cv.fill(cheeks, np.minimum(ident.skin * 1.1, 255), alpha=0.35 * fold, blur=cv.unit / 25)
    seam_mid = np.array([0.0, mid_y + 0.02 * r])
    upper_seam = _curve(left, seam_mid - [0, open_h / 2], right, n=20)
    lower_seam = _curve(left, seam_mid + [0, open_h / 2], right, n=20)
    ul = ident.upper_lip
    bow = np.concatenate([
        _curve(left, (-hw * 0.5, my - ul - 0.08 * r), (-0.06, my - ul), n=10),
        [[0, my - ul + 0.02]],
        _curve((0.06, my - ul), (hw * 0.5, my - ul - 0.08 * r), right, n=10),
    ])
    bottom = _curve(right, (0, mid_y + open_h + ident.lower_lip * 2.0 + 0.02 * r), left, n=20)
    cv.fill([cv.px(np.concatenate([bow, upper_seam[::-1]]), depth)], ident.lips * 0.92)
    cv.fill([cv.px(np.concatenate([lower_seam, bottom]), depth)], ident.lips)
    if open_h > 0.005:
        gap = np.concatenate([upper_seam, lower_seam[::-1]])
        cv.fill([cv.px(gap, depth)], (60, 25, 25))
        teeth = np.concatenate([upper_seam, _curve(right, seam_mid + [0, open_h * 0.2], left, n=20)])
        cv.fill([cv.px(teeth, depth)], (225, 220, 205), alpha=0.9)
    cv.stroke([cv.px(upper_seam, depth)], (55, 25, 25), max(1.5, cv.unit * 0.03))
    # Lower-lip highlight and the shadow under it, for relief.
    cv.fill([cv.px(_ellipse(0, mid_y + open_h + ident.lower_lip * 0.7, hw * 0.35, ident.lower_lip * 0.3, n=16), depth)],
            np.minimum(ident.lips * 1.25, 255), alpha=0.35, blur=cv.unit / 40)
    cv.fill([cv.px(_ellipse(0, mid_y + open_h + ident.lower_lip * 1.0 + 0.1, hw * 0.5, 0.05, n=16), 0.5)],
            ident.skin * 0.65, alpha=0.4, blur=cv.unit / 30)
    return cv.px(np.stack([left, right]), depth)


def _hair_texture(ident: Identity, rng: np.random.Generator, size: int) -> np.ndarray:
    """Full-size hair colour with vertical streaks (the hair polygons sample it)."""
    streaks = rng.uniform(-1.5, 1.5, (6, size // 2, 1)).astype(np.float32)
    low = ident.hair * (1 + 0.18 * streaks) + 6 * streaks
    return cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)


def render_face(ident: Identity, rng: np.random.Generator, au12: float, au4: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One RGB uint8 image and its (5, 2) landmarks."""
    image = _background(rng, size)
    unit = size * 0.26 * rng.uniform(0.88, 1.12)
    centre = np.array([size / 2 + rng.uniform(-0.05, 0.05) * size, size * 0.40 + rng.uniform(-0.04, 0.04) * size])
    cv = _Canvas(image, centre, unit, np.deg2rad(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.25))
    light = rng.uniform(-0.12, 0.12, 2) * np.array([1.0, 0.5])
    gaze = rng.uniform(-0.03, 0.03, 2) * np.array([1.0, 0.4])
    texture = _hair_texture(ident, rng, size) if ident.hair_style != 3 else None

    _draw_hair_back(cv, ident, texture)
    _draw_neck(cv, ident)
    _draw_skin(cv, ident, light, rng)
    _draw_hair_front(cv, ident, texture, rng)
    nose = _nose(cv, ident)
    corners = _mouth(cv, ident, au12)
    eyes = [_eye(cv, ident, side, au4, gaze) for side in (-1, 1)]
    _brows(cv, ident, au4)

    # Scene lighting and a camera: global gain and cast, sensor noise, slight lens softness.
    gain = rng.uniform(0.75, 1.15) * rng.uniform(0.93, 1.07, 3)
    # convertScaleAbs rounds and saturates to uint8 (all values are >= 0); the lens blur and the
    # sensor noise then run on 8-bit pixels, several times faster than on floats.
    cv2.multiply(image, (*gain.tolist(), 0.0), dst=image)
    out = cv2.GaussianBlur(cv2.convertScaleAbs(image), (0, 0), rng.uniform(0.3, 0.7))
    # Uniform luminance noise from raw bytes (std 1-4 levels): as good as Gaussian here and far cheaper.
    noise = np.frombuffer(rng.bytes(size * size), np.uint8).reshape(size, size)
    k = rng.uniform(1.0, 4.0) / 73.6
    out = cv2.addWeighted(out, 1.0, cv2.merge([noise, noise, noise]), k, -127.5 * k)
    landmarks = np.stack([eyes[0], eyes[1], nose, corners[0], corners[1]]).astype(np.float32)
    return out, landmarks


def identity_for(seed: int, index: int) -> Identity:
    return _draw_identity(np.random.default_rng([seed, 0, index]))


def generate(n: int, seed: int, image_size: int = 192) -> SyntheticFaces:
    """``n`` faces; identity ``k // IMAGES_PER_SUBJECT`` for image ``k``; deterministic in ``seed``."""
    if n < 0 or image_size < 32:
        raise ValueError(f"need n >= 0 and image_size >= 32, got n={n}, image_size={image_size}")
    images = np.zeros((n, image_size, image_size, 3), np.uint8)
    landmarks = np.zeros((n, 5, 2), np.float32)
    au12 = np.zeros(n, np.float32)
    au4 = np.zeros(n, np.float32)
    subjects: list[str] = []
    ident: Identity | None = None
    for k in range(n):
        sid = k // IMAGES_PER_SUBJECT
        if k % IMAGES_PER_SUBJECT == 0 or ident is None:
            ident = identity_for(seed, sid)
        rng = np.random.default_rng([seed, 1, k])
        au12[k], au4[k] = _intensity(rng), _intensity(rng)
        images[k], landmarks[k] = render_face(ident, rng, float(au12[k]), float(au4[k]), image_size)
        subjects.append(f"synth{seed}-{sid:05d}")
    return SyntheticFaces(images=images, landmarks=landmarks, au12=au12, au4=au4, subject=subjects)


def subject_split(seed: int, subject_index: int) -> str:
    """The split of one identity ("train", "val" or "test"); fixed per identity so splits are subject-disjoint."""
    return identity_for(seed, subject_index).split


def write_dataset(out_dir, n: int, seed: int, image_size: int = 192) -> Path:
    """Write ``images/*.png`` and ``manifest.csv`` into ``out_dir`` atomically; return the manifest path.

    The folder is built under a temporary name beside ``out_dir`` and renamed into place, so a
    reader never sees half a dataset. An existing synthetic dataset (a folder with a manifest.csv)
    is replaced; any other non-empty folder is refused rather than deleted.
    """
    from PIL import Image

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.csv").is_file():
        raise FileExistsError(f"{out} exists and is not a synthetic dataset (no manifest.csv); choose an empty folder")
    faces = generate(n, seed, image_size)
    with staged_folder(out, force=True) as tmp:
        (tmp / "images").mkdir()
        with open(tmp / "manifest.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(MANIFEST_COLUMNS)
            for k in range(n):
                rel = f"images/{k:06d}.png"
                Image.fromarray(faces.images[k]).save(tmp / rel)
                split = subject_split(seed, k // IMAGES_PER_SUBJECT)
                row = [rel, faces.subject[k], split, f"{faces.au12[k]:.4f}", f"{faces.au4[k]:.4f}"]
                row += [f"{v:.2f}" for v in faces.landmarks[k].reshape(-1)]
                writer.writerow(row)
    return out / "manifest.csv"
