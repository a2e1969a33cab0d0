"""Face tracking: when the detector runs, how faces keep their ids, and that the estimator and the
daemon's smoothing use them. Logic only (no timing): a scripted detector stands in for BlazeFace."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from auedge.edge.estimator import Estimator
from auedge.edge.face_detector import Detection
from auedge.edge.results import FaceResult
from auedge.edge.smoothing import FaceSmoother, SmoothingOptions
from auedge.edge.tracking import FaceTracker, TrackingOptions, box_iou
from edge_runtime_helpers import write_bundle


def frame(level: int = 90, square: tuple[int, int] | None = None, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A 640x480 grey frame, optionally with a bright 120 px square (a "face") at ``square``."""
    image = np.full((480, 640, 3), level, dtype=np.uint8)
    if square is not None:
        x, y = square
        image[y : y + 120, x : x + 120] = 220
    if noise:
        rng = np.random.default_rng(seed)
        image = np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)
    return image


def detection(x: float, y: float, size: float = 120.0, score: float = 0.9) -> Detection:
    """A face box at (x, y) with eyes where BlazeFace would put them."""
    eyes = [(x + 0.3 * size, y + 0.4 * size), (x + 0.7 * size, y + 0.4 * size)]
    rest = [(x + 0.5 * size, y + 0.6 * size), (x + 0.5 * size, y + 0.8 * size), (x, y + 0.5 * size), (x + size, y + 0.5 * size)]
    return Detection(box=(x, y, size, size), score=score, keypoints=np.array(eyes + rest, dtype=np.float32))


def test_still_picture_skips_the_detector_until_every_k_frames():
    tracker = FaceTracker(TrackingOptions(redetect_every=5))
    image = frame(square=(100, 100), noise=2.0)
    runs = []
    for i in range(11):
        noisy = frame(square=(100, 100), noise=2.0, seed=i)  # camera noise alone never triggers
        runs.append(tracker.needs_detection(noisy if i else image))
        if runs[-1]:
            tracker.update([detection(100, 100)])
    assert runs == [True, False, False, False, False, True, False, False, False, False, True]
    assert [t.track_id for t in tracker.tracks] == [1]


def test_every_frame_when_k_is_one():
    tracker = FaceTracker(TrackingOptions(redetect_every=1))
    for _ in range(3):
        assert tracker.needs_detection(frame())
        tracker.update([])


def test_a_moved_face_is_detected_again_on_the_same_frame_and_keeps_its_id():
    tracker = FaceTracker(TrackingOptions(redetect_every=100))
    assert tracker.needs_detection(frame(square=(100, 100)))
    first = tracker.update([detection(100, 100)])
    assert not tracker.needs_detection(frame(square=(100, 100)))
    assert tracker.needs_detection(frame(square=(130, 110)))  # moved 30 px: cells changed
    moved = tracker.update([detection(130, 110)])
    assert moved[0].track_id == first[0].track_id  # overlapping boxes: the same face
    assert moved[0].box == (130.0, 110.0, 120.0, 120.0)


def test_a_face_that_leaves_ends_its_track_and_a_jump_starts_a_new_one():
    tracker = FaceTracker(TrackingOptions(redetect_every=100))
    tracker.needs_detection(frame(square=(100, 100)))
    old = tracker.update([detection(100, 100)])[0].track_id
    assert tracker.needs_detection(frame())  # the face left: the picture changed
    assert tracker.update([]) == [] and tracker.tracks == []
    assert tracker.needs_detection(frame(square=(400, 300)))
    new = tracker.update([detection(400, 300)])[0].track_id
    assert new != old
    assert tracker.needs_detection(frame(square=(100, 100)))  # a jump with no overlap: another track
    assert tracker.update([detection(100, 100)])[0].track_id not in (old, new)


def test_a_second_face_entering_gets_its_own_id_and_ids_follow_boxes_not_order():
    tracker = FaceTracker(TrackingOptions(redetect_every=100))
    tracker.needs_detection(frame(square=(100, 100)))
    a = tracker.update([detection(100, 100)])[0].track_id
    two = frame(square=(100, 100))
    two[100:220, 400:520] = 220
    assert tracker.needs_detection(two)
    tracks = tracker.update([detection(400, 100), detection(102, 101)])  # detector order: new face first
    assert tracks[1].track_id == a and tracks[0].track_id != a
    assert not tracker.needs_detection(two)  # both carried while nothing changes
    assert [t.track_id for t in tracker.tracks] == [tracks[0].track_id, a]


