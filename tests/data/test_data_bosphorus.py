"""Bosphorus adapter on a tiny fixture: labels from file names, the five points from .lm2 files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from auedge.edge.align import CropParams
from auedge.train.data import DataError, load_crops
from auedge.train.data.bosphorus import build_manifest, parse_file_name, parse_lm2
from data_fixtures import lm2_text, make_bosphorus

STEMS = [
    "bs001_LFAU_12_0", "bs001_UFAU_4_0", "bs001_N_N_0", "bs001_E_HAPPY_0", "bs001_CAU_1_2_0",
    "bs002_LFAU_12LW_0", "bs002_LFAU_9_0", "bs002_YR_R10_0", "bs002_O_GLASSES_0", "bs002_IGN_X_0",
    "bs003_LFAU_12_0", "bs003_N_N_0", "bs004_UFAU_4_0", "bs004_N_N_0", "bs005_LFAU_12_0",
]


@pytest.fixture
def bosphorus_dir(tmp_path):
    return make_bosphorus(tmp_path / "bosphorus", STEMS, without_lm2=("bs003_N_N_0",), without_nose=("bs004_N_N_0",))


def by_stem(rows):
    return {row.path.rsplit("/", 1)[-1].removesuffix(".png"): row for row in rows}


def test_labels_from_file_names(bosphorus_dir):
    rows = by_stem(build_manifest(bosphorus_dir, test_fraction=0.0))
    assert "bs002_IGN_X_0" not in rows  # IGN: not to be used
    assert "bs003_N_N_0" not in rows and "bs004_N_N_0" not in rows  # no .lm2 / no nose tip: skipped
    expected = {  # (au12, au4)
        "bs001_LFAU_12_0": (1, 0), "bs001_UFAU_4_0": (0, 1), "bs001_N_N_0": (0, 0), "bs002_LFAU_12LW_0": (1, 0),
        "bs002_LFAU_9_0": (0, 0), "bs002_YR_R10_0": (0, 0), "bs002_O_GLASSES_0": (0, 0),
    }
    for stem, (au12, au4) in expected.items():
        assert (rows[stem].aus["au12"], rows[stem].aus["au4"]) == (au12, au4), stem
    assert math.isnan(rows["bs001_E_HAPPY_0"].aus["au12"])  # emotions carry no AU coding
    cau = rows["bs001_CAU_1_2_0"].aus
    assert (cau["au1"], cau["au2"], cau["au12"]) == (1, 1, 0)
    assert rows["bs002_LFAU_9_0"].aus["au9"] == 1
    assert rows["bs001_LFAU_12_0"].subject == "bs001"
    assert rows["bs001_LFAU_12_0"].meta == {"kind": "LFAU", "code": "12", "source": "bosphorus"}
    assert parse_file_name("bs001_CAU_1_2_3").code == "1_2" and parse_file_name("holiday") is None


def test_five_points_are_eye_centres_nose_and_mouth_in_image_order(bosphorus_dir):
    row = by_stem(build_manifest(bosphorus_dir, test_fraction=0.0))["bs001_LFAU_12_0"]
    # The subject's right eye (x 30..50) is on the image left; eye centre = mean of its two corners.
    np.testing.assert_allclose(row.landmarks, [[40, 51], [80, 51], [60, 75], [45, 100], [75, 100]])


def test_lm2_parser_accepts_the_documented_variants(tmp_path):
    text = lm2_text({"Nose tip": (1.5, 2.5), "Left mouth corner": (3, 4)})
    variant = tmp_path / "b.lm2"
    variant.write_text(text.replace("Labels:\n", "").replace("2D Image coordinates:", "2D landmarks:"))
    for path, content in ((tmp_path / "a.lm2", text), (variant, None)):
        if content:
            path.write_text(content)
        points = parse_lm2(path)
        assert list(points) == ["nose tip", "left mouth corner"]
        np.testing.assert_allclose(points["nose tip"], [1.5, 2.5])
    broken = tmp_path / "c.lm2"
    broken.write_text(text.replace("3.000 4.000", "3.000 four"))
    with pytest.raises(DataError, match=r"c\.lm2 line \d+: '3.000 four' is not 'x y'"):
        parse_lm2(broken)


def test_intensity_csv_overrides_occurrence(bosphorus_dir, tmp_path):
    table = tmp_path / "intensity.csv"
    table.write_text("file,au12,au4\nbs001_LFAU_12_0,3,\nbs001_E_HAPPY_0.png,4,0\n")
    rows = by_stem(build_manifest(bosphorus_dir, intensity_csv=table, test_fraction=0.0))
    assert rows["bs001_LFAU_12_0"].aus["au12"] == 3 and rows["bs001_LFAU_12_0"].aus["au4"] == 0
    assert rows["bs001_E_HAPPY_0"].aus["au12"] == 4
    assert math.isnan(rows["bs005_LFAU_12_0"].aus["au12"])  # AU12 present but not scored: unknown intensity
    assert rows["bs001_UFAU_4_0"].aus["au12"] == 0  # absent stays 0
    assert math.isnan(rows["bs001_UFAU_4_0"].aus["au4"])  # au4 is scored in the file too (E_HAPPY), so unknown
    assert math.isnan(rows["bs002_LFAU_9_0"].aus["au9"])  # scored for no image: no intensity, not occurrence 1
    occurrence = by_stem(build_manifest(bosphorus_dir, intensity_csv=table, test_fraction=0.0, kind="occurrence"))
    assert occurrence["bs002_LFAU_9_0"].aus["au9"] == 1  # occurrence rows keep the file name's code
    table.write_text("file,au12\nbs009_LFAU_12_0,3\n")
    with pytest.raises(DataError, match="bs009_LFAU_12_0"):
        build_manifest(bosphorus_dir, intensity_csv=table)


def test_test_split_is_subject_level(bosphorus_dir):
    rows = build_manifest(bosphorus_dir, test_fraction=0.3)
    test_subjects = {r.subject for r in rows if r.split == "test"}
    assert test_subjects and test_subjects.isdisjoint({r.subject for r in rows if r.split == "train"})


def test_load_crops_on_bosphorus(bosphorus_dir, tmp_path):
    crop = CropParams(size=64)
    crops = load_crops("bosphorus", bosphorus_dir, ["au12", "au4"], crop, cache_dir=tmp_path / "cache", progress=False)
    assert len(crops) == 11  # 15 files - IGN - 2 without landmarks - 1 emotion without labels
    assert crops.images.shape == (11, 64, 64, 3) and crops.labels.shape == (11, 2)
    # Aligned eyes sit on a horizontal line, eye_scale apart in crop pixels.
    np.testing.assert_allclose(crops.landmarks[:, 1, 0] - crops.landmarks[:, 0, 0], 64 / crop.eye_scale, rtol=1e-4)
    np.testing.assert_allclose(crops.landmarks[:, 0, 1], crops.landmarks[:, 1, 1], atol=1e-3)
    assert set(crops.meta) == {"kind", "code", "source"}
    with pytest.raises(DataError, match="data dir .*nowhere not found; pass --data-dir"):
        load_crops("bosphorus", tmp_path / "nowhere", ["au12"], crop, cache_dir=tmp_path / "cache")


# Intensity rows never carry the file names' occurrence codes: the reviewer's case is a CSV that
# scores only au12 and the default task au12+au4-intensity.
INTENSITY_STEMS = ["bs001_LFAU_12_0", "bs001_UFAU_4_0", "bs001_N_N_0", "bs002_UFAU_4_0", "bs002_LFAU_12_0"]


@pytest.fixture
def au12_scores(tmp_path):
    folder = make_bosphorus(tmp_path / "bos", INTENSITY_STEMS)
    table = tmp_path / "au12.csv"
    table.write_text("file,au12\nbs001_LFAU_12_0,4\nbs002_LFAU_12_0,2\n")
    return folder, table


def test_intensity_rows_hold_scores_zeros_for_absent_and_nan_for_unscored(au12_scores):
    folder, table = au12_scores
    for kind in (None, "intensity"):  # with an intensity file the rows are intensity rows by default
        rows = by_stem(build_manifest(folder, intensity_csv=table, test_fraction=0.0, kind=kind, aus=["au12"]))
        assert [rows[s].aus["au12"] for s in ("bs001_LFAU_12_0", "bs002_LFAU_12_0")] == [4, 2]
        assert rows["bs001_N_N_0"].aus["au12"] == 0 and rows["bs001_UFAU_4_0"].aus["au12"] == 0  # absent: 0
        # au4 is posed in the UFAU_4 captures but scored for no image: unknown everywhere, never 1 (or 0).
        assert all(math.isnan(row.aus["au4"]) for row in rows.values()), kind


def test_intensity_task_over_an_au_no_file_scores_fails_in_one_line(au12_scores):
    folder, table = au12_scores
    with pytest.raises(DataError) as caught:
        build_manifest(folder, intensity_csv=table, kind="intensity", aus=["au12", "au4"])
    message = str(caught.value)
    assert "\n" not in message and "au4" in message and str(table) in message and "au12+au4-occurrence" in message
    assert "au12 " not in message.split("needs", 1)[1].split("intensit", 1)[0]  # only the unscored AU is named
    with pytest.raises(DataError, match=r"au12 intensities.*no intensity file.*--intensity-csv.*au12-occurrence"):
        build_manifest(folder, kind="intensity", aus=["au12"])


def test_occurrence_rows_keep_the_file_name_codes(au12_scores, capsys):
    folder, table = au12_scores
    rows = by_stem(build_manifest(folder, intensity_csv=table, test_fraction=0.0, kind="occurrence",
                                  aus=["au12", "au4"]))
    assert rows["bs001_UFAU_4_0"].aus["au4"] == 1 and rows["bs001_LFAU_12_0"].aus["au12"] == 4
    rows = by_stem(build_manifest(folder, test_fraction=0.0))  # no intensity file: occurrence rows, with a note
    assert rows["bs001_UFAU_4_0"].aus["au4"] == 1 and rows["bs001_LFAU_12_0"].aus["au12"] == 1
    assert "occurrence 0/1" in capsys.readouterr().err


def test_unscored_intensities_reach_training_as_masked_nan(au12_scores, tmp_path):
    from auedge.train import metrics
    from auedge.train.data import read_manifest
    from auedge.train.data.manifest import write_manifest

    folder, table = au12_scores
    manifest = write_manifest(build_manifest(folder, intensity_csv=table, test_fraction=0.0), tmp_path / "bos.csv")
    assert all(math.isnan(row.aus["au4"]) for row in read_manifest(manifest))  # written empty, read back unknown
    crops = load_crops("manifest", manifest, ["au12", "au4"], CropParams(size=32), cache_dir=tmp_path / "cache",
                       progress=False)
    assert np.isnan(crops.labels[:, 1]).all() and np.isfinite(crops.labels[:, 0]).all()
    # NaN is left out of the metrics, not scored as 0: no au4 pair counts.
    assert metrics.intensity_metrics(crops.labels[:, 1], np.zeros(len(crops)))["n"] == 0


def test_an_intensity_task_on_the_bosphorus_folder_is_told_where_intensities_come_from(bosphorus_dir, tmp_path):
    """The trainer passes its task kind down: the folder alone holds only 0/1 codes, never intensities."""
    crop = CropParams(size=64)
    with pytest.raises(DataError, match="no intensity file was given"):
        load_crops("bosphorus", bosphorus_dir, ["au12", "au4"], crop, cache_dir=tmp_path / "cache",
                   progress=False, kind="intensity")
    crops = load_crops("bosphorus", bosphorus_dir, ["au12"], crop, cache_dir=tmp_path / "cache", progress=False,
                       kind="occurrence")
    assert set(np.unique(crops.labels[np.isfinite(crops.labels)])) <= {0.0, 1.0}


def test_a_task_au_no_training_face_labels_is_refused():
    from auedge.train.trainer import check_every_au_labelled

    labels = np.array([[1.0, np.nan], [0.0, np.nan]], dtype=np.float32)
    with pytest.raises(ValueError, match="no training face has a label for au4; drop it from the task"):
        check_every_au_labelled(labels, ["au12", "au4"], "manifest")
    check_every_au_labelled(np.array([[1.0, np.nan], [0.0, 2.0]], dtype=np.float32), ["au12", "au4"], "manifest")
