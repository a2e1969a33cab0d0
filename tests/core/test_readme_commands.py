"""Every ``au-edge`` command the README shows parses as written (and its daemon config validates).

A README command that the CLI refuses is the first thing a new user meets; this keeps the two together.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from auedge.edge.cli import _build_parser
from auedge.edge.daemon_config import build_parser, config_from_args

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    commands = [re.sub(r"^(\.venv/bin/)?au-edge ", "", line) for line in lines
                if re.match(r"(\.venv/bin/)?au-edge ", line)]
    return [re.sub(r"\[([^\]]+)\]", r"\1", command) for command in commands]  # [--bundle X]: optional


def test_readme_shows_the_first_hour_commands():
    commands = readme_commands()
    assert "infer face.jpg" in commands and "daemon --source camera:0" in commands


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses(command, monkeypatch):
    monkeypatch.chdir(REPO)  # the README's paths are relative to the checkout
    argv = shlex.split(command)
    if argv[0] == "daemon":
        config_from_args(build_parser().parse_args(argv[1:]))
    else:
        _build_parser().parse_args(argv)
