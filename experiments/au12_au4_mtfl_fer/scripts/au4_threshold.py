"""Evidence only (validation data): where the default's AU4 threshold would sit for a stated specificity on
FER2013 validation faces without the AU4 stand-in, and what that does to F1 / recall and to the share of
ordinary MTFL photos called AU4 present. Nothing is changed by it; it informs the next session's rule.

    python experiments/au12_au4_mtfl_fer/scripts/au4_threshold.py [DATA_DIR] [BUNDLE]
(DATA_DIR holds mtfl/ and fer2013/, default ../shared/data; BUNDLE default edge/models/default; run from the
repository root). Also prints the recipe's threshold rule (metrics.best_threshold, f1_within 0.01, the
trainer's 0.01 grid) on these device-path validation values: the AU4 threshold of a run whose own
validation crops no longer exist (seed 1, trained before issue 38's exact crop)."""
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
BUNDLE = sys.argv[2] if len(sys.argv) > 2 else "edge/models/default"
from auedge.benchmarks.detection import load_fer_faces
from auedge.edge.estimator import Estimator
from auedge.edge.face_detector import matching_detection

est = Estimator.from_bundle(BUNDLE, model="int8")
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
from auedge.train import metrics as M

best_t, best_f1 = M.best_threshold(truth, vals)
rule_t, rule_f1 = M.best_threshold(truth, vals, f1_within=0.01)
print(f"F1-best threshold {best_t:.2f} (F1 {best_f1:.4f}); rule (within 0.01): {rule_t:.2f} (F1 {rule_f1:.4f})")
for name, t in [("shipped", float(est.bundle.outputs[k].threshold)), ("F1-best", best_t), ("rule", rule_t)] + [(f"spec {s:.0%}", float(np.quantile(vals[~truth], s))) for s in (0.7, 0.8, 0.9)]:
    print(f"{name:9s} thr {t:.3f}: FER val F1 {f1(t):.3f} recall {(vals[truth] >= t).mean():.3f} "
          f"specificity {(vals[~truth] < t).mean():.3f}; MTFL photos called present {(mt >= t).mean():.1%}")
