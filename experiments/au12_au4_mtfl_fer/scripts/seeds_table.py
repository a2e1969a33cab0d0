"""The shipped recipe's seeds side by side, from the device-path JSON files each seed's folder holds.

    python experiments/au12_au4_mtfl_fer/scripts/seeds_table.py s1_rule s2 s3

Reads ``<folder>/raw/end_to_end-*.json`` (benchmarks/end_to_end.py, one per dataset) under
experiments/au12_au4_mtfl_fer/ and prints, per test figure the issue has a line for, each seed's
value on the faces the detector found (the ``device`` scores), their mean and sample standard
deviation. Research tooling: it only reads committed result files.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
# (label, dataset, occluder, AU, metric)
FIGURES = (
    ("MTFL AU12 F1", "mtfl", "none", "AU12", "f1"),
    ("MTFL AU12 AUC", "mtfl", "none", "AU12", "roc_auc"),
    ("FER AU4 AUC", "fer2013", "none", "AU4", "roc_auc"),
    ("FER AU4 F1", "fer2013", "none", "AU4", "f1"),
    ("FER AU4 all-positive F1", "fer2013", "none", "AU4", "all_positive_f1"),
    ("FER AU12 F1", "fer2013", "none", "AU12", "f1"),
    ("FER AU12 AUC", "fer2013", "none", "AU12", "roc_auc"),
    ("FER AU4 F1, full mask", "fer2013", "mask-full", "AU4", "f1"),
    ("FER AU4 F1, half mask", "fer2013", "mask-half", "AU4", "f1"),
    ("FER AU4 F1, small mask", "fer2013", "mask-small", "AU4", "f1"),
)
FLAGS = (("AU12_occluded F1, full mask (MTFL)", "mtfl", "mask-full", "AU12_occluded"),
         ("AU12_occluded F1, full mask (FER)", "fer2013", "mask-full", "AU12_occluded"),
         ("AU4_occluded F1, big glasses (MTFL)", "mtfl", "glasses-big", "AU4_occluded"),
         ("AU4_occluded F1, big glasses (FER)", "fer2013", "glasses-big", "AU4_occluded"))


def load(folder: str) -> dict[str, dict]:
    """The newest end_to_end JSON per dataset in ``folder/raw`` (the int8 rows)."""
    found: dict[str, dict] = {}
    for path in sorted((HERE / folder / "raw").glob("end_to_end-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["dataset"]] = data
    if set(found) != {"mtfl", "fer2013"}:
        sys.exit(f"seeds_table: {HERE / folder / 'raw'} needs end_to_end JSON files for mtfl and fer2013, has {sorted(found)}")
    return found


def figure(data: dict, occluder: str, au: str, metric: str) -> float:
    row = next(r for r in data["rows"] if r["occluder"] == occluder)
    return float(row["outputs"][au]["device"][metric])


def flag_f1(data: dict, occluder: str, flag: str) -> float:
    return float(next(f["f1"] for f in data["flag_f1"] if f["occluder"] == occluder and f["flag"] == flag))


def main(folders: list[str]) -> int:
    if not folders:
        sys.exit("usage: seeds_table.py FOLDER [FOLDER...] (under experiments/au12_au4_mtfl_fer/)")
    seeds = {folder: load(folder) for folder in folders}
    print("| test figure (device path, int8) | " + " | ".join(folders) + " | mean | sd |")
    print("|---|" + "---|" * (len(folders) + 2))
    rows = [(label, lambda d, ds=ds, o=o, a=a, m=m: figure(d[ds], o, a, m)) for label, ds, o, a, m in FIGURES]
    rows += [(label, lambda d, ds=ds, o=o, f=f: flag_f1(d[ds], o, f)) for label, ds, o, f in FLAGS]
    for label, read in rows:
        values = [read(seeds[folder]) for folder in folders]
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {statistics.mean(values):.3f} | {sd:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
