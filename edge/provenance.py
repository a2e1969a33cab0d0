"""What a bundle was trained on, from ``bundle.json`` ``training``, and the warning a synthetic-only bundle earns.

A bundle trained only on procedural synthetic faces (the demo's) runs on real photos without
complaint and gives numbers that look like answers; nothing in them says they are not. So
``bundle-info`` prints the training data, and the runtime warns once per process when such a
bundle meets photos or a camera.

Keys read (all optional, read defensively: older bundles carry only ``dataset``)::

    training: {dataset: "mtfl", datasets: ["mtfl", "fer2013"], synthetic: false,
               seed: 0, recipe: "train/configs/mtfl_au12.toml", commit: "6695beb", run: "mtfl_au12"}

``synthetic`` true means trained on synthetic faces only. A bundle whose ``datasets`` name a real
dataset has seen real faces whatever the flag says; without the flag, a bundle is synthetic-only
when every dataset it names is ``synthetic``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SYNTHETIC = "synthetic"

log = logging.getLogger("auedge.edge.provenance")


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class Provenance:
    """The training data and recipe of a bundle; None where ``bundle.json`` does not say."""

    datasets: tuple[str, ...]
    synthetic_only: bool | None
    seed: int | None = None
    recipe: str | None = None
    commit: str | None = None
    run: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Provenance:
        training = manifest.get("training")
        training = training if isinstance(training, Mapping) else {}
        listed = training.get("datasets")
        names = [_text(v) for v in listed] if isinstance(listed, list) else []
        datasets = tuple(n for n in names if n) or tuple(n for n in [_text(training.get("dataset"))] if n)
        real = [d for d in datasets if d != SYNTHETIC]
        flag = training.get("synthetic")
        if real:
            synthetic_only: bool | None = False
        elif isinstance(flag, bool):
            synthetic_only = flag
        else:
            synthetic_only = True if datasets else None
        seed = training.get("seed")
        return cls(datasets=datasets, synthetic_only=synthetic_only,
                   seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
                   recipe=_text(training.get("recipe")), commit=_text(training.get("commit")),
                   run=_text(training.get("run")))

    def summary(self) -> str:
        """One line for ``bundle-info``: the data, then how to rebuild it where known."""
        if not self.datasets and self.synthetic_only is None:
            data = "an unknown dataset (bundle.json has no training.dataset)"
        elif self.synthetic_only:
            data = "synthetic faces only: not validated on real faces, its values on photos mean little"
        else:
            data = f"{', '.join(self.datasets) or 'unnamed datasets'} (real faces)"
        made = [f"{key} {value}" for key, value in (("recipe", self.recipe), ("seed", self.seed),
                                                    ("commit", self.commit), ("run", self.run)) if value is not None]
        return data + ("; " + ", ".join(made) if made else "")


_warned: set[str] = set()  # bundles already warned about in this process (one line each, not one per image)
_warned_lock = threading.Lock()


def warn_if_synthetic_only(manifest: Mapping[str, Any], where: str, what: str) -> bool:
    """Log one warning per process and bundle (``where``, its folder) when it was trained on synthetic faces
    only and is about to run on ``what`` (real photos, a camera). True when it warned now."""
    if not Provenance.from_manifest(manifest).synthetic_only:
        return False
    with _warned_lock:
        if where in _warned:
            return False
        _warned.add(where)
    name = manifest.get("name") or where
    log.warning("bundle %s was trained on synthetic faces only: its AU values on %s are not validated; "
                "use a bundle trained on real faces (the default one, or --bundle DIR)", name, what)
    return True
