"""Several datasets in one run: the recipe's settings, source-balanced draws, the grey/low-res/JPEG steps."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.train.augment import AugmentSpec, degrade, down_and_up, jpeg_roundtrip, to_grayscale
from auedge.train.config import ConfigError, build_config
from auedge.train.sampling import group_shares, source_balance
from auedge.train.trainer import CropSequence, by_dataset

RECIPE = "train/configs/au12_au4_mtfl_fer.toml"
TABLE = {"au4": ["angry", "fear", "sad"], "au12": ["happy"]}


def multi(**overrides):
    values = {"dataset": "mtfl+fer2013", "data_dir": "data", "task": "au12+au4-occurrence", "emotion_aus": TABLE}
    return build_config(None, values | overrides)


def test_the_committed_recipe_trains_both_aus_on_both_datasets():
    cfg = build_config(RECIPE, {"data_dir": "../shared/data"})
    assert cfg.datasets == ["mtfl", "fer2013"] and cfg.parsed_task.aus == ("au12", "au4")
    assert cfg.emotion_aus["au4"] == ["angry", "fear", "sad"] and cfg.emotion_aus["au12"] == ["happy"]
    assert cfg.flag_names == ["AU12_occluded", "AU4_occluded"]
    assert {"g", "d", "j"} <= cfg.augment_set and cfg.source_weights == {"mtfl": 1, "fer2013": 1}


@pytest.mark.parametrize("overrides, fragment", [
    ({"dataset": "mtfl+imagenet"}, "unknown dataset 'imagenet'"),
    ({"dataset": "mtfl+synthetic"}, "synthetic faces train alone"),
    ({"dataset": "mtfl+mtfl"}, "distinct"),
    ({"emotion_aus": {}}, "needs emotion_aus"),
    ({"emotion_aus": {"au4": ["grumpy"]}}, "unknown emotion 'grumpy'"),
    ({"source_weights": {"mtfl": 1}}, "'fer2013' has none"),
    ({"source_weights": {"mtfl": 1, "fer2013": 1, "disfa": 1}}, "'disfa', which is not a dataset"),
    ({"source_weights": {"mtfl": 0, "fer2013": 0}}, "at least one dataset"),
    ({"source_weights": {"mtfl": float("nan"), "fer2013": 1}}, "source_weights.mtfl must be a number"),
    ({"epoch_size": 0}, "epoch_size must be at least 1"),
    ({"jpeg_p": 1.5}, "shares of training crops"),
    ({"downsample_size": (100, 40)}, "downsample_size"),
    ({"jpeg_quality": (0, 95)}, "jpeg_quality"),
    ({"task": "au12+au4-intensity"}, "occurrence labels only"),
])
def test_bad_multi_dataset_settings_are_one_line_naming_the_key(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        multi(**overrides)


def test_source_balance_gives_each_dataset_its_share_whatever_its_size():
    sources = np.array(["fer"] * 300 + ["mtfl"] * 100)
    weights = source_balance(sources, {"fer": 1, "mtfl": 1})
    assert group_shares(sources, weights) == pytest.approx({"fer": 0.5, "mtfl": 0.5})
    assert weights[-1] == pytest.approx(3 * weights[0])  # a face of the smaller set is drawn 3x as often
    assert group_shares(sources, source_balance(sources, {"fer": 3, "mtfl": 1}))["fer"] == pytest.approx(0.75)


def test_epoch_size_sets_the_draws_per_epoch():
    images = np.zeros((10, 8, 8, 3), np.uint8)
    seq = CropSequence(images, np.zeros((10, 5, 2), np.float32), np.zeros((10, 1), np.float32), AugmentSpec(),
                       _norm(), batch=4, seed=0, sample_weights=np.full(10, 0.1), epoch_size=25)
    assert len(seq.order) == 25 and len(seq) == 7
    plain = CropSequence(images, np.zeros((10, 5, 2), np.float32), np.zeros((10, 1), np.float32), AugmentSpec(),
                         _norm(), batch=4, seed=0)
    assert sorted(plain.order) == list(range(10))  # no epoch_size, no weights: one pass, each face once


def _norm():
    from auedge.edge.preprocess import Normalization

    return Normalization(mean=(127.5,) * 3, std=(127.5,) * 3)


def test_degrading_steps_do_what_they_say():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    grey = to_grayscale(image)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    blurred = down_and_up(image, 16)
    assert blurred.shape == image.shape and blurred.std() < image.std()
    assert jpeg_roundtrip(image, 30).shape == image.shape and not np.array_equal(jpeg_roundtrip(image, 30), image)
    always = AugmentSpec(grayscale_p=1.0, downsample_p=1.0, jpeg_p=1.0, downsample_size=(16, 16))
    out = degrade(image, always, np.random.default_rng(1))
    assert (out[..., 0] == out[..., 2]).all() and out.std() < image.std()


def test_recipes_without_the_new_steps_keep_their_random_stream():
    """With every share 0 nothing is drawn: an older recipe's training faces are unchanged."""
    image = np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    rng = np.random.default_rng(7)
    before = rng.bit_generator.state
    assert degrade(image, AugmentSpec(hflip=True, brightness=(0.5, 1.5)), rng) is image
    assert rng.bit_generator.state == before
    degrade(image, AugmentSpec(jpeg_p=0.1), rng)
    assert rng.bit_generator.state != before


def test_figures_per_dataset_score_each_au_only_where_labelled():
    meta = {"dataset": np.array(["mtfl", "mtfl", "fer", "fer"])}
    y = np.array([[1, np.nan], [0, np.nan], [1, 0], [0, 1]], dtype=np.float32)
    p = np.array([[0.9, 0.2], [0.1, 0.9], [0.8, 0.1], [0.2, 0.7]], dtype=np.float32)
    out = by_dataset(meta, "occurrence", ["au12", "au4"], y, p, [0.5, 0.5])["by_dataset"]
    assert "per_au" not in out["mtfl"] and out["mtfl"]["f1"] == 1.0
    assert set(out["fer"]["per_au"]) == {"au12", "au4"} and out["fer"]["n"] == 2
    assert by_dataset({}, "occurrence", ["au12"], y[:, :1], p[:, :1], [0.5]) == {}
