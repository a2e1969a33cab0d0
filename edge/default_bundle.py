"""Which bundle a command runs when it is given none: the one shipped inside the package.

The wheel carries one bundle as package data of ``auedge.edge.models.default`` (``bundle.json``,
the TFLite models, the face detector, ``MODEL_CARD.md``), so that ``au-edge infer face.jpg`` works
right after ``pip install au-edge[edge]``. It is found through :mod:`importlib.resources`, not
through this file's folder, so an installed wheel and a source checkout behave alike.

``$AUEDGE_DEFAULT_BUNDLE`` (a bundle folder) replaces the shipped bundle as the default: a device
that keeps its bundle elsewhere, or a test that points the default at a fixture bundle.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from auedge.edge.bundle import MANIFEST_NAME, Bundle, BundleError

ENV_VAR = "AUEDGE_DEFAULT_BUNDLE"
PACKAGE = "auedge.edge.models.default"


class NoDefaultBundle(BundleError):
    """No bundle was given and none is installed as the default."""


def default_bundle_dir(env: Mapping[str, str] | None = None) -> Path:
    """The default bundle's folder: ``$AUEDGE_DEFAULT_BUNDLE`` if set, else the package's own folder."""
    env = os.environ if env is None else env
    override = env.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    folder = importlib.resources.files(PACKAGE)
    if not isinstance(folder, Path):  # installed inside a zip: interpreters need real files
        raise NoDefaultBundle(f"the default bundle ({PACKAGE}) is not on the file system here; pass --bundle DIR")
    return folder


@dataclass(frozen=True)
class BundleChoice:
    """The bundle folder a command runs, and whether it is the default (nothing was given)."""

    path: Path
    is_default: bool

    def describe(self, bundle: Bundle) -> str:
        """One line for stderr: the bundle's name and folder, so a user knows which model answered."""
        name = bundle.manifest.get("name") or bundle.root.name
        origin = "the default bundle; pass --bundle DIR for another" if self.is_default else "given by --bundle"
        return f"bundle {name} at {bundle.root} ({origin})"


def choose_bundle(given: str | Path | None, env: Mapping[str, str] | None = None) -> BundleChoice:
    """``given`` when set, else the default bundle; :class:`NoDefaultBundle` (one line) when none is installed."""
    if given is not None and str(given).strip():
        return BundleChoice(Path(given), is_default=False)
    env = os.environ if env is None else env
    folder = default_bundle_dir(env)
    if not (folder / MANIFEST_NAME).is_file():
        where = f"${ENV_VAR} is {folder}, which" if env.get(ENV_VAR, "").strip() else str(folder)
        raise NoDefaultBundle(f"no default bundle is installed ({where} holds no {MANIFEST_NAME}): pass --bundle DIR, "
                              "a folder written by convert/export.py")
    return BundleChoice(folder, is_default=True)
