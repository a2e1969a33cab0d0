"""The one crop: geometry checked against hand-computed positions."""

import numpy as np
import pytest
from auedge.edge.align import CropParams, align_face, alignment_matrix, transform_points


def test_level_eyes_land_at_the_designed_positions():
    params = CropParams(size=160, eye_scale=2.4, center_below_eyes=0.5)
    m = alignment_matrix((100, 100), (150, 100), params)
    eyes = transform_points([(100, 100), (150, 100)], m)
    # side = 2.4 * 50 = 120 px -> scale 160/120; eyes 0.5 * 50 = 25 px above centre -> 33.3 px in the crop.
    assert eyes[0] == pytest.approx([80 - 25 * 160 / 120, 80 - 25 * 160 / 120])
    assert eyes[1] == pytest.approx([80 + 25 * 160 / 120, 80 - 25 * 160 / 120])


def test_tilted_eyes_are_levelled():
    params = CropParams(size=100)
    left, right = np.array([50.0, 80.0]), np.array([90.0, 110.0])  # 36.9 degrees tilt
    eyes = transform_points([left, right], alignment_matrix(left, right, params))
    assert eyes[0][1] == pytest.approx(eyes[1][1])
    assert eyes[1][0] - eyes[0][0] == pytest.approx(100 / 2.4)


def test_crop_samples_the_right_pixels():
    img = np.zeros((200, 200, 3), np.uint8)
    img[95:106, 95:106] = 255  # a white square at the left eye
    crop, m = align_face(img, (100, 100), (140, 100), CropParams(size=96))
    ex, ey = transform_points([(100, 100)], m)[0]
    assert crop[round(ey), round(ex)].min() > 200
    assert crop[90, 90].max() == 0


def test_large_faces_are_box_reduced_before_warping():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1200, 1200, 3), dtype=np.uint8)  # pure noise aliases badly without a filter
    crop, _ = align_face(img, (300, 500), (900, 500), CropParams(size=64))
    # A 1440 px square into 64 px: the box filter averages noise to near-grey.
    assert crop.std() < 25


def test_bad_inputs_raise_clear_errors():
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="too close"):
        align_face(img, (10, 10), (10, 10), CropParams())
    with pytest.raises(ValueError, match="RGB uint8"):
        align_face(np.zeros((50, 50), np.uint8), (10, 10), (30, 10), CropParams())
    with pytest.raises(ValueError, match="border"):
        CropParams(border="wrap")
    with pytest.raises(ValueError, match="unknown crop parameters"):
        CropParams.from_dict({"size": 160, "zoom": 2})


def full_frame_reference(img, left, right, params):
    """The straightforward definition: box-reduce the whole frame, then sample it."""
    from auedge.edge.align import box_reduce, reduction_factor, sample_bilinear, sampling_maps

    m = alignment_matrix(left, right, params)
    f = reduction_factor(m)
    warp = m.copy()
    warp[:, :2] = m[:, :2] * f
    for row in range(2):
        warp[row, 2] = m[row, 2] + (m[row, 0] * (f - 1) / 2.0 + m[row, 1] * (f - 1) / 2.0)
    cells, fractions = sampling_maps(warp, params.size)
    return sample_bilinear(box_reduce(img, f), cells, fractions, params.border), f


@pytest.mark.parametrize("seed", range(12))
def test_region_reduction_equals_full_frame_reduction(seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (1081, 1923, 3), dtype=np.uint8)
    eye_distance = rng.uniform(200, 500)
    # Faces anywhere, including half outside the frame.
    left = rng.uniform([-200, -200], [1900, 1000])
    angle = rng.uniform(-0.6, 0.6)
    right = left + eye_distance * np.array([np.cos(angle), np.sin(angle)])
    params = CropParams(size=int(rng.choice([64, 96, 160])), border=str(rng.choice(["replicate", "constant", "reflect"])))
    expected, _ = full_frame_reference(img, left, right, params)
    crop, _ = align_face(img, left, right, params)
    # Sampling positions are computed in the whole reduced frame and moved by whole pixels: identical.
    assert np.array_equal(crop, expected)


def test_box_reduce_is_the_rounded_block_mean():
    from auedge.edge.align import box_reduce

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    for f in (2, 3, 4):
        h, w = 37 // f * f, 50 // f * f
        sums = img[:h, :w].astype(np.int64).reshape(h // f, f, w // f, f, 3).sum(axis=(1, 3))
        expected = (2 * sums + f * f) // (2 * f * f)  # floor(mean + 1/2), in integers
        assert np.array_equal(box_reduce(img, f), expected)