def test_reset_forgets_tracks_and_detects_next():
    tracker = FaceTracker(TrackingOptions(redetect_every=100))
    tracker.needs_detection(frame())
    first = tracker.update([detection(100, 100)])[0].track_id
    tracker.reset()
    assert tracker.tracks == [] and tracker.needs_detection(frame())
    assert tracker.update([detection(100, 100)])[0].track_id != first  # ids keep rising


@pytest.mark.parametrize(("options", "needle"), [
    (TrackingOptions(redetect_every=0), "redetect_every"),
    (TrackingOptions(change_threshold=float("nan")), "change_threshold"),
    (TrackingOptions(change_threshold=0.0), "change_threshold"),
    (TrackingOptions(match_iou=1.5), "match_iou"),
])
def test_bad_options_name_the_key(options, needle):
    with pytest.raises(ValueError, match=needle):
        options.validate()


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0


class ScriptedDetector:
    """Stands in for BlazeFace: returns what the test says and counts its runs."""

    def __init__(self) -> None:
        self.faces: list[Detection] = []
        self.runs = 0

    def detect(self, image, region=None):
        self.runs += 1
        return list(self.faces)


@pytest.fixture()
def bundle_dir(tmp_path):
    return write_bundle(tmp_path / "bundle", detector=None, with_int8=False)


def test_estimator_tracks_and_gives_detect_every_frame_values(bundle_dir):
    tracked = Estimator.from_bundle(bundle_dir, tracking=TrackingOptions(redetect_every=10))
    plain = Estimator.from_bundle(bundle_dir)
    for est in (tracked, plain):
        est.detector = ScriptedDetector()
        est.detector.faces = [detection(100, 100)]
    results = []
    for i in range(6):
        image = frame(square=(100, 100), noise=2.0, seed=i)
        results.append((tracked.estimate(image), plain.estimate(image)))
    assert tracked.detector.runs == 1 and plain.detector.runs == 6
    for mine, theirs in results:
        assert mine.faces[0].aus == pytest.approx(theirs.faces[0].aus)  # same keypoints, same crop
        assert mine.faces[0].track_id == 1 and theirs.faces[0].track_id is None
    assert [r[0].detected for r in results] == [True] + [False] * 5
    assert "detect" not in results[1][0].timings_ms and "track" in results[1][0].timings_ms
    assert results[0][1].faces[0].to_dict()["track_id"] is None and results[0][0].faces[0].to_dict()["track_id"] == 1
    tracked.detector.faces = []
    assert tracked.estimate(frame()).faces == []  # the face left: not reported on that frame
    tracked.reset_tracking()
    tracked.estimate(frame())
    assert tracked.detector.runs == 3


def test_disabled_tracking_detects_every_frame(bundle_dir):
    est = Estimator.from_bundle(bundle_dir, tracking=TrackingOptions(enabled=False))
    est.detector = ScriptedDetector()
    for _ in range(3):
        est.estimate(frame())
    assert est.tracker is None and est.detector.runs == 3


def test_smoother_follows_the_estimators_ids_not_positions():
    smoother = FaceSmoother(SmoothingOptions(method="ema", alpha=0.5))

    def face(x, au12, track_id):
        return FaceResult(box=(x, 0, 100, 100), score=0.9, keypoints=[], aus={"AU12": au12}, track_id=track_id)

    first = smoother.update([face(0, 0.0, 7), face(300, 1.0, 8)], ts=0.0)
    assert [s.track_id for s in first] == [7, 8]
    # The faces swapped places (nearest centre would swap the filters); the ids keep them apart.
    second = smoother.update([face(300, 0.0, 7), face(0, 1.0, 8)], ts=0.1)
    assert [s.track_id for s in second] == [7, 8]
    assert second[0].aus["AU12"] == pytest.approx(0.0) and second[1].aus["AU12"] == pytest.approx(1.0)
    third = smoother.update([face(0, 1.0, 9)], ts=0.2)  # a new id at an old place: a new track
    assert third[0].track_id == 9 and third[0].aus["AU12"] == pytest.approx(1.0)


