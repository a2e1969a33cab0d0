"""BlazeFace decoding: anchors, box/keypoint decoding, weighted NMS, letterbox mapping, real faces."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.edge.backends import Backend, TensorInfo
from auedge.edge.face_detector import (
    ANCHOR_SPECS,
    KEYPOINT_GRID,
    FaceDetector,
    FaceDetectorOptions,
    decode_raw,
    generate_anchors,
    snap_keypoints,
    weighted_nms,
)
from auedge.edge.images_io import read_image_rgb
from edge_runtime_helpers import detector_file, mtfl_rows


def test_short_range_anchors():
    anchors = generate_anchors(ANCHOR_SPECS["short_range"])
    assert anchors.shape == (896, 2)
    # Stride 8: 16x16 cells, two anchors each; then stride 16: 8x8 cells, six anchors each.
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])  # x moves first (row-major)
    np.testing.assert_allclose(anchors[32], [0.5 / 16, 1.5 / 16])
    np.testing.assert_allclose(anchors[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(anchors[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(anchors[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors():
    anchors = generate_anchors(ANCHOR_SPECS["full_range"])
    assert anchors.shape == (2304, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[1], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[-1], [47.5 / 48, 47.5 / 48])


def test_decode_raw_offsets_are_in_input_pixels():
    anchors = np.array([[0.25, 0.5]], dtype=np.float32)
    raw = np.zeros((1, 16), dtype=np.float32)
    raw[0, :4] = [12.8, -6.4, 32.0, 64.0]  # centre offset (px), width, height at input size 128
    raw[0, 4:6] = [-12.8, 0.0]  # first keypoint 0.1 left of the anchor
    boxes, keypoints = decode_raw(raw, anchors, 128)
    centre = np.array([0.25 + 0.1, 0.5 - 0.05])
    np.testing.assert_allclose(boxes[0], [centre[0] - 0.125, centre[1] - 0.25, centre[0] + 0.125, centre[1] + 0.25],
                               atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [0.15, 0.5], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 1:], np.tile(anchors[0], (5, 1)), atol=1e-6)


def test_weighted_nms_blends_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], dtype=np.float32)
    keypoints = np.zeros((3, 6, 2), dtype=np.float32)
    keypoints[1] += 1.0
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    kept = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3, max_out=10)
    assert len(kept) == 2
    box, kps, score = kept[0]
    assert score == pytest.approx(0.9)  # the best member's score, the blend of the boxes
    np.testing.assert_allclose(box, (0.9 * boxes[1] + 0.6 * boxes[0]) / 1.5, atol=1e-6)
    np.testing.assert_allclose(kps, np.full((6, 2), 0.9 / 1.5), atol=1e-6)
    np.testing.assert_allclose(kept[1][0], boxes[2])
    assert len(weighted_nms(boxes, keypoints, scores, 0.3, max_out=1)) == 1


class ScriptedBackend(Backend):
    """Returns fixed BlazeFace tensors; records what it was fed."""

    name = "scripted"

    def __init__(self, regressors: np.ndarray, logits: np.ndarray) -> None:  # no model file
        self.model_path, self.num_threads = "scripted.tflite", 1
        self._outputs = [logits[None, :, None].astype(np.float32), regressors[None].astype(np.float32)]
        self.fed: np.ndarray | None = None

    @property
    def input_details(self):
        return [TensorInfo("input", (1, 128, 128, 3), np.dtype(np.float32))]

    @property
    def output_details(self):  # scores first: the detector must find outputs by shape, not order
        return [TensorInfo("scores", (1, 896, 1), np.dtype(np.float32)),
                TensorInfo("boxes", (1, 896, 16), np.dtype(np.float32))]

    def run(self, array):
        self.fed = array.copy()
        return self._outputs


def test_detect_maps_back_through_the_letterbox():
    anchors = generate_anchors(ANCHOR_SPECS["short_range"]) * 128
    regressors = np.zeros((896, 16), dtype=np.float32)
    logits = np.full(896, -10.0, dtype=np.float32)
    first = 272  # stride-8 cell (8, 8): anchor centre (68, 68) input px
    assert np.allclose(anchors[first], [68, 68])
    regressors[first, :4] = [-4.0, -4.0, 40.0, 40.0]  # box centre (64, 64), 40 px square
    regressors[first, 4:6] = [-10.0, -8.0]  # right eye (image-left) at (58, 60)
    regressors[first, 6:8] = [10.0, -8.0]
    logits[first] = 200.0  # clipped to 100 before the sigmoid: score 1.0, no overflow
    second = 512 + (2 * 8 + 6) * 6  # stride-16 cell (6, 2): anchor centre (104, 40)
    assert np.allclose(anchors[second], [104, 40])
    regressors[second, 2:4] = [20.0, 20.0]
    logits[second] = 0.0  # score exactly 0.5: kept at threshold 0.5
    backend = ScriptedBackend(regressors, logits)
    detector = FaceDetector(FaceDetectorOptions(model_path="scripted.tflite"), backend)

    image = np.full((480, 640, 3), 255, dtype=np.uint8)
    faces = detector.detect(image)
    # 640x480 -> 128x96, padded 16 rows top and bottom; input px -> image px: (x / 0.2, (y - 16) / 0.2).
    assert len(faces) == 2
    assert faces[0].score == pytest.approx(1.0)
    np.testing.assert_allclose(faces[0].box, [(64 - 20) / 0.2, (64 - 20 - 16) / 0.2, 200.0, 200.0], atol=1e-3)
    np.testing.assert_allclose(faces[0].image_left_eye, [58 / 0.2, (60 - 16) / 0.2], atol=1e-3)
    np.testing.assert_allclose(faces[0].image_right_eye, [78 / 0.2, (60 - 16) / 0.2], atol=1e-3)
    assert faces[1].score == pytest.approx(0.5)
    np.testing.assert_allclose(faces[1].box, [(104 - 10) / 0.2, (40 - 10 - 16) / 0.2, 100.0, 100.0], atol=1e-3)
    # The letterbox: white image -> 1.0, padding -> -1.0 (black), in the [-1, 1] input range.
    fed = backend.fed[0]
    assert fed[:16].max() == -1.0 and fed[-16:].max() == -1.0 and fed[16:112].min() == 1.0


def test_keypoints_are_snapped_so_kernel_jitter_does_not_move_the_crop():
    """Two CPUs' detector outputs a few 1e-5 px apart give the same keypoints, hence the same crop."""
    assert KEYPOINT_GRID == 8
    np.testing.assert_array_equal(snap_keypoints([[10.0624, -3.0626], [10.0625, 7.93749]]), [[10.0, -3.125], [10.125, 7.875]])
    regressors = np.zeros((896, 16), dtype=np.float32)
    logits = np.full(896, -10.0, dtype=np.float32)
    regressors[272, :4] = [-4.0, -4.0, 40.0, 40.0]
    regressors[272, 4:8] = [-10.123, -8.377, 10.219, -7.941]
    logits[272] = 5.0
    found = []
    for jitter in (0.0, 1.5e-5, -1.5e-5):  # input px: 7.5e-5 image px at 640x480
        backend = ScriptedBackend(regressors + np.float32(jitter), logits)
        found.append(FaceDetector(FaceDetectorOptions(model_path="scripted.tflite"), backend).detect(
            np.full((480, 640, 3), 90, dtype=np.uint8))[0].keypoints)
    assert np.all(found[0] * KEYPOINT_GRID == np.round(found[0] * KEYPOINT_GRID))
    np.testing.assert_array_equal(found[0], found[1])
    np.testing.assert_array_equal(found[0], found[2])


