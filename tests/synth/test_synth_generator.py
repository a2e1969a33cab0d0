"""The procedural face generator: determinism, labels, landmarks that sit on the drawn face, the dataset writer."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from auedge.train.data import synthetic
from auedge.train.data.synthetic import IMAGES_PER_SUBJECT, MANIFEST_COLUMNS, generate, write_dataset
from PIL import Image


@pytest.fixture(scope="module")
def faces():
    return generate(40, seed=5)


def test_synth_same_seed_gives_identical_arrays():
    a, b = generate(6, seed=3), generate(6, seed=3)
    for name in ("images", "landmarks", "au12", "au4"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.subject == b.subject


def test_synth_shorter_run_is_a_prefix_and_seeds_differ():
    long, short = generate(7, seed=3), generate(3, seed=3)
    np.testing.assert_array_equal(long.images[:3], short.images)
    other = generate(3, seed=4)
    assert not np.array_equal(other.images, short.images)


def test_synth_shapes_dtypes_and_sizes(faces):
    assert faces.images.shape == (40, 192, 192, 3) and faces.images.dtype == np.uint8
    assert faces.landmarks.shape == (40, 5, 2) and faces.landmarks.dtype == np.float32
    assert faces.au12.dtype == np.float32 and faces.au4.dtype == np.float32
    small = generate(2, seed=0, image_size=96)
    assert small.images.shape == (2, 96, 96, 3)
    assert small.landmarks.max() < 96


def test_synth_intensities_in_range_with_a_share_at_zero():
    many = generate(150, seed=9, image_size=64)
    for au in (many.au12, many.au4):
        assert au.min() >= 0.0 and au.max() <= 5.0
        assert 0.15 <= np.mean(au == 0.0) <= 0.45
        assert au.max() > 4.0  # the nonzero part spans the range
    assert abs(np.corrcoef(many.au12, many.au4)[0, 1]) < 0.3  # independent


def test_synth_subjects_repeat_then_change(faces):
    assert len(set(faces.subject)) == 40 // IMAGES_PER_SUBJECT
    assert faces.subject[0] == faces.subject[IMAGES_PER_SUBJECT - 1] != faces.subject[IMAGES_PER_SUBJECT]


def test_synth_landmarks_inside_and_in_face_order(faces):
    lm = faces.landmarks
    assert np.all(lm >= 0) and np.all(lm < 192)
    assert np.all(lm[:, 0, 0] < lm[:, 1, 0])  # image-left eye first
    assert np.all(lm[:, 3, 0] < lm[:, 4, 0])  # image-left mouth corner first
    eye_y = lm[:, :2, 1].mean(axis=1)
    assert np.all(lm[:, 2, 1] > eye_y) and np.all(lm[:, 3:, 1].mean(axis=1) > lm[:, 2, 1])
    eye_distance = np.linalg.norm(lm[:, 1] - lm[:, 0], axis=1)
    assert np.all((eye_distance > 0.18 * 192) & (eye_distance < 0.4 * 192))


def _patch_std(image: np.ndarray, point: np.ndarray, r: int = 3) -> float:
    x, y = np.round(point).astype(int)
    return float(image[y - r : y + r + 1, x - r : x + r + 1].astype(np.float32).std(axis=(0, 1)).mean())


def test_synth_landmarks_sit_on_drawn_features(faces):
    """Eyes and mouth corners are high-contrast (white/iris, lip line); the cheek between them is flat skin."""
    feature, cheek = [], []
    for image, lm in zip(faces.images, faces.landmarks):
        feature += [_patch_std(image, lm[0]), _patch_std(image, lm[1]), _patch_std(image, lm[3]), _patch_std(image, lm[4])]
        eye_distance = np.linalg.norm(lm[1] - lm[0])
        for eye, corner in ((lm[0], lm[3]), (lm[1], lm[4])):
            outward = (eye - lm[2]) / np.linalg.norm(eye - lm[2]) * 0.12 * eye_distance
            cheek.append(_patch_std(image, (eye + corner) / 2 + outward * (1, 0)))
    assert np.median(feature) > 2.5 * np.median(cheek)


def _pair(au12: tuple[float, float], au4: tuple[float, float]):
    ident = synthetic.identity_for(0, 3)
    out = []
    for a12, a4 in zip(au12, au4):
        out.append(synthetic.render_face(ident, np.random.default_rng(42), a12, a4, 192))
    return out


def test_synth_au12_pulls_the_mouth_corners_up_and_out():
    (_, calm), (_, smile) = _pair((0.0, 5.0), (0.0, 0.0))
    width = lambda lm: np.linalg.norm(lm[4] - lm[3])
    assert width(smile) > width(calm) * 1.1
    # Corners rise towards the eyes, measured against the nose tip so pose does not matter.
    rise = lambda lm: np.linalg.norm(lm[3:].mean(axis=0) - lm[2])
    assert rise(smile) < rise(calm) - 0.04 * np.linalg.norm(calm[1] - calm[0])
    np.testing.assert_allclose(smile[:3], calm[:3])  # eyes and nose do not move


def test_synth_au4_changes_the_brow_region_not_the_mouth():
    (calm, lm), (frown, _) = _pair((0.0, 0.0), (0.0, 5.0))
    diff = np.abs(calm.astype(np.int16) - frown.astype(np.int16)).sum(axis=2)
    eye_y = int(lm[:2, 1].mean())
    d = float(np.linalg.norm(lm[1] - lm[0]))
    brow_band = diff[int(eye_y - 0.5 * d) : eye_y, int(lm[0, 0] - 0.3 * d) : int(lm[1, 0] + 0.3 * d)]
    mouth_y = int(lm[3:, 1].mean())
    mouth_band = diff[mouth_y - int(0.15 * d) : mouth_y + int(0.15 * d), int(lm[3, 0]) : int(lm[4, 0])]
    assert brow_band.mean() > 10 and mouth_band.mean() < 1


def test_synth_bad_arguments_raise():
    with pytest.raises(ValueError):
        generate(-1, seed=0)
    with pytest.raises(ValueError):
        generate(1, seed=0, image_size=8)


def test_synth_write_dataset_manifest_and_images(tmp_path):
    out = tmp_path / "synth"
    manifest = write_dataset(out, n=12, seed=2, image_size=64)
    assert manifest == out / "manifest.csv"
    with open(manifest, newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == MANIFEST_COLUMNS
        rows = list(reader)
    faces = generate(12, seed=2, image_size=64)
    assert len(rows) == 12
    for k, row in enumerate(rows):
        np.testing.assert_array_equal(np.asarray(Image.open(out / row["path"])), faces.images[k])
        assert float(row["au12"]) == pytest.approx(faces.au12[k], abs=1e-4)
        assert float(row["rmouth_y"]) == pytest.approx(faces.landmarks[k, 4, 1], abs=0.01)
        assert row["split"] in ("train", "val", "test")
    by_subject = {}
    for row in rows:
        by_subject.setdefault(row["subject"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in by_subject.values())  # subject-disjoint splits
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_synth_write_dataset_replaces_a_dataset_but_not_other_folders(tmp_path):
    out = tmp_path / "synth"
    write_dataset(out, n=3, seed=0, image_size=48)
    write_dataset(out, n=2, seed=1, image_size=48)
    assert len(list((out / "images").iterdir())) == 2
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_dataset(other, n=2, seed=0, image_size=48)
    assert (other / "notes.txt").read_text() == "keep me"
