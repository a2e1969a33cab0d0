"""Several datasets as one CropSet: one model trained on MTFL and FER2013 together.

Each dataset keeps its own splits (MTFL's validation carved by subject from its training set,
FER2013's own validation and test) and labels only the AUs it has: an AU a dataset does not
label is NaN there and is left out of the loss (MTFL has no AU4). ``meta["dataset"]`` names each
face's dataset, so that sampling can balance the sources and every figure can be given per dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from auedge.train.data.cropset import CropSet
from auedge.train.data.loader import DATA_ENV, load_crops
from auedge.train.data.manifest import DataError

DATASET_KEY = "dataset"


def data_dir_of(name: str, root: str | Path | None) -> Path:
    """``root/<name>``: with several datasets ``--data-dir`` is the folder holding one folder per
    dataset (``../shared/data``, or ``$AUEDGE_DATA``)."""
    if root is None:
        raise DataError(f"several datasets need --data-dir: the folder holding {name}/ and the others "
                        f"(e.g. ../shared/data, or set ${DATA_ENV})")
    folder = Path(root) / name
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} not found; --data-dir must hold one folder per dataset "
                        f"({name}/ ...)")
    return folder


def with_meta(part: CropSet, names: list[str], dataset: str) -> CropSet:
    """``part`` with exactly the metadata columns ``names`` (missing ones empty) and its dataset's name."""
    meta = {name: part.meta.get(name, np.full(len(part), "", dtype=object)).astype(str) for name in names}
    meta[DATASET_KEY] = np.full(len(part), dataset)
    return CropSet(images=part.images, landmarks=part.landmarks, labels=part.labels, aus=part.aus, split=part.split,
                   subjects=np.char.add(f"{dataset}:", part.subjects.astype(str)), paths=part.paths, meta=meta)


def load_multi(datasets: list[str], root: str | Path | None, aus: list[str], crop, **options) -> CropSet:
    """The crops of every dataset in ``datasets``, concatenated, with ``meta["dataset"]``.

    ``options`` go to :func:`~auedge.train.data.loader.load_crops` for every dataset (keypoints
    apply where a dataset has landmarks; FER2013's crops always come from the detector or its
    template)."""
    parts = [(name, load_crops(name, data_dir_of(name, root), aus, crop, **options)) for name in datasets]
    names = sorted({key for _, part in parts for key in part.meta} - {DATASET_KEY})
    return CropSet.concatenate([with_meta(part, names, name) for name, part in parts])
