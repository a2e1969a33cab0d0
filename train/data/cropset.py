"""CropSet: what the trainer, the exporter's calibration and the benchmarks receive."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from auedge.train.data.manifest import SPLITS


@dataclass
class CropSet:
    """Aligned face crops with their labels, one row per face.

    ``labels`` has one column per AU in ``aus`` (NaN where unknown); ``landmarks`` are in crop
    pixel coordinates (MTFL order); ``split`` is ``train``/``val``/``test``; ``paths`` name the
    source image (or ``synthetic:<seed>:<i>``); ``meta`` holds string columns such as pose,
    glasses and source when the dataset has them.
    """

    images: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    aus: list[str]
    split: np.ndarray
    subjects: np.ndarray
    paths: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, mask_or_index: np.ndarray) -> CropSet:
        """Rows selected by a boolean mask or an index array (copies, in the given order)."""
        pick = np.asarray(mask_or_index)
        if pick.dtype == bool and pick.shape != (len(self),):
            raise ValueError(f"mask has shape {pick.shape}, expected ({len(self)},)")
        return CropSet(
            images=self.images[pick],
            landmarks=self.landmarks[pick],
            labels=self.labels[pick],
            aus=list(self.aus),
            split=self.split[pick],
            subjects=self.subjects[pick],
            paths=self.paths[pick],
            meta={name: values[pick] for name, values in self.meta.items()},
        )

    @classmethod
    def concatenate(cls, parts: list[CropSet]) -> CropSet:
        """Rows of several sets with the same AUs and metadata columns, in order."""
        if any(part.aus != parts[0].aus or set(part.meta) != set(parts[0].meta) for part in parts):
            raise ValueError("cannot concatenate crop sets with different AUs or metadata columns")
        return cls(
            images=np.concatenate([p.images for p in parts]),
            landmarks=np.concatenate([p.landmarks for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            aus=list(parts[0].aus),
            split=np.concatenate([p.split for p in parts]),
            subjects=np.concatenate([p.subjects for p in parts]),
            paths=np.concatenate([p.paths for p in parts]),
            meta={name: np.concatenate([p.meta[name] for p in parts]) for name in parts[0].meta},
        )

    def where(self, split: str) -> CropSet:
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
        return self.subset(self.split == split)

    def label(self, au: str) -> np.ndarray:
        """The label column of one AU (``"au12"``)."""
        return self.labels[:, self.aus.index(au.lower())]

    def summary(self) -> str:
        """``train 8500, val 1500, test 2995; au12 known 100%`` (for logs and reports)."""
        counts = ", ".join(f"{s} {int((self.split == s).sum())}" for s in SPLITS)
        known = ", ".join(
            f"{au} known {100 * np.isfinite(self.labels[:, k]).mean():.0f}%" for k, au in enumerate(self.aus)
        ) if len(self) else "empty"
        return f"{counts}; {known}"
