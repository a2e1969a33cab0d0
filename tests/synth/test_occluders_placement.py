"""Occluders sit on the landmarks they are anchored to, jitter with the rng, and reject bad kinds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from auedge.edge.align import CropParams, align_face, transform_points
from auedge.train.occluders import (
    OCCLUDER_KINDS,
    apply_occluder,
    covered_regions,
    occluder_polygon,
    parse_occluder,
)

# A magenta canvas: no occluder colour matches it, so "covered" means "changed".
MAGENTA = (255, 0, 255)


def canonical_landmarks(size: int = 160, angle_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Landmarks of an average frontal face in the project's crop (eyes 0.5 eye distances above centre)."""
    d = size / CropParams().eye_scale * scale
    c = size / 2
    pts = np.array([[-0.5, -0.5], [0.5, -0.5], [0.0, 0.1], [-0.43, 0.54], [0.43, 0.54]]) * d
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + c


def canvas(size: int = 160) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = MAGENTA
    return image


def changed(before: np.ndarray, after: np.ndarray, point, radius: int = 1) -> bool:
    """Every pixel of the (2r+1)^2 patch at ``point`` changed."""
    x, y = np.round(point).astype(int)
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).sum(axis=2)
    return bool(np.all(diff[y - radius : y + radius + 1, x - radius : x + radius + 1] > 0))


def untouched(before: np.ndarray, after: np.ndarray, point, radius: int = 1) -> bool:
    x, y = np.round(point).astype(int)
    return bool(np.array_equal(after[y - radius : y + radius + 1, x - radius : x + radius + 1],
                               before[y - radius : y + radius + 1, x - radius : x + radius + 1]))


POSES = [(0.0, 1.0), (15.0, 1.0), (-12.0, 0.85), (5.0, 1.1)]
SEEDS = range(12)


def occluded(kind: str, angle: float, scale: float, seed: int, size: int = 160):
    lm = canonical_landmarks(size, angle, scale)
    image = canvas(size)
    return image, apply_occluder(image, lm, kind, np.random.default_rng(seed)), lm


def above_eyes(lm: np.ndarray, fraction: float) -> np.ndarray:
    """Points ``fraction`` eye distances above each eye, perpendicular to the eye line (brows)."""
    across = lm[1] - lm[0]
    up = np.array([across[1], -across[0]])  # perpendicular, pointing up in an upright face
    return lm[:2] + up * fraction


@pytest.mark.parametrize("angle,scale", POSES)
def test_occluders_mask_full_covers_mouth_and_nose_not_eyes(angle, scale):
    for seed in SEEDS:
        before, after, lm = occluded("mask-full", angle, scale, seed)
        assert all(changed(before, after, p) for p in lm[2:]), seed
        assert all(untouched(before, after, p) for p in lm[:2]), seed


@pytest.mark.parametrize("angle,scale", POSES)
def test_occluders_mask_half_covers_mouth_stops_under_the_nose(angle, scale):
    for seed in SEEDS:
        before, after, lm = occluded("mask-half", angle, scale, seed)
        assert changed(before, after, lm[3]) and changed(before, after, lm[4]), seed
        assert untouched(before, after, lm[2], radius=0) and untouched(before, after, lm[0]), seed


@pytest.mark.parametrize("angle,scale", POSES)
def test_occluders_mask_small_covers_mouth_corners_not_nose(angle, scale):
    for seed in SEEDS:
        before, after, lm = occluded("mask-small", angle, scale, seed)
        assert changed(before, after, lm[3]) and changed(before, after, lm[4]), seed
        assert untouched(before, after, lm[2]), seed


@pytest.mark.parametrize("angle,scale", POSES)
def test_occluders_glasses_big_cover_eyes_and_brows_not_mouth(angle, scale):
    for seed in SEEDS:
        before, after, lm = occluded("glasses-big", angle, scale, seed)
        assert changed(before, after, lm[0]) and changed(before, after, lm[1]), seed
        assert all(changed(before, after, p) for p in above_eyes(lm, 0.3)), seed
        assert all(untouched(before, after, p) for p in lm[2:]), seed


@pytest.mark.parametrize("angle,scale", POSES)
def test_occluders_eyehole_leaves_eyes_visible_covers_around(angle, scale):
    for seed in SEEDS:
        before, after, lm = occluded("glasses-eyehole", angle, scale, seed)
        assert untouched(before, after, lm[0], radius=2) and untouched(before, after, lm[1], radius=2), seed
        assert all(changed(before, after, p) for p in above_eyes(lm, 0.3)), seed  # brows hidden
        outer = lm[:2] + (lm[:2] - lm[:2].mean(axis=0)) * 0.7  # beside each eye, towards the temple
        assert all(changed(before, after, p) for p in outer), seed
        assert all(untouched(before, after, p) for p in lm[2:]), seed


