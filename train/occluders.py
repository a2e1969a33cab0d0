"""Face masks and glasses drawn onto aligned crops, anchored to the five landmarks.

Why landmarks and not fixed pixels: a mask must sit on the mouth and chin of *this* face, whatever
its tilt, size or yaw, or a model learns that "the bottom third of the crop is sometimes blue"
instead of coping with an occluded mouth. Every shape is written in a face frame built from the
landmarks: ``u`` runs along the eye line in eye distances, ``v`` runs from the eye midpoint
(``v = 0``) to where a neutral mouth centre would be (``v = 1``); the chin is near ``v = 1.6``.

Why that frame uses the eyes and the nose tip but never the mouth landmarks: the mouth landmarks move
with the AUs an occluder hides (a smile widens and lifts the mouth corners), so a mask sized or placed
from them tells the model the AU under it. On MTFL training faces the mouth width over the eye
distance alone predicts smile with ROC AUC 0.83 (OpenFace's AU12 scores 0.833); on the synthetic faces
it correlates r = 0.90 with AU12. The nose tip barely moves (AUC 0.55, r = 0.07), so the neutral mouth
is estimated from the eyes and the nose: perpendicular to the eye line, at
``MOUTH_V0 + MOUTH_V_PER_NOSE * nose_v`` eye distances below the eyes (a least-squares fit on MTFL
training faces without a smile, residual sd 0.12 eye distances), which also follows the
foreshortening of yawed and pitched faces.

Size, position, colour and texture are jittered from the caller's ``rng`` (deterministic for a
given generator state) so a model cannot memorise one exact patch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

# Bumped whenever a shape changes, so results made with the old shapes are not mixed with new ones.
# 2: the face frame no longer uses the mouth landmarks (they leaked AU12 into the mask's outline).
OCCLUDER_GEOMETRY = 2
# Neutral mouth below the eye midpoint, in eye distances, from the nose tip's distance (see the docstring).
MOUTH_V0 = 0.84
MOUTH_V_PER_NOSE = 0.53
MIN_MOUTH_V = 0.5  # landmarks with the nose above the eyes still get a face-sized frame
# The small mask's half width in eye distances: wider than 97 % of MTFL's smiling mouths (0.57).
MASK_SMALL_HALF_WIDTH = 0.62

OCCLUDER_KINDS = ("mask-full", "mask-half", "mask-small", "glasses-big", "glasses-eyehole")
CLI_CHOICES = ("none", *OCCLUDER_KINDS, "mix")
# Every concrete condition: bare and each kind; what "mix" draws from, uniformly unless weighted (parse_mix_weights).
MIX_KINDS = ("none", *OCCLUDER_KINDS)
_COVERED = {
    "none": frozenset(),
    "mask-full": frozenset({"mouth"}),
    "mask-half": frozenset({"mouth"}),
    "mask-small": frozenset({"mouth"}),
    "glasses-big": frozenset({"eyes", "brows"}),
    "glasses-eyehole": frozenset({"brows"}),
}
# The face region each AU is read from, for occlusion flags ("AU12_occluded" = its region is covered).
AU_REGIONS = {
    "au1": "brows", "au2": "brows", "au4": "brows",
    "au5": "eyes", "au6": "eyes", "au7": "eyes", "au43": "eyes",
    "au9": "mouth", "au10": "mouth", "au12": "mouth", "au14": "mouth", "au15": "mouth", "au17": "mouth",
    "au20": "mouth", "au23": "mouth", "au25": "mouth", "au26": "mouth",
}
# Fabric colours (RGB): surgical blue, surgical green, white, black, grey, pink.
MASK_COLOURS = ((118, 170, 214), (142, 196, 176), (236, 236, 232), (32, 32, 36), (150, 150, 155), (226, 170, 180))
# Plastic cup colours for the small mask: clear-green, clear, white, blue.
CUP_COLOURS = ((190, 230, 205), (225, 232, 235), (245, 245, 245), (150, 190, 230))
FRAME_COLOURS = ((20, 20, 22), (70, 45, 30), (120, 120, 125), (40, 30, 60))


@dataclass
class OccluderShape:
    """Where an occluder sits, in image pixels.

    ``polygons`` are filled, ``holes`` are cut back out of them (eye holes), ``lines`` are thin
    extras (straps, temples, frame rims) drawn ``line_width`` pixels wide.
    """

    kind: str
    polygons: list[np.ndarray]
    holes: list[np.ndarray] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    line_width: float = 1.0


def parse_occluder(text: str | None) -> str:
    """Validate a CLI/config value; None and "" mean "none"."""
    value = "none" if text is None else str(text).strip().lower()
    value = value or "none"
    if value not in CLI_CHOICES:
        raise ValueError(f"unknown occluder {text!r}; allowed values: {', '.join(CLI_CHOICES)}")
    return value


def parse_mix_weights(text: str | None) -> tuple[float, ...] | None:
    """``"mask-full=2,mask-half=2"`` as one probability per :data:`MIX_KINDS` (unnamed kinds weigh 1).

    Why weights at all: a uniform "mix" spends two of its six draws on glasses, which leave the mouth
    visible, so a mouth AU sees each mask on only a sixth of its faces while a per-mask specialist
    sees it on every one. None or "" keep the uniform draw (and its exact random stream).
    """
    if text is None or not str(text).strip():
        return None
    weights = dict.fromkeys(MIX_KINDS, 1.0)
    for part in str(text).split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip().lower()
        if not sep or name not in weights:
            raise ValueError(f"mix_weights {text!r}: use KIND=WEIGHT pairs, KIND one of {', '.join(MIX_KINDS)}")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"mix_weights {text!r}: the weight of {name} must be a number >= 0, got {value.strip()!r}")
        weights[name] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"mix_weights {text!r}: at least one kind needs a weight above 0")
    return tuple(w / total for w in weights.values())


def covered_regions(kind: str) -> frozenset[str]:
    """Which of {"mouth", "eyes", "brows"} an occluder hides (for an occlusion flag)."""
    if kind not in _COVERED:
        raise ValueError(f"no fixed covered regions for occluder {kind!r}; allowed: {', '.join(_COVERED)}")
    return _COVERED[kind]


class _FaceFrame:
    """(u, v) face coordinates <-> pixels, from the five landmarks."""

    def __init__(self, landmarks: np.ndarray) -> None:
        lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
        self.left_eye, self.right_eye = lm[0], lm[1]
        self.eyes_mid = (lm[0] + lm[1]) / 2
        across = lm[1] - lm[0]
        self.eye_distance = float(np.hypot(*across))
        if self.eye_distance < 1e-3:
            raise ValueError("landmarks have both eyes at one point; cannot place an occluder")
        if not np.all(np.isfinite(lm)):
            raise ValueError("landmarks are not finite; cannot place an occluder")
        self.u_axis = across  # one unit of u = one eye distance
        down = np.array([-across[1], across[0]])  # perpendicular to the eye line, towards the mouth
        nose_down = float((lm[2] - self.eyes_mid) @ down) / self.eye_distance**2  # in eye distances
        mouth_down = max(MIN_MOUTH_V, MOUTH_V0 + MOUTH_V_PER_NOSE * nose_down)
        self.v_axis = down * mouth_down  # one unit of v = eyes to the neutral mouth; no mouth landmark used
        self.nose_v = self.to_uv(lm[2:3])[0, 1]

    def to_px(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        return self.eyes_mid + uv[:, :1] * self.u_axis + uv[:, 1:] * self.v_axis

    def to_uv(self, px: np.ndarray) -> np.ndarray:
        basis = np.stack([self.u_axis, self.v_axis], axis=1)
        return (np.asarray(px, dtype=np.float64).reshape(-1, 2) - self.eyes_mid) @ np.linalg.inv(basis).T

    def grid_uv(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel (u, v), for textures that follow the face (pleats, lens shading)."""
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        inv = np.linalg.inv(np.stack([self.u_axis, self.v_axis], axis=1)).astype(np.float32)
        dx, dy = xs - np.float32(self.eyes_mid[0]), ys - np.float32(self.eyes_mid[1])
        return inv[0, 0] * dx + inv[0, 1] * dy, inv[1, 0] * dx + inv[1, 1] * dy


