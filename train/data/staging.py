"""Writing an imported dataset folder all at once: built under a temporary name, then renamed.

Why: an import of FER2013 or MTFL writes tens of thousands of files. Stopped half-way (bad row,
Ctrl-C, full disk) it must leave no folder that looks like a dataset, so the loader never trains
on part of one. The importers build everything in ``.NAME.tmp-XXXX`` beside ``--out`` and rename
it into place only when every row has been checked and written.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from auedge.train.data.manifest import DataError


@contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success it becomes ``out``.

    An existing non-empty ``out`` is refused unless ``force``, and then replaced only after the
    new folder is complete. On any error the temporary folder is removed and ``out`` is untouched.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder path for the imported dataset")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DataError(f"--out {out} already exists and is not empty; choose another folder or pass --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the dataset from other users
        yield stage
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "data")
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def write_labels(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write ``labels.csv`` (inside a staged folder, so a plain write is safe); returns the row count."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def place_file(source: Path, dest: Path) -> None:
    """Put ``source`` at ``dest``: a hard link where the file system allows (no second copy of a
    large download), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def safe_relative(text: str, where: str) -> str:
    """A path from a label file as a relative POSIX path; absolute paths and ``..`` are refused, so
    a crafted label file cannot make an import write outside its folder."""
    path = PurePosixPath(text.replace("\\", "/"))
    if not text or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise DataError(f"{where}: image path {text!r} must be relative to the dataset folder")
    return path.as_posix()
