"""Every command the docs quote names a script or module that exists.

Why: README.md, DATA.md, the experiments' README and table files and the other Markdown files are
how a reader reruns a result. When a tool moves (train/compare_mix.py went to train/research/) a
stale quote still reads fine and fails only for the reader who pastes it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = re.compile(r"\bpython3? (?:-\S+ )*((?:train|convert|benchmarks|edge|scripts)/[\w/.-]+\.py)\b")
MODULE = re.compile(r"\bpython3? -m (auedge(?:\.\w+)+)")


def documents() -> list[Path]:
    """The project's Markdown files (not those of the venv, builds or caches)."""
    skip = {".venv", ".git", "build", ".gradle", "node_modules", ".pytest_cache", ".ruff_cache"}
    return sorted(d for d in REPO.rglob("*.md") if not skip & set(d.relative_to(REPO).parts))


def test_quoted_scripts_exist():
    missing = sorted({f"{doc.relative_to(REPO)}: {path}" for doc in documents()
                      for path in SCRIPT.findall(doc.read_text(encoding="utf-8")) if not (REPO / path).is_file()})
    assert not missing, f"these quoted scripts do not exist (moved? update the doc): {missing}"


def test_quoted_modules_exist():
    quoted = {(doc, name) for doc in documents() for name in MODULE.findall(doc.read_text(encoding="utf-8"))}
    assert any(name == "auedge.train.research.experiments" for _, name in quoted)  # the pattern still matches
    missing = sorted(f"{doc.relative_to(REPO)}: {name}" for doc, name in quoted
                     if importlib.util.find_spec(name.rstrip(".")) is None)
    assert not missing, f"these quoted modules do not exist (moved? update the doc): {missing}"
