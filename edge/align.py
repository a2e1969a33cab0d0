"""The one face crop: eye-aligned, fixed margins, used by training and by the device alike.

Training calls :func:`align_face` with dataset landmarks; the edge runtime calls it with the
face detector's eye keypoints. Keeping a single implementation here is what guarantees that the
device sees the same pixels the model was trained on.

Geometry (method ``eyes``): the eye line is rotated to horizontal, the crop is a square of side
``eye_scale * eye_distance`` whose centre sits ``center_below_eyes * eye_distance`` below the eye
midpoint (perpendicular to the eye line), and the square is resampled bilinearly to ``size`` pixels.

Method ``landmarks`` measures the same square in a template face instead of in the eyes: the least-
squares similarity (rotation, uniform scale, shift) that carries the eyes, nose tip and mouth centre
onto a frontal template in eye-distance units. On a frontal face it is the eye crop; on a turned
head, whose eyes look closer together than they are, it keeps the whole face in the square instead
of zooming in (MTFL profiles: a side of about 3.3 projected eye distances instead of 2.4). The
detector's keypoints 0-3 and a dataset's eyes, nose and mouth-corner midpoint are those four points.
When the square is more than twice the output size in source pixels, the image is first reduced by
an integer box filter so that bilinear resampling does not alias.

Sampling is exact integer arithmetic, defined here and not by OpenCV: the inverse matrix is rounded
to 1/65536, each crop pixel's source position to 1/32 pixel (as OpenCV's own fixed-point bilinear),
and the four neighbours are weighted by products of those 1/32 fractions, rounded half up. cv2.remap
with integer maps computes exactly that, much faster than numpy; OpenCV's warpAffine does not (4.12
rewrote it: up to two grey levels on 3-8 % of a crop's values against 4.11, which a Pi gets), and
the Android core repeats the same integer steps in Java. :func:`sample_bilinear` checks once per
process that the installed OpenCV agrees with the numpy definition and uses numpy if it does not.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from functools import cache, lru_cache
from typing import Any

import cv2
import numpy as np

BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}

# Fixed-point sampling (see the module docstring): the inverse matrix in 1/2**MATRIX_BITS, positions
# in 1/2**SUBPIXEL_BITS pixel (cv2.remap's integer maps hold exactly that: INTER_BITS is 5).
MATRIX_BITS = 16
SUBPIXEL_BITS = 5
# Positions are clamped to +-16384 px (cv2.remap's cells are int16). Outside an image that small,
# replicate and constant borders give the same pixel wherever the position is.
POSITION_LIMIT = 1 << 14

logger = logging.getLogger(__name__)

# Landmark order used everywhere in the project (MTFL's): image-left eye, image-right eye, nose tip,
# image-left mouth corner, image-right mouth corner. "Left" means smaller x in an upright image.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")

CROP_METHODS = ("eyes", "landmarks")
# The points method "landmarks" fits, and where a frontal face has them: eye-distance units, origin
# at the eye midpoint, y down. Nose and mouth are the means over 120 frontal (pose 3) MTFL training
# faces (nose tip 0.60, mouth-corner midpoint 1.07 eye distances below the eyes).
ALIGN_POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth")
LANDMARK_TEMPLATE = ((-0.5, 0.0), (0.5, 0.0), (0.0, 0.60), (0.0, 1.07))


@dataclass(frozen=True)
class CropParams:
    """How a face is cut out of an image. Stored verbatim in the bundle's ``crop`` entry."""

    size: int = 160
    eye_scale: float = 2.4
    center_below_eyes: float = 0.5
    border: str = "replicate"
    method: str = "eyes"
    template: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"crop size {self.size} is too small (need >= 8)")
        if self.eye_scale <= 0:
            raise ValueError(f"crop eye_scale must be positive, got {self.eye_scale}")
        if self.border not in BORDERS:
            raise ValueError(f"crop border {self.border!r} is not one of {sorted(BORDERS)}")
        if self.method not in CROP_METHODS:
            raise ValueError(f"crop method {self.method!r} is not one of {', '.join(CROP_METHODS)}")
        if self.method == "eyes":
            if self.template is not None:
                raise ValueError("crop method 'eyes' takes no template; use method 'landmarks' for one")
            return
        template = LANDMARK_TEMPLATE if self.template is None else self.template
        try:
            points = tuple((float(x), float(y)) for x, y in template)
        except (TypeError, ValueError):
            raise ValueError(f"crop template must be {len(ALIGN_POINT_NAMES)} [x, y] pairs, got {template!r}") from None
        array = np.array(points)
        if len(points) != len(ALIGN_POINT_NAMES) or not np.all(np.isfinite(array)):
            raise ValueError(f"crop template must be {len(ALIGN_POINT_NAMES)} finite [x, y] pairs "
                             f"({', '.join(ALIGN_POINT_NAMES)}), got {template!r}")
        if np.hypot(*(array - array.mean(axis=0)).T).max() < 1e-3:
            raise ValueError(f"crop template points {template!r} all coincide")
        object.__setattr__(self, "template", points)

    @property
    def num_points(self) -> int:
        """How many of ``ALIGN_POINT_NAMES`` the method needs (the eyes, or all four)."""
        return 2 if self.method == "eyes" else len(ALIGN_POINT_NAMES)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.template is None:
            del data["template"]  # eye crops keep the bundle entry every reader already knows
        else:
            data["template"] = [list(point) for point in self.template]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropParams:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown crop parameters {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


def alignment_matrix(
    left_eye: np.ndarray,
    right_eye: np.ndarray,
    params: CropParams,
    *,
    nose: np.ndarray | None = None,
    mouth: np.ndarray | None = None,
) -> np.ndarray:
    """The 2x3 similarity that maps image coordinates to crop coordinates.

    ``nose`` and ``mouth`` (the mouth centre) are needed by method ``landmarks`` and ignored by
    ``eyes``."""
    if params.method == "landmarks":
        if nose is None or mouth is None:
            raise ValueError("crop method 'landmarks' needs the nose and mouth points as well as the eyes")
        return _landmark_matrix(np.array([left_eye, right_eye, nose, mouth], dtype=np.float64), params)
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


def _landmark_matrix(points: np.ndarray, params: CropParams) -> np.ndarray:
    """Least-squares similarity (no reflection) from ``points`` to the template in crop pixels.

    The template is placed so that the eye method's square falls on the crop: template point t goes
    to ``size / 2 + (t - (0, center_below_eyes)) * size / eye_scale``. Closed form for a similarity
    ``[[a, -b], [b, a]]``: with centred points p and q, a = sum(p . q) / sum|p|^2 and
    b = sum(p x q) / sum|p|^2 (Umeyama 1991 without the reflection case).
    """
    if points.shape != (4, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"face points {points.tolist()} are not four finite (x, y) pairs")
    template = np.asarray(params.template, dtype=np.float64)
    target = params.size / 2.0 + (template - np.array([0.0, params.center_below_eyes])) * (params.size / params.eye_scale)
    source_mean, target_mean = points.mean(axis=0), target.mean(axis=0)
    p, q = points - source_mean, target - target_mean
    spread = float((p * p).sum())
    if spread < 1e-6:
        raise ValueError(f"face points {points.tolist()} coincide; they cannot align a face")
    a = float((p * q).sum()) / spread
    b = float((p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum()) / spread
    rotation = np.array([[a, -b], [b, a]])
    offset = target_mean - rotation @ source_mean
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


def invert_affine(matrix: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """The inverse of a 2x3 affine matrix, row by row, in scalar double arithmetic whose every step the
    Android core repeats (FaceAligner.invert), so both round the same way (numpy's matmul may fuse)."""
    m00, m01, m02 = (float(v) for v in matrix[0])
    m10, m11, m12 = (float(v) for v in matrix[1])
    det = m00 * m11 - m01 * m10
    det = 1.0 / det if det != 0.0 else 0.0
    a11, a22, a12, a21 = m11 * det, m00 * det, -m01 * det, -m10 * det
    return a11, a12, -a11 * m02 - a12 * m12, a21, a22, -a21 * m02 - a22 * m12


def sampling_maps(
    warp: np.ndarray, size: int | tuple[int, int], origin: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of a ``size`` x ``size`` crop (or a ``(width, height)`` image) samples the
    source, in cv2.remap's integer form.

    The position of crop pixel (x, y) in 1/32 source pixels is q = (A x + B y + C + 2**10) >> 11, where
    A, B, C are the inverse matrix's row rounded to 1/65536 (floor(v * 65536 + 0.5)): integers only, so
    every machine gets the same q. ``origin`` (whole source pixels) is subtracted afterwards, exactly:
    cutting a region out of the source moves no sampling position. Returns the cells (int16,
    ``(size, size, 2)``: x, y = q >> 5) and fractions (uint16: (qy & 31) * 32 + (qx & 31)).
    """
    one = 1 << MATRIX_BITS
    a, b, c, d, e, f = (math.floor(v * one + 0.5) for v in invert_affine(warp))
    drop = MATRIX_BITS - SUBPIXEL_BITS
    c += (1 << (drop - 1)) - (origin[0] << MATRIX_BITS)
    f += (1 << (drop - 1)) - (origin[1] << MATRIX_BITS)
    width, height = (size, size) if isinstance(size, int) else size
    # An affine map's extremes are at the corners: within +-2**30 before the shift, int32 holds every
    # value and no position reaches POSITION_LIMIT (4x faster than int64); else int64 and a clamp.
    right, bottom = width - 1, height - 1
    corners = [c, c + a * right, c + b * bottom, c + a * right + b * bottom,
               f, f + d * right, f + e * bottom, f + d * right + e * bottom]
    wide = max(abs(v) for v in corners) >= POSITION_LIMIT << MATRIX_BITS
    dtype = np.int64 if wide else np.int32
    columns, rows = np.arange(width, dtype=np.int64), np.arange(height, dtype=np.int64)
    if b == 0 and d == 0:  # a resize: x positions per column, y per row (the same integers, 10x faster)
        return _axis_aligned_maps((a * columns + c) >> drop, (e * rows + f) >> drop, wide)
    qx = np.add.outer((b * rows + c).astype(dtype), (a * columns).astype(dtype))
    qy = np.add.outer((e * rows + f).astype(dtype), (d * columns).astype(dtype))
    qx >>= drop
    qy >>= drop
    if wide:
        limit = POSITION_LIMIT << SUBPIXEL_BITS
        np.clip(qx, -limit, limit, out=qx)
        np.clip(qy, -limit, limit, out=qy)
    cells = np.empty((height, width, 2), np.int16)
    np.right_shift(qx, SUBPIXEL_BITS, out=cells[..., 0], casting="unsafe")
    np.right_shift(qy, SUBPIXEL_BITS, out=cells[..., 1], casting="unsafe")
    mask = (1 << SUBPIXEL_BITS) - 1
    qx &= mask
    qy &= mask
    qy <<= SUBPIXEL_BITS
    fractions = np.empty((height, width), np.uint16)
    np.bitwise_or(qx, qy, out=fractions, casting="unsafe")
    return cells, fractions


def _axis_aligned_maps(qx: np.ndarray, qy: np.ndarray, wide: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sampling_maps` of a matrix without rotation, from the column and row positions q."""
    if wide:
        limit = POSITION_LIMIT << SUBPIXEL_BITS
        qx, qy = np.clip(qx, -limit, limit), np.clip(qy, -limit, limit)
    mask = (1 << SUBPIXEL_BITS) - 1
    cells = np.empty((len(qy), len(qx), 2), np.int16)
    cells[..., 0] = (qx >> SUBPIXEL_BITS)[None, :]
    cells[..., 1] = (qy >> SUBPIXEL_BITS)[:, None]
    fractions = ((qy & mask) << SUBPIXEL_BITS).astype(np.uint16)[:, None] | (qx & mask).astype(np.uint16)[None, :]
    return cells, fractions


def resize_bilinear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2.resize with INTER_LINEAR (pixel centres at (i + 0.5) * src / dst - 0.5, edges replicated),
    sampled by :func:`sample_bilinear`: the same pixels on every OpenCV version and CPU, which
    cv2.resize's are not (5.1 on arm64 against x86: one level on 5-22 % of values)."""
    sx, sy = width / image.shape[1], height / image.shape[0]
    warp = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
    cells, fractions = sampling_maps(warp, (width, height))
    return sample_bilinear(image, cells, fractions, "replicate")


def halve(image: np.ndarray) -> np.ndarray:
    """``box_reduce(image, 2)`` of an even-sized image, by cv2.resize's INTER_AREA (30x faster than
    numpy) when this OpenCV gives exactly that: its 2x area path is integer, (a + b + c + d + 2) >> 2."""
    if _area_halving_is_exact():
        return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return box_reduce(image, 2)


@cache
def _area_halving_is_exact() -> bool:
    source = np.random.default_rng(38).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    source[:8] = 255
    return np.array_equal(cv2.resize(source, (32, 24), interpolation=cv2.INTER_AREA), box_reduce(source, 2))


def _border_index(index: np.ndarray, length: int, border: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Source row/column of each neighbour under ``border``, and (constant) where it is outside."""
    if border == "replicate":
        return np.clip(index, 0, length - 1), None
    if border == "constant":
        return np.clip(index, 0, length - 1), (index < 0) | (index >= length)
    if length == 1:
        return np.zeros_like(index), None
    period = 2 * length - 2  # reflect-101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
    folded = np.abs(index) % period
    return np.where(folded >= length, period - folded, folded), None


def bilinear_reference(source: np.ndarray, cells: np.ndarray, fractions: np.ndarray, border: str) -> np.ndarray:
    """The definition of the crop's sampling, in numpy integers (slow: the check of cv2.remap).

    Each value is (sum of w * p over the four neighbours + 512) >> 10 with w the products of the
    1/32 fractions, (32 - fx) (32 - fy), fx (32 - fy), (32 - fx) fy and fx fy."""
    unit = 1 << SUBPIXEL_BITS
    fx = (fractions & (unit - 1)).astype(np.int64)
    fy = (fractions >> SUBPIXEL_BITS).astype(np.int64)
    x0, y0 = cells[..., 0].astype(np.int64), cells[..., 1].astype(np.int64)
    height, width = source.shape[:2]
    total = np.full(cells.shape[:2] + source.shape[2:], unit * unit // 2, dtype=np.int64)
    for dy, wy in ((0, unit - fy), (1, fy)):
        rows, rows_out = _border_index(y0 + dy, height, border)
        for dx, wx in ((0, unit - fx), (1, fx)):
            columns, columns_out = _border_index(x0 + dx, width, border)
            pixels = source[rows, columns].astype(np.int64)
            if rows_out is not None:
                pixels[rows_out | columns_out] = 0
            total += (wy * wx).reshape(wy.shape + (1,) * (source.ndim - 2)) * pixels
    return (total >> (2 * SUBPIXEL_BITS)).astype(np.uint8)


@cache
def remap_is_exact() -> bool:
    """Whether this OpenCV's cv2.remap (integer maps, INTER_LINEAR) gives :func:`bilinear_reference`
    bit for bit: every fraction, every border, neighbours inside and outside, and the long runs of
    inside pixels of a real crop. Checked once per process (~15 ms)."""
    rng = np.random.default_rng(38)
    source = rng.integers(0, 256, (23, 29, 3), dtype=np.uint8)
    source[:4] = 255  # full-scale values: where a weight table off by one would show
    size = 32
    cells = rng.integers(-3, 32, (size, size, 2)).astype(np.int16)
    fractions = rng.integers(0, 1 << (2 * SUBPIXEL_BITS), (size, size)).astype(np.uint16)
    fractions[:4] = 0  # exactly on a pixel: weight 1 on one neighbour
    # And a real crop's maps: long runs of inside pixels, which OpenCV samples with SIMD.
    crop_cells, crop_fractions = sampling_maps(np.array([[1.37, 0.29, -3.1], [-0.29, 1.37, 6.2]]), size)
    cells, fractions = np.vstack([cells, crop_cells]), np.vstack([fractions, crop_fractions])
    for border, code in BORDERS.items():
        fast = cv2.remap(source, cells, fractions, cv2.INTER_LINEAR, borderMode=code, borderValue=(0, 0, 0))
        if not np.array_equal(fast, bilinear_reference(source, cells, fractions, border)):
            logger.warning("cv2.remap of OpenCV %s does not give the exact bilinear crop (border %s); "
                           "cropping with numpy instead (slower, same pixels)", cv2.__version__, border)
            return False
    return True


def sample_bilinear(source: np.ndarray, cells: np.ndarray, fractions: np.ndarray, border: str) -> np.ndarray:
    """:func:`bilinear_reference`'s pixels, by cv2.remap when this OpenCV computes exactly that."""
    if remap_is_exact():
        return cv2.remap(source, cells, fractions, cv2.INTER_LINEAR, borderMode=BORDERS[border], borderValue=(0, 0, 0))
    return bilinear_reference(source, cells, fractions, border)


def _crop_footprint(matrix: np.ndarray, size: int) -> np.ndarray:
    """Corners of the output square in image coordinates."""
    inverse = np.array(invert_affine(matrix)).reshape(2, 3)
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
    image: np.ndarray,
    left_eye: np.ndarray,
    right_eye: np.ndarray,
    params: CropParams,
    *,
    nose: np.ndarray | None = None,
    mouth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the aligned face crop out of an RGB uint8 image (``nose``/``mouth``: method ``landmarks``).

    Returns the crop (``size`` x ``size`` x 3, uint8) and the 2x3 matrix from image to crop
    coordinates (use :func:`transform_points` to carry landmarks along).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    matrix = alignment_matrix(left_eye, right_eye, params, nose=nose, mouth=mouth)
    factor = reduction_factor(matrix)
    warp = matrix.copy()
    source = image
    origin = (0, 0)
    if factor > 1:
        # Reduce only the blocks the crop can sample (its square plus a margin), not the whole
        # frame: the result is identical because the region starts on a block boundary and the
        # sampling positions are computed in the whole reduced frame, then moved by whole pixels;
        # a 1080p frame no longer costs a full-frame filter for one face. Not for border "reflect",
        # which mirrors pixels from beyond the square's footprint.
        x0, y0 = _reduced_region_origin(matrix, params.size, factor, image.shape)
        h_full, w_full = image.shape[0] // factor * factor, image.shape[1] // factor * factor
        x1, y1 = _reduced_region_end(matrix, params.size, factor, (h_full, w_full))
        if x1 > x0 and y1 > y0 and params.border != "reflect":
            source = box_reduce(image[y0:y1, x0:x1], factor)
            origin = (x0 // factor, y0 // factor)
        else:  # the crop lies wholly outside the image (or reflects): reduce the whole frame
            source = box_reduce(image, factor)
        # Pixel centres of the reduced frame: x_full = factor * x_small + (factor - 1) / 2. Written
        # out, not as a matmul, so that the Android core's doubles round the same way.
        shift = (factor - 1) / 2.0
        warp[:, :2] = matrix[:, :2] * factor
        for row in range(2):
            warp[row, 2] = matrix[row, 2] + (matrix[row, 0] * shift + matrix[row, 1] * shift)
    cells, fractions = cached_sampling_maps(tuple(warp.ravel().tolist()), params.size, origin)
    crop = sample_bilinear(source, cells, fractions, params.border)
    return crop, matrix


@lru_cache(maxsize=16)
def cached_sampling_maps(
    warp: tuple[float, ...], size: int, origin: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sampling_maps` of a 2x3 matrix given as six floats, kept for the last 16 matrices.

    A tracked face is cut with the same keypoints frame after frame (edge/tracking.py), so its
    matrix repeats and the maps, 0.21 of the crop's 0.56 ms on one AVX2 core, need not be
    computed again. The arrays are read-only: every caller shares them."""
    cells, fractions = sampling_maps(np.array(warp, dtype=np.float64).reshape(2, 3), size, origin)
    cells.flags.writeable = False
    fractions.flags.writeable = False
    return cells, fractions


def points_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The four alignment points (:data:`ALIGN_POINT_NAMES`) of five dataset landmarks
    (:data:`LANDMARK_NAMES`): eyes and nose as they are, the mouth centre as the corners' midpoint."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    return np.vstack([pts[:3], pts[3:5].mean(axis=0, keepdims=True)])


def align_points(image: np.ndarray, points: np.ndarray, params: CropParams) -> tuple[np.ndarray, np.ndarray]:
    """:func:`align_face` from an (N, 2) array in :data:`ALIGN_POINT_NAMES` order (the face
    detector's keypoints 0-3 are in that order; extra rows are ignored). Method ``eyes`` needs two
    rows, ``landmarks`` four."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < params.num_points:
        raise ValueError(f"crop method {params.method!r} needs {params.num_points} points "
                         f"({', '.join(ALIGN_POINT_NAMES[:params.num_points])}), got {len(pts)}")
    extra = {"nose": pts[2], "mouth": pts[3]} if params.num_points == 4 else {}
    return align_face(image, pts[0], pts[1], params, **extra)
