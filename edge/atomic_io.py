"""Files that appear whole or not at all: written under a temporary name beside the target, then renamed.

Why: ``au-edge analyze`` skips inputs whose outputs exist; a CSV cut short by a crash or Ctrl-C
must never look done. ``os.replace`` within one folder is atomic on POSIX filesystems.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO]:
    """A file handle on a temporary name beside ``path``, renamed to ``path`` when the block ends
    normally and removed when it raises (Ctrl-C included). ``mode`` is ``"w"`` (UTF-8 text) or ``"wb"``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` whole or not at all."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
