"""The one face crop: eye-aligned, fixed margins, used by training and by the device alike.

Training calls :func:`align_face` with dataset landmarks; the edge runtime calls it with the
face detector's eye keypoints. Keeping a single implementation here is what guarantees that the
device sees the same pixels the model was trained on.

Geometry: the eye line is rotated to horizontal, the crop is a square of side
``eye_scale * eye_distance`` whose centre sits ``center_below_eyes * eye_distance`` below the eye
midpoint (perpendicular to the eye line), and the square is resampled bilinearly to ``size`` pixels.
When the square is more than twice the output size in source pixels, the image is first reduced by
an integer box filter so that bilinear resampling does not alias.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}

# Landmark order used everywhere in the project (MTFL's): image-left eye, image-right eye, nose tip,
# image-left mouth corner, image-right mouth corner. "Left" means smaller x in an upright image.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")


@dataclass(frozen=True)
class CropParams:
    """How a face is cut out of an image. Stored verbatim in the bundle's ``crop`` entry."""

    size: int = 160
    eye_scale: float = 2.4
    center_below_eyes: float = 0.5
    border: str = "replicate"
    method: str = "eyes"

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"crop size {self.size} is too small (need >= 8)")
        if self.eye_scale <= 0:
            raise ValueError(f"crop eye_scale must be positive, got {self.eye_scale}")
        if self.border not in BORDERS:
            raise ValueError(f"crop border {self.border!r} is not one of {sorted(BORDERS)}")
        if self.method != "eyes":
            raise ValueError(f"crop method {self.method!r} is not supported (only 'eyes')")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropParams:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown crop parameters {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


def alignment_matrix(left_eye: np.ndarray, right_eye: np.ndarray, params: CropParams) -> np.ndarray:
    """The 2x3 similarity that maps image coordinates to crop coordinates."""
    left = np.asarray(left_eye, dtype=np.float64)
    right = np.asarray(right_eye, dtype=np.float64)
    delta = right - left
    eye_distance = float(np.hypot(delta[0], delta[1]))
    if not np.isfinite(eye_distance) or eye_distance < 1e-3:
        raise ValueError(f"eyes at {left.tolist()} and {right.tolist()} are too close to align a face")
    cos, sin = delta / eye_distance
    side = params.eye_scale * eye_distance
    scale = params.size / side
    # Centre of the crop: below the eye midpoint, along the face's downward axis (-sin, cos).
    centre = (left + right) / 2.0 + params.center_below_eyes * eye_distance * np.array([-sin, cos])
    # Rotate by -angle so the eye line becomes horizontal, scale, then move the centre to the middle.
    rotation = np.array([[cos, sin], [-sin, cos]]) * scale
    offset = np.array([params.size / 2.0, params.size / 2.0]) - rotation @ centre
    return np.hstack([rotation, offset[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to an (N, 2) array of points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def reduction_factor(matrix: np.ndarray) -> int:
    """Integer box-filter factor applied before warping, so that bilinear sampling never aliases."""
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    return max(1, int(np.floor(1.0 / (2.0 * scale)))) if scale < 0.5 else 1


def box_reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block, rounded half up, in integers (the image is cut
    to a multiple of the factor). Summing ``factor**2`` strided views keeps it fast in numpy, and
    integer maths makes it exactly reproducible on a phone."""
    if factor <= 1:
        return image
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    if h == 0 or w == 0:
        return image
    cut = image[:h, :w]
    total = np.zeros((h // factor, w // factor, *image.shape[2:]), dtype=np.uint32)
    for dy in range(factor):
        for dx in range(factor):
            total += cut[dy::factor, dx::factor]
    area = factor * factor
    return ((2 * total + area) // (2 * area)).astype(np.uint8)


def _crop_footprint(matrix: np.ndarray, size: int) -> np.ndarray:
    """Corners of the output square in image coordinates."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    return transform_points(corners, inverse)


def _reduced_region_origin(matrix: np.ndarray, size: int, factor: int, shape: tuple[int, ...]) -> tuple[int, int]:
    """Top-left of the region to reduce, on a block boundary, two blocks before the footprint."""
    lo = _crop_footprint(matrix, size).min(axis=0)
    x0 = int(np.clip((np.floor(lo[0] / factor) - 2) * factor, 0, shape[1] // factor * factor))
    y0 = int(np.clip((np.floor(lo[1] / factor) - 2) * factor, 0, shape[0] // factor * factor))
    return x0, y0


def _reduced_region_end(matrix: np.ndarray, size: int, factor: int, cut: tuple[int, int]) -> tuple[int, int]:
    """Bottom-right (exclusive) of the region, two blocks past the footprint, within the cut image."""
    hi = _crop_footprint(matrix, size).max(axis=0)
    x1 = int(np.clip((np.ceil(hi[0] / factor) + 2) * factor, 0, cut[1]))
    y1 = int(np.clip((np.ceil(hi[1] / factor) + 2) * factor, 0, cut[0]))
    return x1, y1


def align_face(
    image: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray, params: CropParams
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the aligned face crop out of an RGB uint8 image.

    Returns the crop (``size`` x ``size`` x 3, uint8) and the 2x3 matrix from image to crop
    coordinates (use :func:`transform_points` to carry landmarks along).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    matrix = alignment_matrix(left_eye, right_eye, params)
    factor = reduction_factor(matrix)
    warp = matrix.copy()
    source = image
    if factor > 1:
        # Reduce only the blocks the crop can sample (its square plus a margin), not the whole
        # frame: the result is identical because the region starts on a block boundary, and a
        # 1080p frame no longer costs a full-frame filter for one face.
        x0, y0 = _reduced_region_origin(matrix, params.size, factor, image.shape)
        h_full, w_full = image.shape[0] // factor * factor, image.shape[1] // factor * factor
        x1, y1 = _reduced_region_end(matrix, params.size, factor, (h_full, w_full))
        if x1 > x0 and y1 > y0:
            source = box_reduce(image[y0:y1, x0:x1], factor)
        else:  # the crop lies wholly outside the image: reduce the whole frame as before
            x0 = y0 = 0
            source = box_reduce(image, factor)
        # Pixel centres of the reduced region: x_full = x0 + factor * x_small + (factor - 1) / 2.
        warp[:, :2] = matrix[:, :2] * factor
        warp[:, 2] = matrix[:, 2] + matrix[:, :2] @ np.array([x0 + (factor - 1) / 2.0, y0 + (factor - 1) / 2.0])
    crop = cv2.warpAffine(
        source,
        warp,
        (params.size, params.size),
        flags=cv2.INTER_LINEAR,
        borderMode=BORDERS[params.border],
        borderValue=(0, 0, 0),
    )
    return crop, matrix
