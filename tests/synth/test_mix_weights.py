"""Weighted "mix": kinds drawn in the configured proportions, the uniform stream unchanged, bad lists named."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.edge.align import CropParams
from auedge.train.augment import AugmentSpec, augment_one_with_kind
from auedge.train.config import ConfigError, build_config
from auedge.train.occluders import MIX_KINDS, apply_occluder_kind, parse_mix_weights


def canvas(size: int = 160) -> np.ndarray:
    return np.full((size, size, 3), 128, np.uint8)


def canonical_landmarks(size: int = 160) -> np.ndarray:
    """An average frontal face in the project's crop (eyes half an eye distance above the centre)."""
    d = size / CropParams().eye_scale
    return np.array([[-0.5, -0.5], [0.5, -0.5], [0.0, 0.1], [-0.43, 0.54], [0.43, 0.54]]) * d + size / 2


def _draws(weights, n: int = 600) -> dict[str, int]:
    image, marks = canvas(), canonical_landmarks()
    counts = dict.fromkeys(MIX_KINDS, 0)
    for i in range(n):
        counts[apply_occluder_kind(image, marks, "mix", np.random.default_rng([5, i]), weights)[1]] += 1
    return counts


def test_weights_normalise_and_unnamed_kinds_weigh_one():
    p = parse_mix_weights("mask-full=2, mask-half=2,mask-small=2")
    assert dict(zip(MIX_KINDS, p)) == pytest.approx(
        {"none": 1 / 9, "mask-full": 2 / 9, "mask-half": 2 / 9, "mask-small": 2 / 9,
         "glasses-big": 1 / 9, "glasses-eyehole": 1 / 9})
    assert parse_mix_weights("") is None and parse_mix_weights(None) is None


def test_weighted_draws_follow_the_weights():
    counts = _draws(parse_mix_weights("mask-full=0,glasses-big=0,glasses-eyehole=0,none=1,mask-half=3"))
    assert counts["mask-full"] == counts["glasses-big"] == counts["glasses-eyehole"] == 0
    share = counts["mask-half"] / sum(counts.values())  # expected 3/5; 600 draws: sd 0.02
    assert 0.54 < share < 0.66 and counts["none"] > 0 and counts["mask-small"] > 0


def test_no_weights_keep_the_uniform_stream_of_earlier_runs():
    """Runs trained before weights existed drew ``MIX_KINDS[rng.integers(6)]``: same kinds, same seeds."""
    image, marks = canvas(), canonical_landmarks()
    for i in range(40):
        expected = MIX_KINDS[int(np.random.default_rng([9, i]).integers(len(MIX_KINDS)))]
        assert apply_occluder_kind(image, marks, "mix", np.random.default_rng([9, i]))[1] == expected


def test_training_spec_carries_the_weights_and_validation_stays_uniform():
    cfg = build_config(None, {"occlude_train": "mix", "mix_weights": "none=0,glasses-big=0,glasses-eyehole=0"})
    spec = AugmentSpec.from_config(cfg, occluder=cfg.occlude_train)
    assert spec.mix_weights == pytest.approx((0, 1 / 3, 1 / 3, 1 / 3, 0, 0))
    assert AugmentSpec.from_config(cfg, occluder="mask-full").mix_weights is None
    kinds = {augment_one_with_kind(canvas(), canonical_landmarks(), spec, np.random.default_rng(i))[1]
             for i in range(30)}
    assert kinds == {"mask-full", "mask-half", "mask-small"}


@pytest.mark.parametrize("overrides, message", [
    ({"mix_weights": "mask-full=2"}, "occlude_train is 'none'"),
    ({"occlude_train": "mix", "mix_weights": "scarf=2"}, "KIND=WEIGHT"),
    ({"occlude_train": "mix", "mix_weights": "mask-full"}, "KIND=WEIGHT"),
    ({"occlude_train": "mix", "mix_weights": "mask-full=-1"}, "must be a number >= 0"),
    ({"occlude_train": "mix", "mix_weights": "mask-full=lots"}, "must be a number >= 0"),
    ({"occlude_train": "mix", "mix_weights": ",".join(f"{k}=0" for k in MIX_KINDS)}, "above 0"),
])
def test_bad_weight_lists_name_the_setting(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(None, overrides)
