"""The demo ends with a summary: where its bundle is and the next three commands, typed so they work here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from auedge import demo


def test_demo_ends_with_the_bundle_and_three_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "demo-synthetic"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"test": {"per_au": {"au12": {"icc31": 0.9}}}}))
    for stage in ("run_stage", "float_vs_int8", "edge_table"):  # training, export, tables: not the point here
        monkeypatch.setattr(demo, stage, lambda *args, **kwargs: None)
    monkeypatch.setattr(demo, "default_bundle_installed", lambda: True)
    monkeypatch.setattr(demo, "au_edge_command", lambda: "au-edge")
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("== summary"):].splitlines()
    assert summary[1].startswith(f"bundle made by this demo: {tmp_path / 'bundles' / 'demo-synthetic'}")
    commands = [line.split("#")[0].strip() for line in summary if line.startswith("  au-edge ")]
    assert commands == ["au-edge bundle-info bundles/demo-synthetic", "au-edge infer face.jpg",
                        "au-edge daemon --source camera:0"]


def test_commands_name_the_demo_bundle_when_no_default_is_installed():
    lines = demo.next_steps(Path("bundles/d"), "au-edge", default_installed=False)
    assert "  au-edge infer --bundle bundles/d face.jpg" in "\n".join(lines)


def test_au_edge_is_spelled_as_this_shell_finds_it(monkeypatch, tmp_path):
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "au-edge").write_text("#!/bin/sh\n")
    (venv_bin / "au-edge").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # venv not activated: only the path reaches it
    assert demo.au_edge_command() == "venv/bin/au-edge"
    assert demo.next_steps(Path("b"), "venv/bin/au-edge", True)[-1] == \
        "  (or first `. venv/bin/activate`, then type just au-edge)"
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin")
    assert demo.au_edge_command() == "au-edge"
