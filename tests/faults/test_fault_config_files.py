"""Issue 36 item 8: every file- or folder-valued key of the daemon config that cannot be used
(missing, a file where a folder is needed, a folder where a file is, unreadable, not text) stops
the daemon at start with one line naming the key and the path, exit 2; not a bare
``[Errno 17] File exists: '...'``, and not a warning per frame with exit 0 (debug.save_frames_dir)."""

from __future__ import annotations

import os
import socket

import pytest
from auedge.edge.daemon import main


@pytest.fixture
def frames(tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((48, 64, 3), 90, np.uint8))
    return folder


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("a file, not a folder\n")
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_daemon(bundle, frames, tmp_path, *flags: str) -> int:
    return main(["--bundle", str(bundle), "--source", f"images:{frames}", "--no-http-enabled",
                 "--jsonl-path", str(tmp_path / "out" / "records.jsonl"), "--debug-max-frames", "1", *flags])


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line]


def mqtt(*flags: str) -> tuple[str, ...]:
    return ("--mqtt-host", "127.0.0.1", "--mqtt-port", str(closed_port()), "--mqtt-flush-timeout-s", "0.1", *flags)


CASES = {
    # key: flags, given the fixtures' paths (a_file is a regular file, tmp is a folder)
    "jsonl.path (under a file)": ("jsonl.path", lambda f, t: ("--jsonl-path", f"{f}/records.jsonl")),
    "jsonl.path (a folder)": ("jsonl.path", lambda f, t: ("--jsonl-path", str(t))),
    "mqtt.state_dir (under a file)": ("mqtt.state_dir", lambda f, t: mqtt("--mqtt-state-dir", f"{f}/state")),
    "mqtt.password_file (a folder)": ("mqtt.password_file",
                                      lambda f, t: mqtt("--mqtt-username", "u", "--mqtt-password-file", str(t))),
    "mqtt.ca_file (missing)": ("mqtt.ca_file", lambda f, t: mqtt("--mqtt-tls", "--mqtt-ca-file", f"{t}/absent.pem")),
    "debug.save_frames_dir (under a file)": ("debug.save_frames_dir",
                                             lambda f, t: ("--debug-save-frames-dir", f"{f}/frames")),
    "http.token_file (missing)": ("http.token_file",
                                  lambda f, t: ("--http-enabled", "--http-port", "0", "--http-token-file", f"{t}/no")),
    "http.cert_file (a folder)": ("http.cert_file", lambda f, t: ("--http-enabled", "--http-port", "0",
                                                                   "--http-cert-file", str(t), "--http-key-file", str(f))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_unusable_path_names_its_key(write_tiny_bundle, frames, a_file, tmp_path, capsys, case):
    key, flags = CASES[case]
    given = flags(a_file, tmp_path)
    assert run_daemon(write_tiny_bundle(), frames, tmp_path, *given) == 2
    errors = error_lines(capsys)
    path = given[given.index(f"--{key.replace('.', '-').replace('_', '-')}") + 1]
    assert len(errors) == 1 and key in errors[0] and path in errors[0], errors


def test_password_file_that_is_not_text_names_its_key(write_tiny_bundle, frames, tmp_path, capsys):
    secret = tmp_path / "password"
    secret.write_bytes(b"\xff\xfe\x00 not utf-8")
    secret.chmod(0o600)
    code = run_daemon(write_tiny_bundle(), frames, tmp_path,
                      *mqtt("--mqtt-username", "u", "--mqtt-password-file", str(secret)))
    errors = error_lines(capsys)
    assert code == 2 and len(errors) == 1 and f"mqtt.password_file {secret}" in errors[0], errors


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the mode says")
def test_unreadable_and_unwritable_paths_name_their_key(write_tiny_bundle, frames, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    secret.chmod(0o000)
    bundle = write_tiny_bundle()
    for key, flags in [("jsonl.path", ("--jsonl-path", f"{locked}/records.jsonl")),
                       ("debug.save_frames_dir", ("--debug-save-frames-dir", str(locked))),
                       ("mqtt.password_file", mqtt("--mqtt-username", "u", "--mqtt-password-file", str(secret)))]:
        assert run_daemon(bundle, frames, tmp_path, *flags) == 2
        errors = error_lines(capsys)
        assert len(errors) == 1 and key in errors[0], errors
