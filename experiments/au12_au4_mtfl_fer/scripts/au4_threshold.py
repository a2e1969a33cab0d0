"""Evidence only (validation data): where the default's AU4 threshold would sit for a stated specificity on
FER2013 validation faces without the AU4 stand-in, and what that does to F1 / recall and to the share of
ordinary MTFL photos called AU4 present. Nothing is changed by it; it informs the next session's rule.

    python experiments/au12_au4_mtfl_fer/scripts/au4_threshold.py [DATA_DIR]
(DATA_DIR holds mtfl/ and fer2013/, default ../shared/data; run from the repository root)."""
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
from auedge.benchmarks.detection import load_fer_faces
from auedge.edge.estimator import Estimator
from auedge.edge.face_detector import matching_detection

est = Estimator.from_bundle("edge/models/default", model="int8")
faces, _ = load_fer_faces(Path(DATA) / "fer2013", "val", est.bundle.manifest["training"]["emotion_aus"], None, lambda s: None)
k = [o.au for o in est.bundle.outputs].index("AU4")
vals, truth = [], []
for f in faces:
    r = est.estimate(f.image)
    best = matching_detection(r.faces, f.landmarks[0], f.landmarks[1])
    lab = f.aus.get("au4", np.nan)
    if best is None or not np.isfinite(lab):
        continue
    vals.append(best.aus["AU4"]); truth.append(lab >= 0.5)
vals, truth = np.array(vals), np.array(truth)
with open(f"{DATA}/mtfl/labels.csv", newline="") as labels_file:
    rows = [r for r in csv.DictReader(labels_file) if r["split"] == "training"][:800]
mt = []
for r in rows:
    res = est.estimate(np.asarray(Image.open(f"{DATA}/mtfl/{r['path']}").convert("RGB")))
    if res.faces: mt.append(res.faces[0].aus["AU4"])
mt = np.array(mt)
def f1(t):
    p = vals >= t; tp = (p & truth).sum(); return 2 * tp / (p.sum() + truth.sum())
print(f"FER val faces {len(vals)}, AU4 stand-in {truth.mean():.1%}; MTFL photos {len(mt)}")
for name, t in [("shipped", 0.24)] + [(f"spec {s:.0%}", float(np.quantile(vals[~truth], s))) for s in (0.7, 0.8, 0.9)]:
    print(f"{name:9s} thr {t:.3f}: FER val F1 {f1(t):.3f} recall {(vals[truth] >= t).mean():.3f} "
          f"specificity {(vals[~truth] < t).mean():.3f}; MTFL photos called present {(mt >= t).mean():.1%}")