def test_detect_rejects_non_rgb_uint8():
    backend = ScriptedBackend(np.zeros((896, 16)), np.full(896, -10.0))
    detector = FaceDetector(FaceDetectorOptions(model_path="scripted.tflite"), backend)
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), dtype=np.uint8))
    assert detector.detect(np.zeros((100, 60, 3), dtype=np.uint8)) == []


def test_kind_must_match_the_model_file():
    with pytest.raises(Exception, match="full_range BlazeFace takes"):
        FaceDetector.create_from_options(FaceDetectorOptions(detector_file(), kind="full_range"))
    with pytest.raises(ValueError, match="kind"):
        FaceDetectorOptions("x.tflite", kind="long_range")


def test_blank_image_has_no_face():
    detector = FaceDetector.create_from_options(FaceDetectorOptions(detector_file()))
    assert detector.detect(np.full((480, 640, 3), 128, dtype=np.uint8)) == []


def _frontal_sample(mtfl_dir, count):
    rows = [r for r in mtfl_rows(mtfl_dir) if r["pose"] == "3"]
    picks = np.random.default_rng(0).choice(len(rows), size=count, replace=False)
    return [rows[i] for i in sorted(picks)]


def _eye_error(detections, row):
    """Worst-eye error over eye distance of the detection closest to the labelled face."""
    left = np.array([float(row["leye_x"]), float(row["leye_y"])])
    right = np.array([float(row["reye_x"]), float(row["reye_y"])])
    distance = np.linalg.norm(right - left)
    errors = [
        max(np.linalg.norm(d.image_left_eye - left), np.linalg.norm(d.image_right_eye - right)) / distance
        for d in detections
    ]
    return min(errors, default=np.inf)