def _superellipse(cu: float, cv: float, ru: float, rv: float, power: float = 2.0, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / power
    return np.stack([cu + ru * np.sign(c) * np.abs(c) ** e, cv + rv * np.sign(s) * np.abs(s) ** e], axis=1)


def _jitter(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Width scale, height scale, u shift, v shift: roughly +-10% size, a few % position."""
    return rng.uniform(0.9, 1.1), rng.uniform(0.92, 1.08), rng.uniform(-0.04, 0.04), rng.uniform(-0.03, 0.03)


def _scaled(uv: np.ndarray, centre: tuple[float, float], jit: tuple[float, float, float, float]) -> np.ndarray:
    su, sv, du, dv = jit
    return (np.asarray(uv, dtype=np.float64) - centre) * (su, sv) + centre + (du, dv)


def _mask_outline(top: float, half_width: float, bottom: float) -> np.ndarray:
    """A fabric mask: an edge arching over the nose at ``top``, sides past the cheeks, round under the chin."""
    w = half_width
    return np.array([
        (-w, top + 0.16), (-0.5 * w, top + 0.07), (0.0, top), (0.5 * w, top + 0.07), (w, top + 0.16),
        (1.03 * w, top + 0.55), (0.92 * w, bottom - 0.4), (0.5 * w, bottom - 0.08), (0.0, bottom),
        (-0.5 * w, bottom - 0.08), (-0.92 * w, bottom - 0.4), (-1.03 * w, top + 0.55),
    ])


def occluder_polygon(landmarks: np.ndarray, kind: str, rng: np.random.Generator) -> OccluderShape:
    """The geometry of one occluder on a face with these landmarks (pixels of the same image)."""
    if kind not in OCCLUDER_KINDS:
        raise ValueError(f"unknown occluder kind {kind!r}; allowed: {', '.join(OCCLUDER_KINDS)}")
    f = _FaceFrame(landmarks)
    jit = _jitter(rng)
    width = max(1.0, f.eye_distance * 0.03)
    if kind in ("mask-full", "mask-half"):
        top = 0.3 if kind == "mask-full" else 0.72
        outline = _scaled(_mask_outline(top, 1.22 if kind == "mask-full" else 1.12, 1.85), (0.0, 1.0), jit)
        if kind == "mask-half":  # stay just under the nose whatever the face's proportions
            outline[:, 1] = np.maximum(outline[:, 1], f.nose_v + 0.08)
        strap_v = outline[0, 1] + 0.05
        straps = [np.array([(s * 1.25, strap_v), (s * 1.6, strap_v - 0.25)]) for s in (-1, 1)]
        return OccluderShape(kind, [f.to_px(outline)], lines=[f.to_px(s) for s in straps], line_width=width)
    if kind == "mask-small":
        ru = MASK_SMALL_HALF_WIDTH
        cup = _scaled(_superellipse(0.0, 1.03, ru, 0.3, power=2.4), (0.0, 1.03), jit)
        strap_v = 0.95 + jit[3]
        straps = [np.array([(s * ru * jit[0] * 0.95, strap_v), (s * 1.6, strap_v - 0.4)]) for s in (-1, 1)]
        return OccluderShape(kind, [f.to_px(cup)], lines=[f.to_px(s) for s in straps], line_width=width)
    # Glasses: lens centres at the eyes, raised so the lenses reach over the brows.
    eyes_u = f.to_uv(np.stack([f.left_eye, f.right_eye]))
    lens_v = -0.12
    lenses = [
        _scaled(_superellipse(eu, ev + lens_v, 0.43, 0.37, power=3.2), (eu, ev + lens_v), jit) for eu, ev in eyes_u
    ]
    bridge = np.array([(eyes_u[0, 0] + 0.38, lens_v - 0.12), (0.0, lens_v - 0.17), (eyes_u[1, 0] - 0.38, lens_v - 0.12)])
    temples = [np.array([(s * 0.92, lens_v - 0.15), (s * 1.6, lens_v - 0.05)]) for s in (-1, 1)]
    lines = [f.to_px(_scaled(bridge, (0.0, lens_v), jit))] + [f.to_px(_scaled(t, (0.0, lens_v), jit)) for t in temples]
    if kind == "glasses-big":
        return OccluderShape(kind, [f.to_px(lens) for lens in lenses], lines=lines, line_width=2 * width)
    # Eye-hole glasses: a band over the brows and around the eyes, open only over the eyes themselves.
    # Holes 0.54 x 0.30 eye distances: the eye opening and a little skin, nothing of the brows.
    hole_v = 0.15 * f.eye_distance / max(float(np.hypot(*f.v_axis)), 0.5 * f.eye_distance)  # in v units
    holes = [_superellipse(eu + jit[2] * 0.3, ev, 0.27, hole_v, power=2.0) for eu, ev in eyes_u]
    return OccluderShape(
        kind, [f.to_px(lens) for lens in lenses], holes=[f.to_px(h) for h in holes], lines=lines, line_width=2 * width
    )


def _coverage(shape: OccluderShape, height: int, width: int) -> np.ndarray:
    """Anti-aliased 0-1 float coverage of the filled parts, holes removed."""
    mask = np.zeros((height, width), np.uint8)
    fixed = [np.rint(p * 16).astype(np.int32) for p in shape.polygons]
    cv2.fillPoly(mask, fixed, 255, cv2.LINE_AA, shift=4)
    if shape.holes:
        holes = [np.rint(p * 16).astype(np.int32) for p in shape.holes]
        cv2.fillPoly(mask, holes, 0, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def _blend(out: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return out * (1.0 - a) + colour * a


def _texture(kind: str, frame: _FaceFrame, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Colour image of the occluder's material and its opacity."""
    u, v = frame.grid_uv(h, w)
    low = cv2.resize(rng.uniform(-1, 1, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.uniform(-1, 1, (h, w)).astype(np.float32)
    if kind.startswith("mask-"):
        if kind == "mask-small":
            base = np.array(CUP_COLOURS[rng.integers(len(CUP_COLOURS))], np.float32) * rng.uniform(0.9, 1.05)
            opacity = rng.uniform(0.55, 0.8) if rng.uniform() < 0.5 else rng.uniform(0.85, 1.0)
            shade = 1.0 + 0.12 * low - 0.15 * np.clip((v - 1.0) / 0.3, -1, 1) ** 2  # a domed cup
        else:
            base = np.array(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], np.float32) * rng.uniform(0.9, 1.05)
            opacity = 1.0
            period = rng.uniform(0.16, 0.24)  # pleats across the mask, following the face frame
            pleats = np.cos(2 * np.pi * (v - rng.uniform(0, 1)) / period)
            shade = 1.0 - 0.08 * pleats + 0.05 * low - 0.1 * np.clip(np.abs(u) - 0.6, 0, 1)
        colour = base * shade[..., None] + 4.0 * grain[..., None]
        return np.clip(colour, 0, 255), opacity
    if kind == "glasses-big":
        tint = np.array([(25, 25, 28), (55, 40, 25), (25, 35, 55), (30, 45, 30)][rng.integers(4)], np.float32)
        sheen = 40.0 * np.clip(1.0 - np.abs(u + v + rng.uniform(-0.3, 0.3)) / 0.25, 0, 1)  # a reflection streak
        colour = tint * rng.uniform(0.8, 1.4) + (sheen + 6.0 * low + 3.0 * grain)[..., None]
        return np.clip(colour, 0, 255), rng.uniform(0.9, 0.98)
    base = np.array(FRAME_COLOURS[rng.integers(len(FRAME_COLOURS))], np.float32) * rng.uniform(0.8, 1.3)
    colour = base * (1.0 + 0.15 * low)[..., None] + 5.0 * grain[..., None]
    return np.clip(colour, 0, 255), 1.0


def region_covered(au: str, kind: str) -> bool:
    """Whether occluder ``kind`` (a concrete kind or "none") covers the region AU ``au`` is read from."""
    region = AU_REGIONS.get(au.lower())
    if region is None:
        raise ValueError(f"no face region is known for {au!r}; known: {', '.join(AU_REGIONS)}")
    return region in covered_regions(kind)


def apply_occluder(image: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A new uint8 image with the occluder drawn; "none" copies, "mix" picks a kind or none uniformly."""
    return apply_occluder_kind(image, landmarks, kind, rng)[0]


def apply_occluder_kind(
    image: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator,
    mix_weights: tuple[float, ...] | None = None,
) -> tuple[np.ndarray, str]:
    """:func:`apply_occluder` that also says which concrete kind was drawn ("mix" resolved), so a
    training target can tell which face regions are covered. ``mix_weights`` (one probability per
    :data:`MIX_KINDS`, from :func:`parse_mix_weights`) replaces the uniform draw of "mix"."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    kind = parse_occluder(kind)
    if kind == "mix":
        kind = MIX_KINDS[int(rng.integers(len(MIX_KINDS)) if mix_weights is None
                             else rng.choice(len(MIX_KINDS), p=mix_weights))]
    if kind == "none":
        return image.copy(), kind
    h, w = image.shape[:2]
    shape = occluder_polygon(landmarks, kind, rng)
    colour, opacity = _texture(kind, _FaceFrame(landmarks), h, w, rng)
    out = _blend(image.astype(np.float32), _coverage(shape, h, w) * opacity, colour)
    if shape.lines:
        line_mask = np.zeros((h, w), np.uint8)
        thickness = max(1, round(shape.line_width))
        for line in shape.lines:
            cv2.polylines(line_mask, [np.rint(line * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, shift=4)
        if kind.startswith("glasses"):  # frame rims around the lenses too
            for poly in shape.polygons:
                cv2.polylines(line_mask, [np.rint(poly * 16).astype(np.int32)], True, 255, thickness, cv2.LINE_AA, shift=4)
            if shape.holes:
                line_mask[_coverage(OccluderShape(kind, shape.holes), h, w) > 0.02] = 0
            rim = np.array(FRAME_COLOURS[rng.integers(len(FRAME_COLOURS))], np.float32)
        else:
            rim = np.array((235, 235, 235) if rng.uniform() < 0.5 else (60, 60, 65), np.float32)
        out = _blend(out, line_mask.astype(np.float32) / 255.0, rim)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), kind
