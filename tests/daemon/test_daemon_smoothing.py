"""Temporal smoothing: filters, nearest-centre tracks, reset when a face is lost."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.edge.results import FaceResult
from auedge.edge.smoothing import ExponentialFilter, FaceSmoother, OneEuroFilter, SmoothingOptions


def face(x, y, au12, size=100.0):
    return FaceResult(box=(x, y, size, size), score=0.9, keypoints=[], aus={"AU12": au12})


def test_ema_converges_with_fixed_lag():
    flt = ExponentialFilter(alpha=0.5)
    values = [flt(1.0, t) for t in range(6)]
    assert values[0] == 1.0
    flt = ExponentialFilter(alpha=0.5)
    flt(0.0, 0)
    assert flt(1.0, 1) == pytest.approx(0.5)
    assert flt(1.0, 2) == pytest.approx(0.75)


def test_one_euro_smooths_noise_but_follows_a_step():
    rng = np.random.default_rng(0)
    flt = OneEuroFilter(min_cutoff=1.0, beta=0.05, d_cutoff=1.0)
    noisy = 0.5 + rng.normal(0, 0.05, 300)
    out = np.array([flt(float(v), i / 30) for i, v in enumerate(noisy)])
    assert out[50:].std() < 0.5 * noisy[50:].std()
    # then a step to 1.0: after one second at 30 fps the output has nearly reached it
    step = [flt(1.0, (300 + i) / 30) for i in range(30)]
    assert step[0] < 0.9 and step[-1] > 0.95


def test_one_euro_uses_time_not_frames():
    a, b = OneEuroFilter(1.0, 0.0, 1.0), OneEuroFilter(1.0, 0.0, 1.0)
    a(0.0, 0.0)
    b(0.0, 0.0)
    assert a(1.0, 1 / 30) < b(1.0, 1.0)  # a longer gap lets more of the new value through


def test_tracks_follow_nearest_centre_and_smooth_separately():
    smoother = FaceSmoother(SmoothingOptions(method="ema", alpha=0.5))
    first = smoother.update([face(0, 0, 0.0), face(300, 0, 1.0)], ts=0.0)
    ids = [s.track_id for s in first]
    assert ids[0] != ids[1]
    # the faces swap order in the list and move a little: tracks follow the boxes, not the order
    second = smoother.update([face(305, 5, 1.0), face(5, 5, 1.0)], ts=0.1)
    assert [s.track_id for s in second] == [ids[1], ids[0]]
    assert second[0].aus["AU12"] == pytest.approx(1.0)  # right face was 1.0 all along
    assert second[1].aus["AU12"] == pytest.approx(0.5)  # left face jumped 0 -> 1, halfway with alpha 0.5


def test_lost_face_resets_its_track():
    smoother = FaceSmoother(SmoothingOptions(method="ema", alpha=0.5))
    track = smoother.update([face(0, 0, 0.0)], ts=0.0)[0].track_id
    assert smoother.update([], ts=0.1) == []
    assert smoother.track_count == 0
    again = smoother.update([face(0, 0, 1.0)], ts=0.2)[0]
    assert again.track_id != track
    assert again.aus["AU12"] == 1.0  # fresh filter: nothing carried over from before the loss


def test_max_missed_frames_keeps_a_track_through_a_blink():
    smoother = FaceSmoother(SmoothingOptions(method="ema", alpha=0.5, max_missed_frames=2))
    track = smoother.update([face(0, 0, 0.0)], ts=0.0)[0].track_id
    smoother.update([], ts=0.1)
    kept = smoother.update([face(2, 2, 1.0)], ts=0.2)[0]
    assert kept.track_id == track and kept.aus["AU12"] == pytest.approx(0.5)


def test_far_jump_is_a_new_track():
    smoother = FaceSmoother(SmoothingOptions(method="none", match_distance=0.75))
    track = smoother.update([face(0, 0, 0.2)], ts=0.0)[0].track_id
    moved = smoother.update([face(500, 500, 0.3)], ts=0.1)[0]
    assert moved.track_id != track and moved.aus["AU12"] == 0.3


@pytest.mark.parametrize("kw", [{"method": "kalman"}, {"alpha": 0.0}, {"min_cutoff": 0.0}, {"max_missed_frames": -1}])
def test_bad_options_are_refused(kw):
    with pytest.raises(ValueError, match="smoothing"):
        FaceSmoother(SmoothingOptions(**kw))