@pytest.mark.realdata
def test_eye_keypoints_match_mtfl_landmarks(mtfl_dir):
    """Keypoint 0 is the image-left eye, and the eyes land on the labelled ones."""
    detector = FaceDetector.create_from_options(FaceDetectorOptions(detector_file()))
    rows = _frontal_sample(mtfl_dir, 200)
    errors = np.array([_eye_error(detector.detect(read_image_rgb(mtfl_dir / r["path"])), r) for r in rows])
    hit_rate = float(np.mean(errors < 0.25))
    assert hit_rate >= 0.95, f"only {hit_rate:.1%} of 200 faces have both eyes within 0.25 eye distance"


@pytest.mark.realdata
def test_full_range_model_decodes_too(mtfl_dir):
    path = detector_file("face_detection_full_range.tflite")
    detector = FaceDetector.create_from_options(FaceDetectorOptions(path, kind="full_range"))
    rows = _frontal_sample(mtfl_dir, 40)
    errors = np.array([_eye_error(detector.detect(read_image_rgb(mtfl_dir / r["path"])), r) for r in rows])
    assert np.mean(errors < 0.25) >= 0.85


def test_region_search_maps_back_to_frame_pixels():
    anchors = generate_anchors(ANCHOR_SPECS["short_range"]) * 128
    regressors = np.zeros((896, 16), dtype=np.float32)
    logits = np.full(896, -10.0, dtype=np.float32)
    first = 272  # anchor centre (68, 68) input px
    assert np.allclose(anchors[first], [68, 68])
    regressors[first, :4] = [-4.0, -4.0, 40.0, 40.0]
    regressors[first, 4:6] = [-10.0, -8.0]
    logits[first] = 50.0
    backend = ScriptedBackend(regressors, logits)
    detector = FaceDetector(FaceDetectorOptions(model_path="scripted.tflite"), backend)
    frame = np.full((480, 640, 3), 255, dtype=np.uint8)
    frame[120:280, 160:320] = 7  # the region below: x 160-320, y 120-280 (160 x 160 px)

    faces = detector.detect(frame, region=(0.25, 0.25, 0.25, 1 / 3))
    # Only the region reaches the model: 160x160 -> 128x128 (scale 0.8), no letterbox padding.
    assert np.all(backend.fed[-1] == np.float32(7 / 127.5 - 1.0))
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].box, [160 + 44 / 0.8, 120 + 44 / 0.8, 50.0, 50.0], atol=1e-3)
    np.testing.assert_allclose(faces[0].image_left_eye, [160 + 58 / 0.8, 120 + 60 / 0.8], atol=1e-3)


@pytest.mark.parametrize("region", [(0.5, 0.0, 0.6, 0.5), (0.0, 0.0, 0.0, 1.0), (1.0, 0.0, 0.1, 0.1), (0.1, 0.2, 0.3)])
def test_regions_outside_the_frame_are_refused(region):
    from auedge.edge.face_detector import check_region

    with pytest.raises(ValueError, match="region"):
        check_region(region)


def test_parse_region_reads_config_text():
    from auedge.edge.face_detector import parse_region

    assert parse_region("") is None
    assert parse_region("0.25, 0.1, 0.5, 0.6") == (0.25, 0.1, 0.5, 0.6)
    with pytest.raises(ValueError, match="e.g. 0.25,0.1,0.5,0.6"):
        parse_region("left half")


def test_region_finds_a_face_too_small_for_the_whole_frame():
    """A face with eyes 18 px apart in 640x480 (about 2 m from a 60-degree camera): BlazeFace short
    range misses it in the whole frame and finds it in the central third."""
    import cv2
    from auedge.train.data import synthetic

    made = synthetic.generate(1, seed=5, image_size=320)
    image, landmarks = made.images[0], made.landmarks[0]
    scale = 18.0 / float(np.hypot(*(landmarks[1] - landmarks[0])))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 118, dtype=np.uint8)
    y0, x0 = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    eyes = landmarks[:2] * scale + (x0, y0)

    detector = FaceDetector.create_from_options(FaceDetectorOptions(detector_file()))
    assert detector.detect(frame) == []
    faces = detector.detect(frame, region=(1 / 3, 1 / 3, 1 / 3, 1 / 3))
    assert len(faces) == 1
    assert np.abs(faces[0].keypoints[:2] - eyes).max() < 0.5 * 18
