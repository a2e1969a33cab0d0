"""Helpers for the fault tests (a module name no other test folder uses)."""

from __future__ import annotations


def fill(folder, name: str = "filler") -> int:
    """Write zeros into ``folder/name`` until the filesystem is full; the bytes written."""
    written = 0
    with open(folder / name, "wb", buffering=0) as handle:
        try:
            while True:
                written += handle.write(b"\0" * 4096)
        except OSError:
            pass
    return written