def test_occluders_polygons_contain_the_anchors():
    lm = canonical_landmarks()
    rng = np.random.default_rng(0)
    inside = lambda shape, p: any(
        cv2.pointPolygonTest(poly.astype(np.float32), tuple(map(float, p)), False) >= 0 for poly in shape.polygons
    )
    full = occluder_polygon(lm, "mask-full", rng)
    assert inside(full, lm[2]) and inside(full, lm[3]) and not inside(full, lm[0])
    eyehole = occluder_polygon(lm, "glasses-eyehole", rng)
    assert inside(eyehole, lm[0]) and eyehole.holes  # the lens covers the eye, a hole gives it back
    assert any(cv2.pointPolygonTest(h.astype(np.float32), tuple(map(float, lm[0])), False) > 0 for h in eyehole.holes)


def test_occluders_follow_the_landmarks_on_real_looking_crops():
    """On a synthetic photo aligned like training data, the mask lands on the mouth of that face."""
    from auedge.train.data.synthetic import generate

    faces = generate(3, seed=1)
    for image, lm in zip(faces.images, faces.landmarks):
        crop, matrix = align_face(image, lm[0], lm[1], CropParams())
        crop_lm = transform_points(lm, matrix)
        out = apply_occluder(crop, crop_lm, "mask-small", np.random.default_rng(3))
        assert changed(crop, out, crop_lm[3]) and changed(crop, out, crop_lm[4])
        assert untouched(crop, out, crop_lm[0])


@pytest.mark.parametrize("size", [64, 320])
def test_occluders_work_on_any_crop_size(size):
    for kind in OCCLUDER_KINDS:
        lm = canonical_landmarks(size)
        before = canvas(size)
        after = apply_occluder(before, lm, kind, np.random.default_rng(1))
        assert after.shape == before.shape and after.dtype == np.uint8
        assert not np.array_equal(after, before)


@pytest.mark.parametrize("kind", OCCLUDER_KINDS)
def test_occluders_deterministic_per_rng_and_jittered_between_seeds(kind):
    lm = canonical_landmarks()
    base = canvas()
    a = apply_occluder(base, lm, kind, np.random.default_rng(7))
    b = apply_occluder(base, lm, kind, np.random.default_rng(7))
    c = apply_occluder(base, lm, kind, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # The geometry itself moves, not only the colour.
    p7 = occluder_polygon(lm, kind, np.random.default_rng(7)).polygons[0]
    p8 = occluder_polygon(lm, kind, np.random.default_rng(8)).polygons[0]
    assert np.abs(p7 - p8).max() > 0.5
    assert np.array_equal(base, canvas())  # the input is never modified


def test_occluders_none_copies_and_mix_draws_every_kind():
    lm = canonical_landmarks()
    base = canvas()
    copy = apply_occluder(base, lm, "none", np.random.default_rng(0))
    assert copy is not base and np.array_equal(copy, base)
    outcomes = set()
    for seed in range(60):
        out = apply_occluder(base, lm, "mix", np.random.default_rng(seed))
        mouth, eye = changed(base, out, lm[3]), changed(base, out, lm[0])
        outcomes.add((mouth, eye))
    assert outcomes == {(False, False), (True, False), (False, True)}


def test_occluders_parse_and_covered_regions():
    assert parse_occluder(None) == "none" and parse_occluder("") == "none"
    assert parse_occluder(" Mask-Full ") == "mask-full" and parse_occluder("mix") == "mix"
    with pytest.raises(ValueError, match="allowed values: none, mask-full.*mix"):
        parse_occluder("balaclava")
    with pytest.raises(ValueError):
        apply_occluder(canvas(), canonical_landmarks(), "scarf", np.random.default_rng(0))
    with pytest.raises(ValueError):
        occluder_polygon(canonical_landmarks(), "mix", np.random.default_rng(0))
    assert covered_regions("mask-half") == {"mouth"}
    assert covered_regions("glasses-big") == {"eyes", "brows"}
    assert covered_regions("glasses-eyehole") == {"brows"}
    assert covered_regions("none") == frozenset()
    with pytest.raises(ValueError):
        covered_regions("mix")


def test_occluders_reject_bad_images_and_landmarks():
    with pytest.raises(ValueError):
        apply_occluder(np.zeros((10, 10), np.uint8), canonical_landmarks(), "mask-full", np.random.default_rng(0))
    same = np.tile([[80.0, 60.0]], (5, 1))
    with pytest.raises(ValueError):
        occluder_polygon(same, "mask-full", np.random.default_rng(0))
