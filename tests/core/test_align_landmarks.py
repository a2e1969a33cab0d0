"""Crop method "landmarks": a least-squares similarity of eyes, nose and mouth to a frontal template."""

import json

import numpy as np
import pytest
from auedge.edge.align import (
    LANDMARK_TEMPLATE,
    CropParams,
    align_face,
    align_points,
    alignment_matrix,
    points_from_landmarks,
    transform_points,
)

EYES = CropParams(size=160, eye_scale=2.4, center_below_eyes=0.5)
MARKS = CropParams(size=160, eye_scale=2.4, center_below_eyes=0.5, method="landmarks")


def face_on_template(eye_distance: float, angle_deg: float, origin: tuple[float, float]) -> np.ndarray:
    """The template's four points placed in an image by a known similarity."""
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.asarray(LANDMARK_TEMPLATE) * eye_distance @ rot.T + np.asarray(origin)


def matrix_of(points: np.ndarray, params: CropParams) -> np.ndarray:
    return alignment_matrix(points[0], points[1], params, nose=points[2], mouth=points[3])


@pytest.mark.parametrize("angle", [0.0, 17.0, -40.0])
def test_a_face_shaped_like_the_template_gets_exactly_the_eye_crop(angle):
    pts = face_on_template(57.0, angle, (240.0, 180.0))
    assert np.allclose(matrix_of(pts, MARKS), alignment_matrix(pts[0], pts[1], EYES), atol=1e-9)


def test_the_fit_lands_a_frontal_face_on_the_template_in_crop_pixels():
    pts = face_on_template(40.0, 25.0, (100.0, 90.0))
    got = transform_points(pts, matrix_of(pts, MARKS))
    want = 80.0 + (np.asarray(LANDMARK_TEMPLATE) - [0.0, 0.5]) * (160 / 2.4)
    assert np.allclose(got, want, atol=1e-9)


def test_a_turned_head_is_not_zoomed_in():
    # Yaw shrinks the horizontal spread (projected eye distance 0.65 of frontal) but not the height.
    frontal = face_on_template(50.0, 0.0, (200.0, 200.0))
    turned = frontal.copy()
    turned[:, 0] = 200.0 + (frontal[:, 0] - 200.0) * 0.65
    eye_height = {}
    for name, params in (("eyes", EYES), ("landmarks", MARKS)):
        crop_pts = transform_points(turned, matrix_of(turned, params))
        eye_height[name] = crop_pts[3, 1] - crop_pts[:2, 1].mean()  # eyes-to-mouth, crop pixels
    frontal_height = 1.07 * 160 / 2.4
    # The eye crop scales by the shrunken eye distance: the face grows to 1/0.65 of its frontal size.
    assert eye_height["eyes"] == pytest.approx(frontal_height / 0.65, rel=1e-6)
    assert abs(eye_height["landmarks"] - frontal_height) < 0.25 * frontal_height
    assert eye_height["landmarks"] < eye_height["eyes"] * 0.8


def test_the_fit_keeps_upright_faces_upright_and_never_mirrors():
    pts = face_on_template(50.0, 0.0, (200.0, 200.0))
    m = matrix_of(pts, MARKS)
    assert m[0, 0] > 0 and abs(m[0, 1]) < 1e-12 and np.linalg.det(m[:, :2]) > 0
    mirrored = pts.copy()
    mirrored[:, 0] = 400.0 - mirrored[:, 0]
    assert np.linalg.det(matrix_of(mirrored, MARKS)[:, :2]) > 0  # a rotation, never a reflection


def test_crop_pixels_follow_the_fit():
    img = np.zeros((300, 300, 3), np.uint8)
    pts = face_on_template(60.0, 10.0, (150.0, 120.0))
    nx, ny = np.round(pts[2]).astype(int)
    img[ny - 4 : ny + 5, nx - 4 : nx + 5] = 255  # a white square on the nose
    crop, m = align_points(img, pts, MARKS)
    cx, cy = np.round(transform_points(pts[2:3], m)[0]).astype(int)
    assert crop[cy, cx].min() > 200
    assert crop[5, 5].max() == 0


def test_points_from_five_landmarks_take_the_mouth_corner_midpoint():
    five = np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 34]], float)
    assert np.allclose(points_from_landmarks(five), [[10, 10], [30, 10], [20, 20], [20, 32]])


def test_missing_points_are_refused_with_what_is_needed():
    pts = face_on_template(50.0, 0.0, (200.0, 200.0))
    with pytest.raises(ValueError, match="needs the nose and mouth"):
        alignment_matrix(pts[0], pts[1], MARKS)
    with pytest.raises(ValueError, match="needs 4 points"):
        align_points(np.zeros((64, 64, 3), np.uint8), pts[:2], MARKS)
    crop, _ = align_points(np.zeros((64, 64, 3), np.uint8), pts[:2], CropParams(size=32))  # eyes need two
    assert crop.shape == (32, 32, 3)


def test_degenerate_points_are_refused():
    same = np.full((4, 2), 7.0)
    with pytest.raises(ValueError, match="coincide"):
        matrix_of(same, MARKS)
    bad = face_on_template(50.0, 0.0, (200.0, 200.0))
    bad[2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        matrix_of(bad, MARKS)


@pytest.mark.parametrize(
    "template, message",
    [([[0, 0], [1, 0], [0, 1]], "4 finite"), ([[0, 0]] * 4, "coincide"), ([[0, 0], [1, 0], [0, 1], [0, float("nan")]], "4 finite"),
     ("abc", "pairs")],
)
def test_bad_templates_are_refused(template, message):
    with pytest.raises(ValueError, match=message):
        CropParams(method="landmarks", template=template)


def test_eye_crops_take_no_template_and_unknown_methods_are_named():
    with pytest.raises(ValueError, match="takes no template"):
        CropParams(template=LANDMARK_TEMPLATE)
    with pytest.raises(ValueError, match="eyes, landmarks"):
        CropParams(method="mesh")


def test_bundle_entry_round_trips_through_json():
    entry = json.loads(json.dumps(MARKS.to_dict()))
    assert entry["method"] == "landmarks" and entry["template"] == [list(p) for p in LANDMARK_TEMPLATE]
    assert CropParams.from_dict(entry) == MARKS
    custom = CropParams(method="landmarks", template=[[-0.5, 0], [0.5, 0], [0, 0.7], [0, 1.2]])
    assert CropParams.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom
    assert "template" not in EYES.to_dict()  # eye bundles keep the entry older readers know


def test_align_face_with_eyes_ignores_extra_points():
    img = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    a, _ = align_face(img, (40, 50), (80, 50), CropParams(size=48))
    b, _ = align_face(img, (40, 50), (80, 50), CropParams(size=48), nose=(60, 70), mouth=(60, 90))
    assert np.array_equal(a, b)
