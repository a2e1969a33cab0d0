"""The Android core (plain Java) against the golden vectors, and the goldens against the Python runtime.

The Java tests run through android-demo/core/run-tests.sh (javac + Debian's JUnit 4), so the
project's normal pytest command runs them too. The Python tests here keep the committed goldens
honest: recomputed with auedge.edge today, they must be what the Java core is compared against.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from auedge.edge.align import CropParams, align_face, align_points
from auedge.edge.bundle import OCCLUDED_SUFFIX, BundleError, parse_manifest
from auedge.edge.face_detector import (
    ANCHOR_SPECS,
    decode_raw,
    generate_anchors,
    sigmoid_scores,
    to_image,
    weighted_nms,
)
from auedge.edge.preprocess import Normalization, QuantParams, normalize, quantize

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "android-demo" / "core"
GOLDEN = CORE / "src" / "test" / "resources" / "golden"
# Outside golden/, which make_golden.py rewrites: hand-written edits of the golden bundle.json.
BUNDLE_CASES = CORE / "src" / "test" / "resources" / "bundle_cases.json"
MAKE_GOLDEN = REPO / "android-demo" / "tools" / "make_golden.py"
JUNIT_JAR = Path("/usr/share/java/junit4.jar")


def _index() -> dict:
    return json.loads((GOLDEN / "index.json").read_text(encoding="utf-8"))


def _png(name: str) -> np.ndarray:
    bgr = cv2.imread(str(GOLDEN / name), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{name} is not a readable PNG"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _frame(face: dict) -> np.ndarray:
    k = face["upscale"]
    image = _png(face["frame"])
    return np.repeat(np.repeat(image, k, axis=0), k, axis=1) if k > 1 else image


def _crop_params() -> CropParams:
    return CropParams.from_dict(json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))["crop"])


def test_java_core_passes_golden_tests() -> None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("javac/java not found: install a JDK 17 (apt-get install default-jdk-headless) to run the Java core tests")
    if not JUNIT_JAR.is_file():
        pytest.skip(f"{JUNIT_JAR} not found: apt-get install junit4 to run the Java core tests")
    proc = subprocess.run(
        ["bash", str(CORE / "run-tests.sh")], check=False, capture_output=True, text=True, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"Java core tests failed:\n{output[-4000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert match and int(match.group(1)) >= 15, f"unexpected summary line {last!r}:\n{output[-2000:]}"


def test_golden_set_covers_the_acceptance() -> None:
    index = _index()
    faces = index["faces"]
    assert len(faces) >= 26
    assert sum(1 for f in faces if f["pose"] != 3) >= 3, "a few non-frontal faces"
    assert {f["crop"]["reduction"] for f in faces} >= {1, 2, 3}, "faces large enough for box reductions 2 and 3"
    assert sum(1 for f in faces if f["pose"] in (1, 5)) >= 2, "profile stand-ins"
    frames = {(f["width"] // f["upscale"], f["height"] // f["upscale"]) for f in faces}
    assert any(w > h for w, h in frames) and any(w < h for w, h in frames), "landscape and portrait frames"
    assert max(abs(f["synthetic"]["angle"]) for f in faces) >= 20, "faces turned in the image plane"
    assert set(index["models"]) == {"fp32", "int8"}
    assert all(set(f["models"]) == {"fp32", "int8"} for f in faces)
    assert not list(GOLDEN.glob("*.tflite")) and not list(GOLDEN.glob("*.onnx")), "models must not be committed"
    size = sum(p.stat().st_size for p in GOLDEN.iterdir())
    assert size < 3_200_000, f"golden vectors take {size} bytes"


def test_golden_set_covers_several_aus_and_occlusion_flags() -> None:
    """The golden bundle has several AUs and an occlusion flag for each; every flag is compared both
    ways (a face where it says covered, on a synthetic occluder over its region, and faces where it
    does not), and index.json names the bundle that made the set."""
    index = _index()
    manifest = json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))
    names = [o["au"] for o in manifest["outputs"]]
    aus = [n for n in names if not n.endswith(OCCLUDED_SUFFIX)]
    flagged = [au for au in aus if au + OCCLUDED_SUFFIX in names]
    assert len(aus) >= 2 and flagged, f"golden bundle outputs {names}: want several AUs with occlusion flags"
    for face in index["faces"]:
        for name, model in face["models"].items():
            assert len(model["values"]) == len(names), (face["id"], name)
            assert list(model["observable"]) == aus, (face["id"], name)
    for au in flagged:
        covered = [f for f in index["faces"] if all(not m["observable"][au] for m in f["models"].values())]
        assert any(f.get("occluder", {}).get("covers") == au for f in covered), f"no face with {au} not observable"
        assert len(covered) < len(index["faces"]), f"{au} is never observable"
    bundle = index["bundle"]
    assert bundle["name"] == manifest["name"] and bundle["models_committed"] is False
    assert re.fullmatch(r"[0-9a-f]{40}", bundle["made_at"]["commit"]), "index.json says which commit made the set"
    assert "model_outputs_note" not in index, "the model outputs must come from the crops committed beside them"


def assert_same_crop(actual: np.ndarray, golden: np.ndarray, what: str) -> None:
    """Equal, value for value: the crop's sampling is integer arithmetic (edge/align.py), the same on
    every OpenCV version and CPU, and the Java core repeats it exactly."""
    assert actual.shape == golden.shape and actual.dtype == golden.dtype, what
    differ = int(np.count_nonzero(actual != golden))
    assert differ == 0, f"{what}: {differ} crop values differ (up to {int(np.abs(actual.astype(int) - golden).max())} levels)"


def test_committed_crops_equal_python_align() -> None:
    """Every committed crop is what auedge.edge.align gives today from the committed frame."""
    params = _crop_params()
    for face in _index()["faces"]:
        crop, matrix = align_face(_frame(face), np.float32(face["crop"]["left_eye"]),
                                  np.float32(face["crop"]["right_eye"]), params)
        assert_same_crop(crop, _png(face["crop"]["file"]), face["id"])
        np.testing.assert_allclose(matrix.ravel(), face["crop"]["matrix"], rtol=0, atol=1e-12)


def test_committed_landmark_crops_equal_python_align() -> None:
    """landmarks.json (crop method "landmarks" on each face's first detection) is what
    auedge.edge.align gives today, and it really differs from the eye crop on turned faces."""
    golden = json.loads((GOLDEN / "landmarks.json").read_text(encoding="utf-8"))
    params = CropParams.from_dict(golden["crop"])
    assert params.method == "landmarks"
    faces = {f["id"]: f for f in _index()["faces"]}
    assert [f["id"] for f in golden["faces"]] == list(faces)
    with_png = 0
    for case in golden["faces"]:
        face = faces[case["id"]]
        keypoints = np.float32(face["detections"][0]["keypoints"]).reshape(-1, 2)
        crop, matrix = align_points(_frame(face), keypoints, params)
        np.testing.assert_allclose(matrix.ravel(), case["matrix"], rtol=0, atol=1e-12, err_msg=case["id"])
        if case["file"]:
            assert_same_crop(crop, _png(case["file"]), case["id"])
            with_png += 1
        if face["pose"] in (1, 5):
            # A profile's eye distance is foreshortened: the fit zooms out against the eye crop.
            eye_scale = np.hypot(*face["crop"]["matrix"][:2])
            assert np.hypot(*matrix[0, :2]) < 0.95 * eye_scale, case["id"]
    assert with_png >= 10


def test_committed_detections_equal_python_decoding() -> None:
    """Decoding the committed raw detector outputs with auedge.edge.face_detector gives the committed faces
    (keypoints exactly: both are on the 1/8 px grid)."""
    index = _index()
    det = index["detector"]
    anchors = generate_anchors(ANCHOR_SPECS["short_range"])
    threshold = float(np.log(det["score_threshold"] / (1 - det["score_threshold"])))
    for face in index["faces"]:
        logits = np.fromfile(GOLDEN / face["detector"]["logits"], dtype="<f4")
        rows = np.fromfile(GOLDEN / face["detector"]["raw_selected"], dtype="<f4").reshape(-1, 16)
        selected = np.flatnonzero(logits >= threshold)
        assert selected.tolist() == face["detector"]["selected"]
        boxes, kps = decode_raw(rows, anchors[selected], det["input_size"])
        kept = weighted_nms(boxes, kps, sigmoid_scores(logits[selected]), det["nms_iou"], det["max_faces"])
        lb = face["letterbox"]
        found = to_image(kept, det["input_size"], (lb["pad_x"], lb["pad_y"]),
                         (lb["new_w"] / face["width"], lb["new_h"] / face["height"]))
        assert len(found) == len(face["detections"])
        for got, want in zip(found, face["detections"]):
            np.testing.assert_allclose(got.box, want["box"], atol=1e-9)
            assert got.keypoints.ravel().tolist() == want["keypoints"]
            assert got.score == pytest.approx(want["score"], abs=1e-7)
        assert face["crop"]["left_eye"] + face["crop"]["right_eye"] == face["detections"][0]["keypoints"][:4]


def test_committed_model_inputs_equal_python_preprocess() -> None:
    bundle = json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))
    norm = Normalization.from_dict(bundle["input"]["normalization"])
    index = _index()
    for face in index["faces"][:4]:
        crop = _png(face["crop"]["file"])
        for name, spec in index["models"].items():
            tensor = normalize(crop, norm)
            quant = QuantParams.from_dict(spec["input_quant"])
            tensor = quantize(tensor, quant) if quant else tensor.astype("<f4")
            assert hashlib.sha256(tensor.tobytes()).hexdigest() == face["models"][name]["input_sha256"], name
            if bundle.get("inference", {}).get("flip_average"):
                mirrored = normalize(np.ascontiguousarray(crop[:, ::-1]), norm)
                mirrored = quantize(mirrored, quant) if quant else mirrored.astype("<f4")
                assert hashlib.sha256(mirrored.tobytes()).hexdigest() == face["models"][name]["mirrored_input_sha256"]


def _edit(data: dict, case: dict) -> None:
    *parents, last = case["path"]
    for key in parents:
        data = data[key]
    if "set" in case:
        data[last] = case["set"]
    elif "insert" in case:
        data.insert(last, case["insert"])
    else:
        del data[last]


def test_python_refuses_the_bundle_cases_java_refuses(tmp_path: Path) -> None:
    """bundle_cases.json: edits of the golden bundle.json that BundleChecksTest (Java) refuses with a
    message holding ``refused``, or accepts; parse_manifest must do the same, so the phone and the Pi
    agree on which bundles are usable."""
    golden = json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))
    for entry in [*golden["models"], golden["face_detector"]]:
        (tmp_path / entry["file"]).write_bytes(b"")  # parse_manifest wants the files; hashes are not checked
    cases = json.loads(BUNDLE_CASES.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 40
    for case in cases:
        data = copy.deepcopy(golden)
        _edit(data, case)
        if case["refused"] is None:
            parse_manifest(tmp_path, data, check_hash=False)
            continue
        with pytest.raises(BundleError) as caught:
            parse_manifest(tmp_path, data, check_hash=False)
        assert case["refused"] in str(caught.value), case["case"]


def _load_make_golden():
    spec = importlib.util.spec_from_file_location("auedge_android_make_golden", MAKE_GOLDEN)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def test_golden_faces_are_synthetic_and_render_again() -> None:
    """No golden face is a dataset photo: every frame is the synthetic renderer's output for the recipe
    index.json stores, rendered again here (to within rounding), and make_golden.py's detector path on a
    close-up, a profile stand-in, a small face in a larger frame and an occluded face gives the
    committed detections, canvas tensor and crop."""
    make_golden = _load_make_golden()
    index = _index()
    assert index["synthetic"]["renderer"] == "auedge.train.data.synthetic"
    for face in index["faces"]:
        assert face["source"] == "synthetic" and face["synthetic"]["seed"] == index["synthetic"]["seed"], face["id"]
        frame, _ = make_golden.render_frame(make_golden.FaceRecipe(**face["synthetic"]))
        # Within a grey level or two, not bit for bit: the renderer's float drawing may round differently
        # on another OpenCV build, while a photo (or another render) is tens of levels away everywhere.
        gap = np.abs(frame.astype(np.int16) - _png(face["frame"]).astype(np.int16))
        assert frame.shape == _png(face["frame"]).shape and np.mean(gap <= 2) >= 0.99 and gap.mean() < 0.5, \
            f"{face['id']}: not its recipe's render (mean gap {gap.mean():.2f} levels)"
    picked = [next(f for f in index["faces"] if test(f)) for test in (
        lambda f: f["synthetic"]["kind"] == "close", lambda f: f["pose"] in (1, 5),
        lambda f: f["synthetic"]["kind"] == "scene", lambda f: "occluder" in f)]
    detector = make_golden.golden_detector(json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8")))
    try:
        for face in picked:
            case = make_golden.face_case(_frame(face), detector, {}, _crop_params())
            assert case is not None, face["id"]
            assert case["letterbox"]["tensor_sha256"] == face["letterbox"]["tensor_sha256"], face["id"]
            assert [d["keypoints"] for d in case["detections"]] == [d["keypoints"] for d in face["detections"]]
            assert_same_crop(case["_arrays"]["crop"], _png(face["crop"]["file"]), face["id"])
    finally:
        detector.backend.close()


def test_make_golden_runs_without_tensorflow_or_the_datasets() -> None:
    """The renderer and the occluders make a golden face with TensorFlow blocked, and make_golden.py
    has no option that reads a dataset (``--data``) any more."""
    code = (
        "import sys, importlib.util, numpy as np\n"
        "sys.modules['tensorflow'] = None\n"
        f"spec = importlib.util.spec_from_file_location('mg', {str(MAKE_GOLDEN)!r})\n"
        "mg = importlib.util.module_from_spec(spec); sys.modules['mg'] = mg; spec.loader.exec_module(mg)\n"
        "recipe = mg.draw_recipe(7, mg.OCCLUDED, 0, 1.0, 0)\n"
        "frame, points = mg.render_frame(mg.FaceRecipe(**{**recipe.to_dict(), 'occluder': 'mask-full'}))\n"
        "assert frame.shape == (150, 150, 3) and points.shape == (5, 2)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    usage = subprocess.run([sys.executable, str(MAKE_GOLDEN), "--help"], check=True, capture_output=True, text=True)
    assert "--data" not in usage.stdout


# Model outputs in float32 may differ in their last bits between CPUs (XNNPACK kernels); the Java
# side allows 1e-5 on the AU values too (GoldenModelIoTest).
MODEL_FLOAT_KEYS = {"raw_output", "raw_output_mirrored", "values"}


def assert_same_json(again: object, golden: object, where: str, tolerant: bool = False) -> None:
    """Equal, except float32 model outputs within 1e-5 (integers, e.g. int8 levels, exactly)."""
    if isinstance(golden, dict):
        assert isinstance(again, dict) and list(again) == list(golden), f"{where}: keys {list(again)}"
        for key, value in golden.items():
            assert_same_json(again[key], value, f"{where}.{key}", tolerant or key in MODEL_FLOAT_KEYS)
    elif isinstance(golden, list):
        assert isinstance(again, list) and len(again) == len(golden), f"{where}: length"
        for i, (a, g) in enumerate(zip(again, golden)):
            assert_same_json(a, g, f"{where}[{i}]", tolerant)
    elif tolerant and isinstance(golden, float):
        assert again == pytest.approx(golden, rel=0, abs=1e-5), where
    else:
        assert again == golden and type(again) is type(golden), f"{where}: {again!r} != {golden!r}"


def test_recrop_of_the_committed_goldens_changes_nothing(tmp_path: Path) -> None:
    """make_golden.py --recrop (re-decode, re-cut, re-hash, and run the golden bundle's models found at
    index.json's bundle.path) on a copy: every crop, every JSON value and every model output the same,
    so the committed set is what today's runtime gives and the documented command reproduces it."""
    out = tmp_path / "golden"
    shutil.copytree(GOLDEN, out)
    assert _load_make_golden().main(["--recrop", "--out", str(out)]) == 0
    index = json.loads((out / "index.json").read_text())
    assert "model_outputs_note" not in index, (
        f"{index['bundle']['path']} no longer holds the golden bundle's models: remake the goldens "
        f"(python android-demo/tools/make_golden.py --bundle {index['bundle']['path']})")
    for path in sorted(GOLDEN.iterdir()):
        again = out / path.name
        if path.suffix == ".png":
            assert np.array_equal(cv2.imread(str(again)), cv2.imread(str(path))), path.name
        elif path.suffix == ".json":
            assert_same_json(json.loads(again.read_text()), json.loads(path.read_text()), path.name)
        else:
            assert again.read_bytes() == path.read_bytes(), path.name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in GOLDEN.iterdir())
