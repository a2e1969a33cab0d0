"""DaemonConfig: TOML < flags, every option is a flag, bad config is one line naming key and fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from auedge.edge import daemon
from auedge.edge.daemon_config import SECTIONS, ConfigError, DaemonConfig, build_parser, config_from_args
from auedge.edge.default_bundle import ENV_VAR

EXAMPLE = Path(__file__).resolve().parents[2] / "edge" / "au-edge.example.toml"


def parse(argv):
    return config_from_args(build_parser().parse_args(argv))


def write(tmp_path, text):
    path = tmp_path / "au-edge.toml"
    path.write_text(text)
    return path


def test_toml_then_flags_override(tmp_path):
    path = write(tmp_path, """
device = "kitchen"
source = "camera:0"
target_fps = 5
[smoothing]
method = "ema"
alpha = 0.3
[http]
port = 9000
enabled = true
[mqtt]
host = "broker.local"
""")
    cfg = parse(["--config", str(path), "--target-fps", "12.5", "--http-port", "0", "--no-http-enabled",
                 "--smoothing-alpha", "0.7"])
    assert cfg.device == "kitchen" and cfg.source == "camera:0"
    assert cfg.target_fps == 12.5 and isinstance(cfg.target_fps, float)
    assert cfg.smoothing.method == "ema" and cfg.smoothing.alpha == 0.7
    assert cfg.http.port == 0 and cfg.http.enabled is False
    assert cfg.mqtt.host == "broker.local" and cfg.mqtt.port == 1883


def test_every_option_has_a_flag():
    parser = build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    for f in dataclasses.fields(DaemonConfig):
        if f.name in SECTIONS:
            for sub in dataclasses.fields(f.default_factory()):
                assert f"--{f.name}-{sub.name}".replace("_", "-") in flags
        else:
            assert f"--{f.name}".replace("_", "-") in flags


def test_example_config_is_valid():
    cfg = parse(["--config", str(EXAMPLE)])
    assert cfg.source.startswith("picamera2") and cfg.jsonl.path and cfg.http.host == "127.0.0.1"
    assert cfg.flip_average == "bundle" and parse(["--config", str(EXAMPLE), "--flip-average", "off"]).flip_average == "off"
    assert cfg.detect_region == "" and parse(["--detect-region", "0.3,0.2,0.4,0.5"]).detect_region == "0.3,0.2,0.4,0.5"


@pytest.mark.parametrize(("text", "needles"), [
    ("[http]\nport = \"eighty\"\n", ["'http.port'", "an integer", "--http-port"]),
    ("[jsonl]\npth = \"x\"\n", ["'jsonl.pth'", "valid keys in [jsonl]", "path"]),
    ("fps = 10\n", ["unknown key 'fps'", "target_fps"]),
    ("target_fps = -1\n", ["target_fps must be >= 0"]),
    ("source = \"webcam\"\n", ["source:", "camera:N"]),
    ("[smoothing]\nmethod = \"kalman\"\n", ["smoothing.method", "one_euro"]),
    ("http = 3\n", ["http must be a table"]),
    ("threads = 0\n", ["threads must be >= 1", "--threads"]),
    ("flip_average = \"maybe\"\n", ["flip_average must be bundle, on or off"]),
    ("detect_region = \"0.5,0.5,0.6,0.2\"\n", ["detect_region:", "not inside the frame"]),
    ("detect_region = \"pillow\"\n", ["detect_region:", "x,y,w,h"]),
    ("[debug]\nlog_records = \"yes\"\n", ["'debug.log_records'", "true or false"]),
    ("device = \"a/b\"\n", ["device", "MQTT topic"]),
    ("this is not toml\n", ["not valid TOML"]),
])
def test_bad_config_is_one_clear_line(tmp_path, capsys, text, needles):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        parse(["--config", str(path)])
    for needle in needles:
        assert needle in str(info.value)
    assert daemon.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("au-edge daemon: config error:")


def _float_keys() -> list[tuple[str | None, str]]:
    """(section, name) of every float option: a new one is tested without editing this file."""
    keys = [(None, f.name) for f in dataclasses.fields(DaemonConfig)
            if f.name not in SECTIONS and isinstance(f.default, float)]
    for section in SECTIONS:
        options = getattr(DaemonConfig(), section)
        keys += [(section, f.name) for f in dataclasses.fields(options) if isinstance(getattr(options, f.name), float)]
    return keys


FLOAT_KEYS = _float_keys()


def test_float_keys_are_found():
    keys = {f"{s}.{n}" if s else n for s, n in FLOAT_KEYS}
    assert {"target_fps", "reopen_backoff_s", "http.stale_after_s", "smoothing.beta"} <= keys


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(("section", "name"), FLOAT_KEYS, ids=lambda v: str(v))
def test_every_float_key_must_be_finite_in_file_and_flag(tmp_path, capsys, section, name, value):
    key = f"{section}.{name}" if section else name
    text = f"[{section}]\n{name} = {value}\n" if section else f"{name} = {value}\n"
    flag = f"--{key.replace('.', '-').replace('_', '-')}"
    for argv in (["--config", str(write(tmp_path, text))], [f"{flag}={value}"]):
        with pytest.raises(ConfigError) as info:
            parse(argv)
        assert str(info.value).startswith(key) and "finite" in str(info.value), str(info.value)
        assert daemon.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and key in err[0]


@pytest.mark.parametrize("text", ["target_fps = 1e9\n", "stall_timeout_s = 1e12\n", "[http]\nkeepalive_s = 1e300\n"])
def test_numbers_out_of_range_are_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="target_fps must be|more than a day"):
        parse(["--config", str(write(tmp_path, text))])


def test_missing_config_file(tmp_path, capsys):
    assert daemon.main(["--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_bundle_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-bundle-here"))  # no bundle given and no default installed
    assert daemon.main(["--source", f"images:{tmp_path}", "--no-http-enabled"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no default bundle is installed" in err[0] and "--bundle" in err[0]


def test_unreadable_bundle_is_one_line(tmp_path, capsys):
    (tmp_path / "bundle").mkdir()
    assert daemon.main(["--source", f"images:{tmp_path}", "--bundle", str(tmp_path / "bundle"),
                        "--no-http-enabled"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot load the bundle" in err[0]
