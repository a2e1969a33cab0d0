"""The crop's pixels are defined by integer arithmetic, not by an OpenCV version: bit-exact against a plain
per-pixel implementation of that definition (issue 38: OpenCV 4.12 changed warpAffine's pixels, so a Pi with
4.11 and a laptop with 5.x cut different crops from the same face)."""

import math

import numpy as np
import pytest
from auedge.edge import align
from auedge.edge.align import CropParams, align_face, box_reduce, reduction_factor, resize_bilinear


def _inverse(m):
    det = m[0][0] * m[1][1] - m[0][1] * m[1][0]
    det = 1.0 / det
    a11, a22, a12, a21 = m[1][1] * det, m[0][0] * det, -m[0][1] * det, -m[1][0] * det
    return [a11, a12, -a11 * m[0][2] - a12 * m[1][2], a21, a22, -a21 * m[0][2] - a22 * m[1][2]]


def _neighbour(image, x, y, border):
    h, w = image.shape[:2]
    if border == "constant" and not (0 <= x < w and 0 <= y < h):
        return [0, 0, 0]
    if border == "reflect":
        def fold(i, n):
            while not 0 <= i < n:
                i = -i if i < 0 else 2 * n - 2 - i
            return i
        x, y = fold(x, w), fold(y, h)
    return [int(v) for v in image[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]]


def definition_crop(image, left, right, params):
    """The crop as its definition states it, one pixel at a time in Python integers: box-reduce the
    whole frame, invert the matrix, round it to 1/65536 and each position to 1/32 px, weight the four
    neighbours by products of the 1/32 fractions, round half up."""
    m = align.alignment_matrix(left, right, params)
    f = reduction_factor(m)
    warp = [list(map(float, m[0])), list(map(float, m[1]))]
    if f > 1:
        s = (f - 1) / 2.0
        for r in range(2):
            warp[r] = [m[r][0] * f, m[r][1] * f, m[r][2] + (m[r][0] * s + m[r][1] * s)]
    return _definition_sample(box_reduce(image, f), warp, params.size, params.size, params.border)


def _definition_sample(source, warp, width, height, border):
    a, b, c, d, e, g = (math.floor(v * 65536 + 0.5) for v in _inverse(warp))
    out = np.zeros((height, width, 3), np.uint8)
    for y in range(height):
        for x in range(width):
            qx, qy = (a * x + b * y + c + 1024) >> 11, (d * x + e * y + g + 1024) >> 11
            fx, fy = qx & 31, qy & 31
            total = [512, 512, 512]
            for dx, dy, weight in ((0, 0, (32 - fx) * (32 - fy)), (1, 0, fx * (32 - fy)),
                                   (0, 1, (32 - fx) * fy), (1, 1, fx * fy)):
                pixel = _neighbour(source, (qx >> 5) + dx, (qy >> 5) + dy, border)
                total = [t + weight * p for t, p in zip(total, pixel)]
            out[y, x] = [t >> 10 for t in total]
    return out


