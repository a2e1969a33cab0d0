"""Training data: one manifest format, dataset adapters, subject-disjoint splits, cached aligned crops.

The trainer and the exporter call :func:`load_crops` and get a :class:`CropSet`; adapters turn
MTFL, Bosphorus or any manifest CSV into :class:`ManifestRow` lists (see ``manifest.py`` for the
format); every data problem is a :class:`DataError` naming the file and the fix.
"""

from auedge.train.data.cropset import CropSet
from auedge.train.data.loader import DATASETS, default_data_dir, load_crops
from auedge.train.data.manifest import DataError, ManifestRow, read_manifest, write_manifest

__all__ = [
    "DATASETS", "CropSet", "DataError", "ManifestRow", "default_data_dir", "load_crops", "read_manifest",
    "write_manifest",
]
