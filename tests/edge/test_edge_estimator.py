"""Estimator end to end on a hand-made bundle: tiny ONNX AU model + the real BlazeFace file."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from auedge.edge.align import align_face
from auedge.edge.bundle import BundleError
from auedge.edge.estimator import Estimator, EstimatorOptions
from auedge.edge.images_io import read_image_rgb
from edge_runtime_helpers import detector_file, expected_aus, mtfl_rows, run_blocked, write_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("bundle"), detector_file())


@pytest.fixture(scope="module")
def estimator(bundle_dir):
    return Estimator.from_bundle(bundle_dir, model="onnx-fp32")


def _crops():
    rng = np.random.default_rng(1)
    uniform = [np.full((160, 160, 3), v, dtype=np.uint8) for v in (0, 100, 255)]
    return np.stack(uniform + [rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)])


def test_default_model_is_the_bundles_default(bundle_dir):
    est = Estimator.create_from_options(EstimatorOptions(bundle_path=bundle_dir))
    assert est.model.name == "onnx-int8" and est.backend.name == "onnxruntime"
    assert est.detector is not None and est.detector.backend.name == "litert"
    assert est.au_names == ["AU12", "AU4"]


def test_aligned_crops_give_the_models_values(estimator):
    crops = _crops()
    values = estimator.estimate_aligned(crops)
    assert values.shape == (4, 2)
    np.testing.assert_allclose(values, [expected_aus(c) for c in crops], atol=1e-5)
    np.testing.assert_allclose(estimator.estimate_aligned(crops[0]), values[:1])  # one crop, no batch axis
    assert estimator.estimate_aligned(crops[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match="uint8 crops"):
        estimator.estimate_aligned(np.zeros((1, 128, 128, 3), dtype=np.uint8))


def test_int8_model_is_quantized_and_dequantized(bundle_dir):
    est = Estimator.from_bundle(bundle_dir, model="onnx-int8")
    crops = _crops()
    values = est.estimate_aligned(crops)
    # Input steps of 2/255 and output steps of 1/256: within a couple of output steps of float.
    np.testing.assert_allclose(values, [expected_aus(c) for c in crops], atol=3 / 256)
    assert np.all(np.abs(values * 256 - np.round(values * 256)) < 1e-4)  # on the int8 output grid


def test_flip_average_runs_the_mirror(bundle_dir):
    est = Estimator.from_bundle(bundle_dir, model="onnx-fp32", flip_average=True)
    crops = _crops()
    np.testing.assert_allclose(est.estimate_aligned(crops), [expected_aus(c) for c in crops], atol=1e-5)


def test_blank_image_has_no_faces(estimator):
    result = estimator.estimate(np.full((480, 640, 3), 200, dtype=np.uint8))
    assert result.faces == []
    assert result.image_size == (640, 480)
    assert set(result.timings_ms) == {"detect", "align", "au_model", "total"}


def test_known_landmarks_skip_the_detector(estimator):
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    image[:, :160, 0] = 255  # red on the left half only
    left, right = np.array([60.0, 100.0]), np.array([100.0, 100.0])
    face = estimator.estimate_with_landmarks(image, left, right)
    crop, _ = align_face(image, left, right, estimator.bundle.crop)
    expected = expected_aus(crop)
    assert face.aus == pytest.approx({"AU12": expected[0], "AU4": expected[1]}, abs=1e-5)
    assert face.present == {"AU12": bool(expected[0] >= 0.5), "AU4": bool(expected[1] >= 0.5)}
    # The crop square: side 2.4 * 40 = 96 px, centred 20 px below the eye midpoint (80, 100).
    np.testing.assert_allclose(face.box, [80 - 48, 120 - 48, 96, 96], atol=1e-6)
    assert face.keypoints == [(60.0, 100.0), (100.0, 100.0)]


@pytest.mark.realdata
def test_real_face_end_to_end(estimator, mtfl_dir):
    row = next(r for r in mtfl_rows(mtfl_dir) if r["source"] == "lfw_5590" and r["pose"] == "3")
    image = read_image_rgb(mtfl_dir / row["path"])
    result = estimator.estimate(image)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.score >= 0.5 and len(face.keypoints) == 6
    x, y, w, h = face.box
    nose = (float(row["nose_x"]), float(row["nose_y"]))
    assert x < nose[0] < x + w and y < nose[1] < y + h
    # Same values as aligning with the detector's eyes by hand (kp0 = image-left eye).
    crop, _ = align_face(image, np.array(face.keypoints[0]), np.array(face.keypoints[1]), estimator.bundle.crop)
    assert face.keypoints[0][0] < face.keypoints[1][0]
    np.testing.assert_allclose(list(face.aus.values()), expected_aus(crop), atol=1e-5)
    assert set(face.timings_ms) == {"align", "au_model"}
    json.dumps(result.to_dict())  # JSON-ready
    assert set(face.to_dict()) == {f.name for f in dataclasses.fields(face)}  # no field left out


@pytest.mark.realdata
def test_min_face_px_drops_small_faces(bundle_dir, mtfl_dir):
    row = mtfl_rows(mtfl_dir)[0]
    image = read_image_rgb(mtfl_dir / row["path"])
    est = Estimator.from_bundle(bundle_dir, model="onnx-fp32", min_face_px=10_000)
    assert est.detector.detect(image) and est.estimate(image).faces == []


def test_bundle_without_detector_still_runs_aligned(tmp_path):
    est = Estimator.from_bundle(write_bundle(tmp_path / "b", detector=None, with_int8=False))
    assert est.estimate_aligned(_crops()).shape == (4, 2)
    with pytest.raises(BundleError, match="no face_detector"):
        est.estimate(np.zeros((100, 100, 3), dtype=np.uint8))


def test_tampered_model_is_refused(tmp_path):
    root = write_bundle(tmp_path / "b", detector=None, with_int8=False)
    with open(root / "au_fp32.onnx", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(BundleError, match="sha256"):
        Estimator.from_bundle(root)


def test_wrong_input_size_is_refused(tmp_path):
    root = write_bundle(tmp_path / "b", detector=None, with_int8=False)
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["input"]["size"] = [128, 128]
    manifest["crop"]["size"] = 128
    (root / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="promises NHWC"):
        Estimator.from_bundle(root)


def test_estimator_and_cli_import_without_tensorflow(bundle_dir):
    code = (
        "import sys\n"
        "import auedge.edge.estimator, auedge.edge.cli, auedge.edge.face_detector, auedge.edge.images_io\n"
        "from auedge.edge import Estimator\n"
        f"est = Estimator.from_bundle({str(bundle_dir)!r})\n"
        "import numpy as np\n"
        "print('faces', len(est.estimate(np.zeros((64, 64, 3), np.uint8)).faces))\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = run_blocked(code, {"tensorflow", "keras", "tf2onnx"})
    assert done.returncode == 0, done.stderr
    assert "faces 0" in done.stdout


class RecordingBackend:
    """Wraps a backend and keeps a copy of every input it is fed."""

    def __init__(self, inner):
        self.inner, self.fed = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def run(self, array):
        self.fed.append(array.copy())
        return self.inner.run(array)


@pytest.mark.parametrize("model", ["onnx-fp32", "onnx-int8"])
def test_model_input_is_exactly_normalize_then_quantize(tmp_path, model):
    from auedge.edge.preprocess import Normalization, QuantParams, normalize, quantize

    root = write_bundle(tmp_path / "b", detector=None)
    manifest = json.loads((root / "bundle.json").read_text())
    odd = {"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4], "color": "RGB", "pixel_range": [0, 255]}
    manifest["input"]["normalization"] = odd
    (root / "bundle.json").write_text(json.dumps(manifest))
    est = Estimator.from_bundle(root, model=model)
    est.backend = RecordingBackend(est.backend)
    crop = _crops()[3]
    est.estimate_aligned(crop)
    expected = normalize(crop, Normalization.from_dict(odd))
    if model == "onnx-int8":
        expected = quantize(expected, QuantParams.from_dict(manifest["models"][1]["quantization"]["input"]))
    (fed,) = est.backend.fed
    assert fed.dtype == expected.dtype and np.array_equal(fed[0], expected)


def test_flip_average_follows_the_bundle_unless_told(bundle_dir, tmp_path):
    import json
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(bundle_dir, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["inference"] = {"flip_average": True}
    (copy / "bundle.json").write_text(json.dumps(manifest))
    assert Estimator.from_bundle(copy, model="onnx-fp32").flip_average is True
    assert Estimator.from_bundle(copy, model="onnx-fp32", flip_average=False).flip_average is False
    assert Estimator.from_bundle(bundle_dir, model="onnx-fp32").flip_average is False


def test_occlusion_flag_output_marks_its_au_not_observable(tmp_path):
    """An output named "AU12_occluded" is a flag, not an AU: it sets observable["AU12"] (as the
    Android app reads it) and does not appear among the AU values."""
    root = write_bundle(tmp_path / "b", detector=None, with_int8=False)
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["outputs"][1]["au"] = "AU12_occluded"
    (root / "bundle.json").write_text(json.dumps(manifest))
    est = Estimator.from_bundle(root)
    left, right = np.array([60.0, 100.0]), np.array([100.0, 100.0])
    seen = set()
    for level in range(0, 256, 15):
        for channel in range(3):
            image = np.zeros((240, 320, 3), dtype=np.uint8)
            image[..., channel] = level
            face = est.estimate_with_landmarks(image, left, right)
            flag = expected_aus(align_face(image, left, right, est.bundle.crop)[0])[1] >= 0.5
            assert set(face.aus) == {"AU12"} and set(face.present) == {"AU12"}
            assert face.observable == {"AU12": not flag}
            seen.add(bool(flag))
    assert seen == {True, False}  # both outcomes were exercised


def test_opencv_threads_follow_the_interpreter_threads_and_the_cores():
    import os

    import cv2
    from auedge.edge.estimator import size_opencv_threads

    before = cv2.getNumThreads()
    try:
        assert size_opencv_threads(1) == 1 and cv2.getNumThreads() == 1
        cores = len(os.sched_getaffinity(0))
        assert size_opencv_threads(64) == cores and cv2.getNumThreads() == cores
    finally:
        cv2.setNumThreads(before)


def test_a_landmarks_crop_bundle_cuts_from_the_detectors_four_keypoints(tmp_path):
    """A bundle whose crop method is "landmarks": estimate() fits eyes, nose tip and mouth centre of
    the detection; estimate_with_landmarks needs the nose and mouth as well as the eyes."""
    from auedge.edge.align import CropParams, align_points
    from auedge.train.data import synthetic

    root = write_bundle(tmp_path / "marks", detector_file())
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["crop"] = CropParams(size=160, method="landmarks").to_dict()
    (root / "bundle.json").write_text(json.dumps(manifest))
    est = Estimator.from_bundle(root, model="onnx-fp32")
    try:
        assert est.bundle.crop.method == "landmarks"
        image = synthetic.generate(1, seed=4, image_size=320).images[0]
        faces = est.detect(image)
        assert faces, "BlazeFace finds the drawn face"
        result = est.estimate(image)
        crop, _ = align_points(image, faces[0].keypoints, est.bundle.crop)
        assert result.faces[0].aus["AU12"] == pytest.approx(expected_aus(crop)[0], abs=1e-5)
        eyes_only, _ = align_face(image, faces[0].keypoints[0], faces[0].keypoints[1], CropParams(size=160))
        assert not np.array_equal(crop, eyes_only)
        with pytest.raises(ValueError, match="needs the nose and mouth"):
            est.estimate_with_landmarks(image, faces[0].keypoints[0], faces[0].keypoints[1])
        with pytest.raises(ValueError, match="both the nose tip and the mouth centre"):
            est.estimate_with_landmarks(image, faces[0].keypoints[0], faces[0].keypoints[1], nose=faces[0].keypoints[2])
        kp = faces[0].keypoints
        face = est.estimate_with_landmarks(image, kp[0], kp[1], kp[2], kp[3])
        assert face.aus["AU12"] == pytest.approx(expected_aus(crop)[0], abs=1e-5) and len(face.keypoints) == 4
    finally:
        est.close()