CASES = [  # (frame h, w, eye distance, border): inside, half outside, box-reduced by 2 and 3, tilted
    (120, 150, 38.0, "replicate"),
    (90, 100, 31.0, "constant"),
    (200, 260, 70.0, "reflect"),
    (400, 500, 190.0, "replicate"),
    (500, 640, 260.0, "constant"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_crop_is_bit_exact_against_its_definition(case):
    height, width, eye_distance, border = CASES[case]
    rng = np.random.default_rng(case)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[: height // 3] = 255  # full-scale values
    angle = rng.uniform(-0.5, 0.5)
    left = np.array([width * rng.uniform(-0.2, 0.6), height * rng.uniform(0.1, 0.6)])
    right = left + eye_distance * np.array([np.cos(angle), np.sin(angle)])
    params = CropParams(size=48, border=border)
    crop, matrix = align_face(image, left, right, params)
    if case >= 3:
        assert reduction_factor(matrix) > 1
    expected = definition_crop(image, left, right, params)
    differ = int(np.count_nonzero(crop != expected))
    assert differ == 0, f"{differ} of {crop.size} values differ from the definition"


def test_opencv_remap_is_exact_here_and_numpy_stands_in_when_it_is_not(monkeypatch):
    """This OpenCV passes the once-per-process check; were it not to, the numpy sampler cuts the same crop."""
    assert align.remap_is_exact()
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    params = CropParams(size=64)
    fast, _ = align_face(image, (120.3, 140.8), (171.9, 151.2), params)
    monkeypatch.setattr(align, "remap_is_exact", lambda: False)
    slow, _ = align_face(image, (120.3, 140.8), (171.9, 151.2), params)
    assert np.array_equal(fast, slow)


def test_positions_far_outside_are_clamped_without_changing_the_crop():
    """A crop whose square lies 30,000 px away: cells fit cv2.remap's int16 and hold the border colour."""
    image = np.full((50, 60, 3), 77, np.uint8)
    crop, _ = align_face(image, (30_000.0, 25.0), (30_010.0, 25.0), CropParams(size=16))
    assert np.all(crop == 77)
    crop, _ = align_face(image, (30_000.0, 25.0), (30_010.0, 25.0), CropParams(size=16, border="constant"))
    assert np.all(crop == 0)


@pytest.mark.parametrize("size", [(20, 15), (50, 41), (37, 29)])
def test_resize_is_bit_exact_against_its_definition(size):
    """The detector's letterbox resize: INTER_LINEAR's geometry, the crop's integer sampling."""
    image = np.random.default_rng(sum(size)).integers(0, 256, (29, 37, 3), dtype=np.uint8)
    width, height = size
    sx, sy = width / 37, height / 29
    warp = [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]]
    assert np.array_equal(resize_bilinear(image, width, height), _definition_sample(image, warp, width, height, "replicate"))


def test_the_detector_letterbox_uses_the_exact_resize():
    """A camera frame's letterbox: exact bilinear to 256x192, then the integer 2x box (no cv2.resize)."""
    from auedge.edge.face_detector import _downscale

    frame = np.random.default_rng(5).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert np.array_equal(_downscale(frame, 128, 96), box_reduce(resize_bilinear(frame, 256, 192), 2))


def test_halving_is_the_integer_box_mean_with_or_without_opencv(monkeypatch):
    from auedge.edge import align

    image = np.random.default_rng(6).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    fast = align.halve(image)
    monkeypatch.setattr(align, "_area_halving_is_exact", lambda: False)
    assert np.array_equal(fast, box_reduce(image, 2)) and np.array_equal(align.halve(image), fast)


def test_a_repeated_matrix_reuses_its_maps_and_cuts_the_same_crop():
    """A tracked face is cut with the same keypoints frame after frame: its maps come from the cache,
    the crop is the one fresh maps give, and nobody can change the shared maps."""
    import pytest
    from auedge.edge.align import CropParams, align_face, cached_sampling_maps, sample_bilinear, sampling_maps

    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, (2, 240, 320, 3), dtype=np.uint8)
    params = CropParams(size=64)
    left, right = np.array([140.3, 110.7]), np.array([180.9, 113.2])
    cached_sampling_maps.cache_clear()
    crops = [align_face(frame, left, right, params)[0] for frame in frames]
    info = cached_sampling_maps.cache_info()
    assert info.misses == 1 and info.hits == 1  # the second frame's crop did not compute its maps
    _, matrix = align_face(frames[1], left, right, params)
    cells, fractions = sampling_maps(matrix, params.size)
    np.testing.assert_array_equal(crops[1], sample_bilinear(frames[1], cells, fractions, params.border))
    shared, _ = cached_sampling_maps(tuple(matrix.ravel().tolist()), params.size, (0, 0))
    with pytest.raises(ValueError):
        shared[0, 0, 0] = 1