def test_crop_and_mirror_in_one_batch_of_two_give_the_two_run_values(tmp_path):
    paired = Estimator.from_bundle(write_bundle(tmp_path / "dynamic", None, batch="N"), flip_average=True,
                                   paired_flip=True)
    fixed = Estimator.from_bundle(write_bundle(tmp_path / "fixed", None), flip_average=True, paired_flip=True)
    assert paired.paired and not fixed.paired  # a fixed batch of 1 cannot take the pair
    assert not Estimator.from_bundle(tmp_path / "dynamic", flip_average=False).paired  # no flip: batch stays 1
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, (3, 160, 160, 3), dtype=np.uint8)
    crops[:, :, :80, 0] = 255  # not mirror-symmetric
    np.testing.assert_allclose(paired.estimate_aligned(crops), fixed.estimate_aligned(crops), atol=1e-6)
    pair = paired._pair_buffer
    np.testing.assert_array_equal(pair[1], pair[0][:, ::-1])  # the second row is the mirror of the first
    np.testing.assert_array_equal(pair[0], cv2.LUT(crops[-1], paired._lut))


def test_a_tflite_model_with_a_fixed_batch_stays_usable_when_it_cannot_take_two():
    from auedge.edge.backends import create_backend
    from edge_runtime_helpers import detector_file

    backend = create_backend(detector_file(), "litert", 1)  # BlazeFace: its Reshape is fixed to batch 1
    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    before = [o.copy() for o in backend.run(x)]
    assert backend.set_batch(2) is False and backend.input.shape[0] == 1
    for got, want in zip(backend.run(x), before):
        np.testing.assert_array_equal(got, want)
    assert backend.set_batch(1) is True


def test_two_run_flip_average_feeds_the_mirror_and_averages_like_flip_averaged(tmp_path):
    from auedge.edge.preprocess import flip_averaged

    est = Estimator.from_bundle(write_bundle(tmp_path / "fixed", None, with_int8=False), flip_average=True)
    seen, run = [], est.backend.run
    est.backend.run = lambda array: (seen.append(array.copy()), run(array))[1]
    crop = np.random.default_rng(4).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    values = est.estimate_aligned(crop)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[1][0], seen[0][0][:, ::-1])  # the second run saw the mirror
    reference = flip_averaged(lambda batch: np.stack([run(cv2.LUT(c, est._lut)[None])[0][0] for c in batch]), crop[None])
    np.testing.assert_array_equal(values[0], reference[0])


class _TimedBackend:
    """A stand-in model whose runs take ``single_s`` at batch 1 and ``pair_s`` at batch 2."""

    def __init__(self, single_s: float, pair_s: float, can_pair: bool = True):
        from auedge.edge.backends.base import TensorInfo

        self.single_s, self.pair_s, self.can_pair, self.batch = single_s, pair_s, can_pair, 1
        self._info = TensorInfo
        self.runs = {1: 0, 2: 0}

    @property
    def input(self):
        return self._info(name="x", shape=(self.batch, 4, 4, 3), dtype=np.dtype(np.float32), quant=None)

    def set_batch(self, batch: int) -> bool:
        if batch == 2 and not self.can_pair:
            return False
        self.batch = batch
        return True

    def run(self, array):
        import time

        assert array.shape[0] == self.batch
        self.runs[self.batch] += 1
        time.sleep(self.pair_s if self.batch == 2 else self.single_s)
        return [np.zeros((self.batch, 2), np.float32)]


def test_flip_pairing_keeps_the_pair_only_where_it_is_measured_quicker():
    from auedge.edge.flip_pairing import choose_pairing

    slow_pair = _TimedBackend(single_s=0.001, pair_s=0.004)  # two runs 2 ms, the pair 4 ms
    assert choose_pairing(slow_pair, None)[0] is False and slow_pair.batch == 1
    quick_pair = _TimedBackend(single_s=0.002, pair_s=0.002)  # two runs 4 ms, the pair 2 ms
    paired, timing = choose_pairing(quick_pair, None)
    assert paired and quick_pair.batch == 2 and timing.ratio > 1.5
    assert quick_pair.runs[1] > 0 and quick_pair.runs[2] > 0  # both ways were run
    fixed = _TimedBackend(0.0, 0.0, can_pair=False)
    assert choose_pairing(fixed, None) == (False, None) and fixed.batch == 1
    forced = _TimedBackend(0.001, 0.004)
    assert choose_pairing(forced, True) == (True, None) and forced.runs == {1: 0, 2: 0}  # not timed
    never = _TimedBackend(0.002, 0.0)
    assert choose_pairing(never, False) == (False, None) and never.batch == 1
