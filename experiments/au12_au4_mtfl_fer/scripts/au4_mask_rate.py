"""Evidence only: AU4 'present' share on the same real faces bare and under a half/full mask pasted on the
photo (train/occluders.py, anchored to MTFL's landmarks), through the device path (detector, crop, int8,
flip averaging), for the shipped default (v1) and v3. MTFL has no AU4 labels: this is a label-free check of
what a mask does to AU4's decision. Faces: the first 800 MTFL *training* photos in file order (AU4 never had a
loss on MTFL; no test split is used).

    python experiments/au12_au4_mtfl_fer/scripts/au4_mask_rate.py [MTFL_DIR] [V3_BUNDLE]
(defaults ../shared/data/mtfl and bundles/au12_au4_v3_s1; run from the repository root)."""
import csv
import sys

import numpy as np
from auedge.edge.estimator import Estimator
from auedge.train.occluders import apply_occluder
from PIL import Image

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mtfl"
with open(f"{data}/labels.csv", newline="") as labels_file:
    rows = [r for r in csv.DictReader(labels_file) if r["split"] == "training"][:800]
bundles = {"v1 (default)": "edge/models/default", "v3": sys.argv[2] if len(sys.argv) > 2 else "bundles/au12_au4_v3_s1"}
for name, path in bundles.items():
    est = Estimator.from_bundle(path, model="int8")
    thr = {o.au: o.decision_threshold for o in est.bundle.outputs}["AU4"]
    out = {}
    for cond in ("none", "mask-half", "mask-full"):
        vals = []
        for i, r in enumerate(rows):
            img = np.asarray(Image.open(f"{data}/{r['path']}").convert("RGB"))
            lm = np.array([[float(r[f"{p}_x"]), float(r[f"{p}_y"])] for p in ("leye", "reye", "nose", "lmouth", "rmouth")])
            if cond != "none":
                img = apply_occluder(img, lm, cond, np.random.default_rng(i))
            res = est.estimate(img)
            vals.append(res.faces[0].aus["AU4"] if res.faces else np.nan)
        out[cond] = np.array(vals)
    both = np.isfinite(out["none"])
    for cond in ("mask-half", "mask-full"):
        ok = both & np.isfinite(out[cond])
        b, m = out["none"][ok], out[cond][ok]
        print(f"{name:13s} thr {thr:.2f} {cond:9s} faces {ok.sum():4d}: AU4 present bare {np.mean(b >= thr):6.1%} masked {np.mean(m >= thr):6.1%}; "
              f"mean AU4 {b.mean():.3f} -> {m.mean():.3f}; mean |change| {np.abs(m - b).mean():.3f}; decision changed {np.mean((b >= thr) != (m >= thr)):.1%}")
