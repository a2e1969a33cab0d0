"""An occluder must hide an AU, not announce it: its shape may not depend on the landmarks the AU moves.

The mouth corners move with AU12 (a smile widens and lifts them). A mask sized from them had an area
that tracked AU12 (r = 0.9 on the synthetic faces), so a model trained on masked faces could read the
smile off the mask's outline: the masked figures then measured the leak, not robustness.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from auedge.train.data.synthetic import generate
from auedge.train.occluders import OCCLUDER_KINDS, occluder_polygon


def outline(landmarks: np.ndarray, kind: str) -> list[np.ndarray]:
    shape = occluder_polygon(landmarks, kind, np.random.default_rng(7))
    return shape.polygons + shape.holes + shape.lines


@pytest.mark.parametrize("kind", OCCLUDER_KINDS)
def test_moving_only_the_mouth_corners_leaves_every_occluder_where_it_was(kind):
    lm = np.array([[60.0, 60.0], [100.0, 61.0], [80.0, 84.0], [63.0, 104.0], [97.0, 105.0]])
    smiling = lm.copy()
    smiling[3] += (-6.0, -5.0)  # corners pulled out and up
    smiling[4] += (6.0, -5.0)
    for a, b in zip(outline(lm, kind), outline(smiling, kind)):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("kind", ["mask-full", "mask-half", "mask-small"])
def test_mask_area_on_synthetic_faces_does_not_track_au12(kind):
    faces = generate(120, seed=5)
    areas = []
    for lm in faces.landmarks:
        lm = np.asarray(lm, dtype=np.float64)
        eye_distance = np.hypot(*(lm[1] - lm[0]))
        poly = occluder_polygon(lm, kind, np.random.default_rng(0)).polygons[0].astype(np.float32)
        areas.append(cv2.contourArea(poly) / eye_distance**2)
    r = np.corrcoef(areas, faces.au12)[0, 1]
    assert abs(r) < 0.25, f"{kind} area correlates r = {r:.2f} with AU12: the mask encodes the label"
