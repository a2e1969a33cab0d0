"""scripts/arm64-check.sh: its judge fails when parity does not hold, its fake picamera2 gives the real frame
formats, and the whole check passes on an emulated arm64 system when this machine can run one.

The full run (``test_arm64_check_passes``) needs root, an x86_64 host, binfmt_misc and a cached arm64 root
filesystem (``scripts/arm64-check.sh --rootfs-only`` makes it once, about 5 minutes; CI keeps it in the
job's folder under .cache/arm64). Without the cache it skips with one line, so the default test run does not
pay for a cold build; with it, a run reinstalls the package under qemu (minutes, see the script's report).
``AU_EDGE_ARM64_CHECK=0`` skips it even then; ``=1`` lets it build a missing root filesystem.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))

import arm64_check
import arm64_parity

CACHE = Path(os.environ.get("AU_EDGE_ARM64_CACHE", REPO / ".cache" / "arm64"))


def _model(step: float | None, aus: list[dict], boxes: list[list[float]] | None = None) -> dict:
    boxes = boxes or [[10.0, 10.0, 50.0, 50.0]] * len(aus)
    faces = [[{"box": box, "score": 0.9, "aus": au}] if au else [] for au, box in zip(aus, boxes)]
    return {"name": "m", "precision": "int8" if step else "fp32", "format": "onnx", "backend": "onnxruntime",
            "detector_backend": "litert", "output_step": step,
            "images": [{"image": f"i{n}.png", "faces": f, "same_crop": [list(face["aus"].values()) for face in f]}
                       for n, f in enumerate(faces)]}


def test_fp32_parity_holds_within_1e_4_on_the_same_crop_and_fails_beyond():
    x86 = _model(None, [{"AU12": 0.5}, {"AU12": 0.25}])
    near = _model(None, [{"AU12": 0.5 + 0.9e-4}, {"AU12": 0.25}])
    far = _model(None, [{"AU12": 0.5 + 2e-4}, {"AU12": 0.25}])
    assert arm64_parity.model_parity(x86, near)["ok"]
    row = arm64_parity.model_parity(x86, far)
    assert not row["ok"] and "i0.png" in row["problems"][0]


def test_parity_without_any_face_is_not_a_pass():
    assert not arm64_parity.model_parity(_model(None, [{}, {}]), _model(None, [{}, {}]))["ok"]


def test_parity_fails_when_only_the_same_crop_values_differ():
    """The interpreter itself off, even where the end-to-end values happen to agree."""
    x86 = _model(None, [{"AU12": 0.5}])
    arm = _model(None, [{"AU12": 0.5}])
    arm["images"][0]["same_crop"] = [[0.5 + 3e-4]]
    problems = arm64_parity.model_parity(x86, arm)["problems"]
    assert len(problems) == 1 and "same crop" in problems[0]


def test_int8_parity_allows_one_output_step_not_two():
    step = 1 / 256
    x86 = _model(step, [{"AU12": 128 * step}])
    assert arm64_parity.model_parity(x86, _model(step, [{"AU12": 129 * step}]))["ok"]
    assert not arm64_parity.model_parity(x86, _model(step, [{"AU12": 130 * step}]))["ok"]


def test_parity_fails_on_a_missing_or_moved_face():
    x86 = _model(None, [{"AU12": 0.5}, {"AU12": 0.3}])
    missing = _model(None, [{"AU12": 0.5}, {}])
    missing["images"][1]["same_crop"] = x86["images"][1]["same_crop"]  # cut at the x86 keypoints on both
    moved = _model(None, [{"AU12": 0.5}, {"AU12": 0.3}], boxes=[[10.0, 10.0, 50.0, 50.0], [40.0, 40.0, 50.0, 50.0]])
    assert "1 faces on x86, 0 on arm64" in arm64_parity.model_parity(x86, missing)["problems"][0]
    assert "IoU" in arm64_parity.model_parity(x86, moved)["problems"][0]


def _camera_frames(tmp_path: Path) -> tuple[list[np.ndarray], Path]:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(2)]
    lores = np.stack([np.zeros((360, 320), np.uint8)] * 2)
    path = tmp_path / "camera.npz"
    np.savez(path, main=np.stack([f[..., ::-1] for f in frames]), lores=lores)
    return frames, path


def test_fake_picamera2_gives_the_source_its_rgb_frames(tmp_path, monkeypatch):
    """Through the real Picamera2Source: the fake's B,G,R buffer comes out as the RGB frame it was made from."""
    arm64_check._write_fake_picamera2(tmp_path / "site")
    frames, npz = _camera_frames(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("AU_EDGE_FAKE_PICAMERA2_FRAMES", str(npz))
    monkeypatch.setenv("AU_EDGE_FAKE_PICAMERA2_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setitem(sys.modules, "picamera2", None)  # so that teardown leaves no fake picamera2 imported
    monkeypatch.delitem(sys.modules, "picamera2")
    monkeypatch.delenv("AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR", raising=False)
    from auedge.edge.sources import open_source

    source = open_source("picamera2:0?size=640x480&fps=10")
    try:
        got = [source.read().image for _ in range(3)]
    finally:
        source.close()
    np.testing.assert_array_equal(got[0], frames[0])
    np.testing.assert_array_equal(got[1], frames[1])
    np.testing.assert_array_equal(got[2], frames[0])
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    configured = next(c["config"] for c in calls if c["call"] == "configure")
    assert configured["main"] == {"size": [640, 480], "format": "RGB888"}
    assert configured["controls"] == {"FrameRate": 10.0}


def test_fake_picamera2_serves_frames_by_time_like_a_sensor(tmp_path, monkeypatch):
    """Frames nobody captured in time are gone (served per call, a reader losing a fixed number of frames
    per processed one saw one image only); capture_array waits for the next frame, never repeats one."""
    arm64_check._write_fake_picamera2(tmp_path / "site")
    _, npz = _camera_frames(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("AU_EDGE_FAKE_PICAMERA2_FRAMES", str(npz))
    monkeypatch.setenv("AU_EDGE_FAKE_PICAMERA2_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.delenv("AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR", raising=False)
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.delitem(sys.modules, "picamera2")
    import picamera2

    camera = picamera2.Picamera2(0)
    camera.configure(camera.create_video_configuration(main={"size": (640, 480), "format": "RGB888"},
                                                       controls={"FrameRate": 20.0}))
    camera.start()
    camera.capture_array()
    camera.capture_array()
    time.sleep(0.2)  # four frame periods
    camera.capture_array()
    frames = [json.loads(line)["frame"] for line in (tmp_path / "calls.jsonl").read_text().splitlines()
              if json.loads(line)["call"] == "capture_array"]
    assert frames[1] > frames[0] and frames[2] >= frames[1] + 4


def test_fake_picamera2_refuses_a_numpy_other_than_the_systems(tmp_path):
    """As Debian's python3-picamera2 does (its simplejpeg is built against the OS numpy): a venv's numpy 2 breaks it."""
    arm64_check._write_fake_picamera2(tmp_path / "site")
    major = np.__version__.split(".")[0]
    code = "import picamera2"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    other = subprocess.run([sys.executable, "-c", code], env={**env, "AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR": "0"},
                           capture_output=True, text=True, check=False)
    assert other.returncode != 0 and "numpy.dtype size changed" in other.stderr
    same = subprocess.run([sys.executable, "-c", code], env={**env, "AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR": major},
                          capture_output=True, text=True, check=False)
    assert same.returncode == 0, same.stderr


def test_picamera2_records_in_the_wrong_colour_order_fail_the_check():
    plan = {"daemon_frames": 2, "camera_size": [640, 480], "lores_size": [320, 240],
            "camera_images": ["camera_0.png", "camera_1.png"]}
    face = {"box": [100.0, 100.0, 200.0, 200.0], "score": 0.9}
    measured = {"images": [{"image": "camera_0.png", "faces": [{**face, "aus": {"AU12": 0.61, "AU4": 0.33}}]},
                           {"image": "camera_1.png", "faces": [{**face, "aus": {"AU12": 0.52, "AU4": 0.48}}]}]}
    calls = [{"call": "configure", "module": "/usr/lib/python3/dist-packages/picamera2/__init__.py",
              "config": {"main": {"size": [640, 480], "format": "RGB888"}, "controls": {"FrameRate": 10.0},
                         "lores": {"size": [320, 240], "format": "YUV420"}}},
             {"call": "capture_array", "module": "x", "stream": "main"},
             {"call": "capture_array", "module": "x", "stream": "lores"}]

    def run(aus_list, size):
        records = [{"frame": i, "image_size": size, "faces": [{**face, "aus": aus}]} for i, aus in enumerate(aus_list)]
        return {"exit": 0, "log_tail": [], "records": records, "camera_calls": calls,
                "http": {"latest": {"faces": []}, "healthz_status": 200, "metrics_frames": ["au_edge_frames_total 2"]}}

    right = [{"AU12": 0.61, "AU4": 0.33}, {"AU12": 0.52, "AU4": 0.48}]
    swapped = [{"AU12": 0.33, "AU4": 0.61}, {"AU12": 0.48, "AU4": 0.52}]
    daemon = {"runs": {"video": run(right, [640, 480]), "picamera2": run(right, [640, 480]),
                       "picamera2_lores": run(right, [320, 240])}}
    assert not any(arm64_parity.daemon_checks(plan, daemon, measured).values())
    bad = copy.deepcopy(daemon)
    bad["runs"]["picamera2"] = run(swapped, [640, 480])
    problems = arm64_parity.daemon_checks(plan, bad, measured)["picamera2"]
    assert any("colour order" in p for p in problems)


def _why_not_full_run() -> str | None:
    if os.environ.get("AU_EDGE_ARM64_CHECK") == "0":
        return "AU_EDGE_ARM64_CHECK=0"
    if os.geteuid() != 0:
        return "arm64 check needs root (apt, binfmt_misc, chroot)"
    if platform.machine() != "x86_64":
        return f"arm64 check emulates arm64 from an x86_64 host, not {platform.machine()}"
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        mounted = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)],
                                 check=False, capture_output=True)
        if mounted.returncode != 0:
            return "arm64 check needs binfmt_misc, which cannot be mounted here"
    if not (CACHE / "rootfs-bookworm" / ".au-edge-recipe").is_file() and os.environ.get("AU_EDGE_ARM64_CHECK") != "1":
        return (f"no cached arm64 root filesystem in {CACHE}: run scripts/arm64-check.sh --rootfs-only once "
                "(about 5 min) or set AU_EDGE_ARM64_CHECK=1")
    return None


@pytest.mark.arm64
def test_arm64_check_passes():
    reason = _why_not_full_run()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(["bash", str(SCRIPTS / "arm64-check.sh")], capture_output=True, text=True, timeout=3600,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads((CACHE / "runs" / "latest" / "report.json").read_text())
    assert report["ok"] and report["arm64_platform"]["machine"] == "aarch64"
    assert {row["precision"] for row in report["parity"]} >= {"fp32"}
    assert all(row["faces_arm64"] > 0 for row in report["parity"])
