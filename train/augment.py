"""On-the-fly augmentation of cached uint8 crops, in numpy/OpenCV, one sample at a time.

Order matters: the occluder is pasted first, at the face's landmarks, so that geometric jitter and
flips then move the face and its occluder together, as a real mask would move with the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSpec:
    hflip: bool = False
    vflip: bool = False
    brightness: tuple[float, float] | None = None
    rotation: float = 0.0  # fraction of a full turn (Keras RandomRotation convention)
    zoom: float = 0.0
    translation: float = 0.0
    grayscale_p: float = 0.0
    downsample_p: float = 0.0
    downsample_size: tuple[int, int] = (40, 100)
    jpeg_p: float = 0.0
    jpeg_quality: tuple[int, int] = (40, 95)
    occluder: str = "none"
    mix_weights: tuple[float, ...] | None = None  # how often "mix" draws each kind (None: uniformly)

    @classmethod
    def from_config(cls, cfg, occluder: str = "none") -> AugmentSpec:
        flags = cfg.augment_set
        return cls(
            hflip="h" in flags,
            vflip="v" in flags,
            brightness=tuple(cfg.brightness) if "b" in flags else None,
            rotation=cfg.rotation if "r" in flags else 0.0,
            zoom=cfg.zoom if "z" in flags else 0.0,
            translation=cfg.translation if "t" in flags else 0.0,
            grayscale_p=cfg.grayscale_p if "g" in flags else 0.0,
            downsample_p=cfg.downsample_p if "d" in flags else 0.0,
            downsample_size=tuple(cfg.downsample_size),
            jpeg_p=cfg.jpeg_p if "j" in flags else 0.0,
            jpeg_quality=tuple(cfg.jpeg_quality),
            occluder=occluder,
            mix_weights=cfg.mix_probabilities if occluder == "mix" else None,
        )

    @property
    def geometric(self) -> bool:
        return bool(self.rotation or self.zoom or self.translation)


def random_affine(size: int, spec: AugmentSpec, rng: np.random.Generator) -> np.ndarray:
    """A random rotation/zoom/shift about the crop centre, as a 2x3 matrix."""
    angle = rng.uniform(-spec.rotation, spec.rotation) * 360.0 if spec.rotation else 0.0
    scale = 1.0 + rng.uniform(-spec.zoom, spec.zoom) if spec.zoom else 1.0
    centre = (size / 2.0, size / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    if spec.translation:
        matrix[:, 2] += rng.uniform(-spec.translation, spec.translation, size=2) * size
    return matrix


def augment_one(
    image: np.ndarray, landmarks: np.ndarray, spec: AugmentSpec, rng: np.random.Generator
) -> np.ndarray:
    """Return an augmented copy of one uint8 crop."""
    return augment_one_with_kind(image, landmarks, spec, rng)[0]


def augment_one_with_kind(
    image: np.ndarray, landmarks: np.ndarray, spec: AugmentSpec, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """An augmented copy of one uint8 crop and the occluder kind pasted on it ("none" if none)."""
    out, kind = image, "none"
    if spec.occluder != "none":
        from auedge.train.occluders import apply_occluder_kind

        out, kind = apply_occluder_kind(out, landmarks, spec.occluder, rng, spec.mix_weights)
    if spec.geometric:
        size = out.shape[0]
        out = cv2.warpAffine(
            out, random_affine(size, spec, rng), (size, size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    if spec.hflip and rng.random() < 0.5:
        out = out[:, ::-1]
    if spec.vflip and rng.random() < 0.5:
        out = out[::-1]
    if spec.brightness is not None:
        factor = rng.uniform(*spec.brightness)
        out = np.clip(out.astype(np.float32) * factor, 0, 255).astype(np.uint8)
    out = degrade(np.ascontiguousarray(out), spec, rng)
    return np.ascontiguousarray(out), kind


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """RGB with the three channels set to the luma (as FER2013's frames are stored)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def down_and_up(image: np.ndarray, side: int) -> np.ndarray:
    """Shrunk to ``side`` pixels (area averaging, as a camera far away or a 48 px source gives) and
    enlarged back (bilinear, as the device's crop warp enlarges a small face)."""
    size = image.shape[0]
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encoded and decoded as JPEG at ``quality`` (block and ringing artefacts of web photos)."""
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return image
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def degrade(image: np.ndarray, spec: AugmentSpec, rng: np.random.Generator) -> np.ndarray:
    """The photometric gap between datasets: grey, low resolution, JPEG; each with its share.

    Why: FER2013's frames are 48 px grey JPEGs, a device's crops 160 px colour. A model that sees
    only grey faces from one dataset and colour from another can learn "grey means AU4"; turning
    some colour crops grey, small and blocky makes the sources look alike. The draws happen in a
    fixed order whether or not a step applies, so one setting does not shift another's stream; with
    every share 0 nothing is drawn, so recipes without these steps keep their exact random stream."""
    if not (spec.grayscale_p or spec.downsample_p or spec.jpeg_p):
        return image
    grey, down, jpeg = rng.random(3)
    side = int(rng.integers(spec.downsample_size[0], spec.downsample_size[1] + 1))
    quality = int(rng.integers(spec.jpeg_quality[0], spec.jpeg_quality[1] + 1))
    if down < spec.downsample_p and side < image.shape[0]:
        image = down_and_up(image, side)
    if jpeg < spec.jpeg_p:
        image = jpeg_roundtrip(image, quality)
    if grey < spec.grayscale_p:
        image = to_grayscale(image)
    return image


def occlude_fixed(images: np.ndarray, landmarks: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """Occlude a whole evaluation set deterministically (same patch for the same image and seed)."""
    return occlude_fixed_with_kinds(images, landmarks, kind, seed)[0]


def occlude_fixed_with_kinds(
    images: np.ndarray, landmarks: np.ndarray, kind: str, seed: int,
    mix_weights: tuple[float, ...] | None = None, positions: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """:func:`occlude_fixed` plus the concrete kind pasted on each image ("mix" resolved).

    Image i is seeded by its place in the whole set, ``positions[i]`` (default i): a subset given
    with its positions gets the very pixels the whole set would (the exporter pastes only the faces
    it uses). ``mix_weights`` as in :func:`~auedge.train.occluders.apply_occluder_kind`.
    """
    if kind == "none":
        return images, ["none"] * len(images)
    from auedge.train.occluders import apply_occluder_kind

    places = range(len(images)) if positions is None else np.asarray(positions)
    out = np.empty_like(images)
    kinds = []
    for i, place in enumerate(places):
        rng = np.random.default_rng([seed, int(place)])
        out[i], chosen = apply_occluder_kind(images[i], landmarks[i], kind, rng, mix_weights)
        kinds.append(chosen)
    return out, kinds


def occlusion_flags(kinds: list[str], aus: tuple[str, ...] | list[str]) -> np.ndarray:
    """(N, len(aus)) float32 targets: 1 where the pasted occluder covers that AU's face region."""
    from auedge.train.occluders import region_covered

    return np.array([[float(region_covered(au, k)) for au in aus] for k in kinds], dtype=np.float32).reshape(
        len(kinds), len(aus))
