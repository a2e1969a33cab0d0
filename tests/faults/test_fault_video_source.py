"""Issue 36 item 5: ``video:`` pointing at a file that is not a video fails at start with one line
naming the file and exit 2, as a missing video does (OpenCV "opens" some such files and then reads
no frame: the daemon used to stop cleanly with "stopped: 0 frames" and exit 0)."""

from __future__ import annotations

import pytest
from auedge.edge.daemon import main


def _daemon(bundle, source: str, tmp_path) -> int:
    return main(["--bundle", str(bundle), "--source", source, "--no-http-enabled",
                 "--jsonl-path", str(tmp_path / "out" / "records.jsonl"), "--debug-max-frames", "1"])


@pytest.mark.parametrize(("name", "content"), [
    ("notes.mjpeg", b"hello\n" * 100),  # OpenCV opens it (MJPEG demuxer) and finds no frame
    ("clip.h264", b"hi\n"),  # opens as a raw H.264 stream with no frame
    ("clip.mp4", b"not a video at all"),  # refused by OpenCV's open already
])
def test_video_source_that_is_not_a_video_fails_at_start(write_tiny_bundle, tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert _daemon(write_tiny_bundle(), f"video:{path}", tmp_path) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and str(path) in errors[0], errors
    assert not (tmp_path / "out").exists()  # nothing written for a run that never started


def test_video_source_that_is_a_folder_says_so(write_tiny_bundle, tmp_path, capsys):
    assert _daemon(write_tiny_bundle(), f"video:{tmp_path}", tmp_path) == 2
    assert f"{tmp_path} is a folder" in capsys.readouterr().err


def test_a_real_video_still_runs(write_tiny_bundle, tmp_path):
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for value in (40, 80, 120):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    assert main(["--bundle", str(write_tiny_bundle()), "--source", f"video:{path}", "--no-http-enabled",
                 "--jsonl-path", str(tmp_path / "records.jsonl")]) == 0
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 3
