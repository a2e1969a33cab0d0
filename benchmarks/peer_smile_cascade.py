"""Worker for peers.py: OpenCV's Haar smile cascade on aligned face crops, run by an OpenCV 4 Python.

Why a separate interpreter: the cascade XML files and ``cv2.CascadeClassifier`` ship with
opencv-python 4.x but not with OpenCV 5, which the project uses; peers.py keeps OpenCV 4 in its
own virtual environment and runs this file there. It needs only numpy and cv2 (no auedge).

    PEER_PYTHON benchmarks/peer_smile_cascade.py --crops crops.npz --out scores.npz

For each crop (the bundle's eye-aligned square), the lower half (mouth) is searched with
``detectMultiScale2`` at minNeighbors 1; a crop's score is the largest neighbour count of a
detection (0 when none), so "smile" at any minNeighbors k is simply ``score >= k``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np


def cascade() -> cv2.CascadeClassifier:
    path = os.path.join(cv2.data.haarcascades, "haarcascade_smile.xml")
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise SystemExit(f"error: cannot load {path}")
    return classifier


def score_crops(crops: np.ndarray, scale_factor: float) -> tuple[np.ndarray, np.ndarray]:
    classifier = cascade()
    cv2.setNumThreads(1)
    scores = np.zeros(len(crops), dtype=np.float32)
    times = np.zeros(len(crops), dtype=np.float64)
    for i, crop in enumerate(crops):
        start = time.perf_counter()
        size = crop.shape[0]
        lower = cv2.cvtColor(np.ascontiguousarray(crop[size // 2 :]), cv2.COLOR_RGB2GRAY)
        rects, neighbours = classifier.detectMultiScale2(
            lower, scaleFactor=scale_factor, minNeighbors=1, minSize=(size // 5, size // 10)
        )
        times[i] = (time.perf_counter() - start) * 1000.0
        scores[i] = float(np.max(neighbours)) if len(rects) else 0.0
    return scores, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", required=True, help=".npz with 'crops' (N, S, S, 3) uint8 RGB")
    parser.add_argument("--out", required=True)
    parser.add_argument("--scale-factor", type=float, default=1.1)
    args = parser.parse_args()
    crops = np.load(args.crops)["crops"]
    scores, times = score_crops(crops, args.scale_factor)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, scores=scores, ms=times, opencv=np.array(cv2.__version__))
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
