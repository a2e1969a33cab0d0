"""auedge.edge.stream (edge/streaming.py): one result per frame read, on the media clock, with the daemon's own values.

Real faces (the default bundle's fixture images) in a short video from the motion benchmark's
generator: face B for 20 frames, nobody for 10, face A for 10, at 10 fps.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from auedge.edge.analyze import csv_columns
from auedge.edge.daemon import run
from auedge.edge.daemon_config import DaemonConfig
from auedge.edge.estimator import Estimator
from auedge.edge.smoothing import SmoothingOptions
from auedge.edge.sources import make_source
from auedge.edge.sources.base import SourceError
from auedge.edge.streaming import StreamOptions, stream, to_dataframe, to_rows
from auedge.edge.tracking import TrackingOptions
from video_helpers import DEFAULT_BUNDLE, NO_FACE, WITH_FACE, face_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return face_video(tmp_path_factory.mktemp("video") / "leaves.avi")


@pytest.fixture(scope="module")
def estimator():
    est = Estimator.from_bundle(DEFAULT_BUNDLE, tracking=TrackingOptions())
    yield est
    est.close()


@pytest.fixture()
def no_sleeping(monkeypatch):
    """Any pacing wait fails the test: offline reading must never sleep."""
    from auedge.edge.sources import base

    def refuse(seconds):
        raise AssertionError(f"a source paced its reads (slept {seconds} s)")

    monkeypatch.setattr(base.time, "sleep", refuse)


def test_one_result_per_frame_on_the_media_clock_never_paced(video, estimator, no_sleeping):
    # ?fps=2 would make a paced replay sleep 0.5 s a frame; the stream must read straight through.
    results = list(stream(f"video:{video}?fps=2", estimator=estimator))
    assert [r.index for r in results] == list(range(40))
    # The container's 10 fps clock, not the decoding speed (and not the ?fps= of a paced replay).
    assert [r.media_s for r in results] == pytest.approx([0.1 * i for i in range(40)], abs=2e-3)
    assert all(len(results[i].faces) == 1 for i in WITH_FACE)
    assert all(results[i].faces == [] and not results[i].bad for i in NO_FACE)
    face = results[0].faces[0]
    assert results[0].au_names == ("AU12", "AU4")
    assert set(face.aus) == set(face.aus_smoothed) == set(face.observable) == {"AU12", "AU4"}
    assert face.track_id is not None and {"detect", "estimate", "smooth", "total"} <= set(results[0].timings_ms)
    # The face that left is not the one that entered: a new id.
    assert results[30].faces[0].track_id != results[0].faces[0].track_id


def test_stream_gives_the_daemons_values_for_the_same_video(video, tmp_path):
    cfg = DaemonConfig(device="t", source=f"video:{video}", bundle=str(DEFAULT_BUNDLE), threads=1, target_fps=0)
    cfg.http.enabled = False
    cfg.jsonl.path = str(tmp_path / "records.jsonl")
    assert run(cfg) == 0
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    est = Estimator.from_bundle(DEFAULT_BUNDLE, num_threads=1, tracking=cfg.tracking)
    results = list(stream(f"video:{video}", StreamOptions(smoothing=cfg.smoothing), estimator=est))
    est.close()
    assert len(records) == len(results) == 40
    for record, result in zip(records, results):
        ours = [f.to_dict() for f in result.faces]
        assert [f["aus"] for f in record["faces"]] == [f["aus"] for f in ours]
        assert [f["aus_smoothed"] for f in record["faces"]] == [f["aus_smoothed"] for f in ours]
        assert [f["track_id"] for f in record["faces"]] == [f["track_id"] for f in ours]


def test_an_image_folder_counts_its_undecodable_file_as_a_bad_frame(tmp_path, estimator, no_sleeping):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((48, 64, 3), 90, np.uint8))
    (tmp_path / "f1.png").write_bytes(b"not a png")
    results = list(stream(f"images:{tmp_path}?fps=25", estimator=estimator))
    assert [r.bad for r in results] == [False, True, False] and "f1.png" in results[1].error
    assert [r.media_s for r in results] == pytest.approx([0.0, 0.04, 0.08])  # ?fps= is the stills' clock
    rows = to_rows(results)
    assert len(rows) == 3 and [row["success"] for row in rows] == [0, 0, 0]
    assert list(rows[1]) == csv_columns(["AU12", "AU4"])


def test_an_estimate_that_fails_is_a_bad_result_and_the_stream_goes_on(video, estimator, monkeypatch):
    real = estimator.estimate
    calls = {"n": 0}

    def flaky(image):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("interpreter hiccup")
        return real(image)

    monkeypatch.setattr(estimator, "estimate", flaky)
    results = list(stream(str(video), StreamOptions(max_frames=5), estimator=estimator))  # a plain path: a video
    assert len(results) == 5 and [r.bad for r in results] == [False, False, True, False, False]
    assert "interpreter hiccup" in results[2].error


def test_an_unreadable_source_raises_before_any_result(tmp_path, estimator):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(SourceError, match="notes.mp4"):
        next(stream(bad, estimator=estimator))


def test_stream_options_refuse_bad_values():
    with pytest.raises(ValueError, match="max_frames"):
        StreamOptions(max_frames=-1)
    with pytest.raises(ValueError, match="smoothing.method"):
        StreamOptions(smoothing=SmoothingOptions(method="kalman"))


def test_a_paced_source_still_paces_when_asked():
    assert make_source("video:x.avi?fps=4").pace_period_s == pytest.approx(0.25)
    assert make_source("video:x.avi?fps=4", pace=False).pace_period_s == 0.0


def test_to_dataframe_has_the_documented_columns(video, estimator):
    results = list(stream(video, StreamOptions(max_frames=25), estimator=estimator))
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            to_dataframe(results)
        return
    frame = to_dataframe(results)
    assert list(frame.columns) == csv_columns(["AU12", "AU4"]) and len(frame) == 25
    assert frame["success"].tolist() == [1] * 20 + [0] * 5


def test_auedge_edge_stream_is_the_function_even_once_the_daemon_is_imported():
    import auedge.edge
    import auedge.edge.daemon  # imports auedge.edge.streaming, which must not hide the function

    assert auedge.edge.stream is stream and auedge.edge.StreamOptions is StreamOptions
    assert auedge.edge.to_rows is to_rows and auedge.edge.to_dataframe is to_dataframe
