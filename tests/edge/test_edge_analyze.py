"""``au-edge analyze``: the per-frame CSV, the timeline PNG, the summary, bad inputs and resuming.

Videos of real faces from the motion benchmark's generator (tests/edge/video_helpers.py): face B
for 20 frames, nobody for 10, face A for 10, at 10 fps; the shipped default bundle.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from auedge.edge.analyze import AU_COLUMNS, FRAME_COLUMNS, Recording, columns_markdown, csv_columns, summarize
from auedge.edge.cli import EXIT_INTERRUPTED, main
from video_helpers import DEFAULT_BUNDLE, NO_FACE, REPO, WITH_FACE, face_video

COLUMNS = csv_columns(["AU12", "AU4"])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return face_video(folder / "leaves.avi"), face_video(folder / "short.avi", times=list(range(440, 452)))


def analyze(tmp_path: Path, *args: str) -> int:
    return main(["analyze", "--bundle", str(DEFAULT_BUNDLE), "--no-progress", "--out", str(tmp_path / "out"), *args])


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def test_one_row_per_frame_media_timestamps_no_face_rows_png_and_summary(videos, tmp_path, capsys):
    assert analyze(tmp_path, str(videos[0])) == 0
    out = tmp_path / "out"
    header, rows = read_csv(out / "leaves.csv")
    assert header == COLUMNS
    assert len(rows) == 40 and [int(r["frame"]) for r in rows] == list(range(40))  # one face at a time here
    assert [float(r["timestamp"]) for r in rows] == pytest.approx([0.1 * i for i in range(40)], abs=2e-3)
    assert all(rows[i]["success"] == "1" for i in WITH_FACE)
    for i in NO_FACE:  # the face left: success 0, the face columns empty
        assert rows[i]["success"] == "0" and rows[i]["face_id"] == rows[i]["AU12_value"] == rows[i]["confidence"] == ""
    assert rows[0]["face_id"] != rows[35]["face_id"]  # who entered is not who left
    face = rows[0]
    assert 0.0 <= float(face["AU12_value"]) <= 1.0 and face["AU12_present"] in "01" and face["AU4_observable"] == "1"
    assert float(face["confidence"]) >= 0.5 and float(face["face_w"]) > 50
    image = cv2.imread(str(out / "leaves.png"))
    assert image is not None and image.shape[1] == 1400 and image.shape[0] > 300
    summary = json.loads((out / "leaves.summary.json").read_text())
    assert summary["frames"] == 40 and summary["frames_with_face"] == 30 and summary["bad_frames"] == 0
    assert summary["duration_s"] == pytest.approx(4.0, abs=0.01) and summary["media_fps"] == pytest.approx(10.0)
    assert summary["input"]["container_frames"] == 40 and len(summary["faces"]) == 2
    au12 = summary["aus"]["AU12"]
    assert au12["threshold"] == pytest.approx(0.49) and au12["observable_share"] == pytest.approx(1.0)
    assert au12["face_s"] == pytest.approx(3.0, abs=0.01)
    printed = capsys.readouterr().out
    assert "leaves: 40 frames, 4.0 s; a face in 30 (75.0 %)" in printed and "AU12: present" in printed


def test_a_bad_input_is_one_line_and_the_others_are_still_analysed(videos, tmp_path, capsys):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    missing = tmp_path / "gone.avi"
    code = analyze(tmp_path, str(notes), str(videos[1]), str(missing))
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("au-edge analyze: error:")]
    assert code == 1
    assert len(errors) == 3 and "notes.mp4" in errors[0] and "gone.avi" in errors[1] and "2 of 3" in errors[2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["short.csv", "short.png", "short.summary.json"]
    assert len(read_csv(tmp_path / "out" / "short.csv")[1]) == 12


def test_done_inputs_are_skipped_a_half_written_one_is_not(videos, tmp_path, capsys):
    assert analyze(tmp_path, str(videos[1])) == 0
    out = tmp_path / "out"
    summary = out / "short.summary.json"
    stamp = summary.stat().st_mtime_ns
    capsys.readouterr()
    assert analyze(tmp_path, str(videos[1])) == 0
    assert "done already" in capsys.readouterr().out and summary.stat().st_mtime_ns == stamp
    assert analyze(tmp_path, "--no-tracking", str(videos[1])) == 0  # other settings: not the same result
    assert "done already" not in capsys.readouterr().out
    summary.unlink()  # as a run killed between the CSV and the summary leaves it
    assert analyze(tmp_path, str(videos[1])) == 0
    assert "done already" not in capsys.readouterr().out and summary.is_file()
    assert analyze(tmp_path, "--force", str(videos[1])) == 0
    assert "done already" not in capsys.readouterr().out


def test_ctrl_c_leaves_nothing_half_written(videos, tmp_path, monkeypatch, capsys):
    from auedge.edge import analyze as table

    real = table.TableWriter.add

    def interrupted(self, result):
        if result.index == 5:
            raise KeyboardInterrupt
        real(self, result)

    monkeypatch.setattr(table.TableWriter, "add", interrupted)
    assert analyze(tmp_path, str(videos[0]), str(videos[1])) == EXIT_INTERRUPTED
    assert "leaves not finished" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []  # no CSV, no temporary file


def test_a_folder_of_videos_in_name_order_and_outputs_that_would_collide(videos, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("b.avi", "a.avi"):
        (folder / name).write_bytes(videos[1].read_bytes())
    (folder / "readme.txt").write_text("not a video: not an input")
    assert analyze(tmp_path, str(folder)) == 0
    printed = capsys.readouterr().out
    assert printed.index("a: 12 frames") < printed.index("b: 12 frames")
    # The same video gives the same rows, face ids included, whatever was analysed before it.
    assert read_csv(tmp_path / "out" / "a.csv") == read_csv(tmp_path / "out" / "b.csv")
    assert analyze(tmp_path, "--force", str(folder / "a.avi"), f"video:{videos[1].parent / 'short.avi'}",
                   str(videos[1])) == 1
    err = capsys.readouterr().err
    assert "would overwrite those of" in err and err.count("error:") == 2


def test_summary_shares_and_longest_episode_are_time_weighted_on_observable_frames():
    # 10 frames at 0.1 s; one face in frames 0-7; AU12 present (smoothed too) in 1-3 and 5-7, frame 6 covered.
    present = np.array([0, 1, 1, 1, 0, 1, 1, 1], bool)
    observable = np.array([1, 1, 1, 1, 1, 1, 0, 1], bool)
    rec = Recording(("AU12",), np.arange(10) * 0.1, np.array([1] * 8 + [0, 0]), np.zeros(10, bool),
                    np.arange(8), np.ones(8, int), values={"AU12": present * 0.9}, smoothed={"AU12": present * 0.8},
                    present={"AU12": present}, observable={"AU12": observable})
    stats = summarize(rec, {"AU12": 0.5})
    assert stats["frames"] == 10 and stats["frames_with_face"] == 8 and stats["duration_s"] == pytest.approx(1.0)
    au = stats["aus"]["AU12"]
    assert au["observable_share"] == pytest.approx(7 / 8, abs=1e-4) and au["present_share"] == pytest.approx(5 / 7, abs=1e-4)
    assert au["episodes"] == 3  # 1-3, then 5 and 7 apart: frame 6 was not observable
    assert au["longest_episode"] == {"face_id": 1, "start_s": 0.1, "end_s": 0.3, "duration_s": 0.3}


def test_readme_documents_exactly_the_csv_columns():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert columns_markdown() in readme, "README.md's CSV column table differs: paste analyze.columns_markdown()"
    documented = re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE)
    assert [c for c in documented if c in FRAME_COLUMNS or c.startswith("AU*_")] == [
        *FRAME_COLUMNS, *(f"AU*_{s}" for s in AU_COLUMNS)]


def test_a_camera_stopped_with_ctrl_c_is_finished_not_dropped(tmp_path, monkeypatch, capsys):
    from auedge.edge import streaming
    from auedge.edge.sources.base import Frame, FrameSource

    image = cv2.cvtColor(cv2.imread(str(REPO / "tests" / "fixtures" / "default_bundle" / "face0.png")),
                         cv2.COLOR_BGR2RGB)

    class Camera(FrameSource):  # six frames 0.2 s apart, then the user presses Ctrl-C
        live = True

        def read(self):
            index = self._take_index()
            if index == 6:
                raise KeyboardInterrupt
            return Frame(image=image, ts=1000.0 + 0.2 * index, index=index)

    monkeypatch.setattr(streaming, "make_source", lambda uri, pace=True: Camera())
    assert analyze(tmp_path, "camera:0") == 0
    _, rows = read_csv(tmp_path / "out" / "camera0.csv")
    assert len(rows) == 6 and [float(r["timestamp"]) for r in rows] == pytest.approx([0.2 * i for i in range(6)])
    summary = json.loads((tmp_path / "out" / "camera0.summary.json").read_text())
    assert summary["input"]["ended"] == "stopped (Ctrl-C)" and summary["frames"] == 6
    assert "camera0: 6 frames" in capsys.readouterr().out


def test_a_looping_source_is_refused_and_progress_is_drawn_in_place(tmp_path, capsys):
    import io

    from auedge.edge.analyze_run import Progress

    assert analyze(tmp_path, "video:clip.avi?loop=1") == 1
    assert "loop= would make the input endless" in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    progress = Progress("clip", 200, True, err)
    progress.interval = 0.0
    progress.update(50)
    progress.close()
    assert err.getvalue().startswith("\rclip: 50/200 (25 %) frames, ") and "min left" in err.getvalue()
    quiet = Terminal()
    Progress("clip", 200, False, quiet).update(50)
    assert quiet.getvalue() == ""


def test_the_timeline_shades_no_face_and_not_observable_spans():
    from auedge.edge import timeline

    # 20 frames at 0.5 s: a face in 0-13 whose AU12 region is covered in 5-9; no face in 14-19.
    observable = np.array([True] * 5 + [False] * 5 + [True] * 4)
    value = np.full(14, 0.2)
    rec = Recording(("AU12",), np.arange(20) * 0.5, np.array([1] * 14 + [0] * 6), np.zeros(20, bool), np.arange(14),
                    np.ones(14, int), values={"AU12": value}, smoothed={"AU12": value},
                    present={"AU12": np.zeros(14, bool)}, observable={"AU12": observable})
    image = timeline.draw_timeline(rec, {"AU12": 0.5})
    axes = timeline._Axes(10.0, timeline.HEADER + timeline.GAP, 0.0, 1.0)
    y = axes.top + 10  # above the lines and the threshold

    def colour(seconds: float) -> tuple[int, ...]:
        return tuple(int(c) for c in image[y, int(axes.x(seconds))])

    assert colour(1.0) == timeline.PANEL_BG
    assert colour(3.5) == timeline.COVERED  # frames 5-9: 2.5 s to 5.0 s
    assert colour(8.0) == timeline.NO_FACE  # frames 14-19: 7.0 s to 10.0 s
    assert colour(6.0) == timeline.PANEL_BG


def test_an_unreadable_video_prints_only_our_line_not_ffmpegs(tmp_path):
    """FFmpeg writes its own complaint to the process's stderr (not through Python): the user must
    see one line naming the file, not an unlabelled 'moov atom not found' beside it."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run([sys.executable, "-m", "auedge.edge.cli", "analyze", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(("INFO:", "au-edge: "))]
    assert all(line.startswith("au-edge analyze: error:") for line in lines), lines
    assert "notes.mp4" in lines[0]
