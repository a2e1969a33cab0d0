"""Small videos of real faces for the stream and analyze tests, made by the motion benchmark's generator.

The faces are the committed fixture images of the default bundle (tests/fixtures/default_bundle), so
no dataset is needed; the script is benchmarks/motion.py's, cut to a few dozen frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BUNDLE = REPO / "edge" / "models" / "default"
# Script frames 430-459: face B until it leaves at 450, then nobody; 510-519: face A enters.
LEAVES_AND_ENTERS = [*range(430, 460), *range(510, 520)]
WITH_FACE = [*range(20), *range(30, 40)]  # the frames of such a video that show a face
NO_FACE = list(range(20, 30))


def fixture_faces() -> dict[str, np.ndarray]:
    from PIL import Image

    folder = REPO / "tests" / "fixtures" / "default_bundle"
    return {name: np.asarray(Image.open(folder / f"face{i}.png").convert("RGB")) for i, name in ((0, "A"), (1, "B"))}


def face_video(path: Path, times: list[int] | None = None, fps: float = 10.0) -> Path:
    """An MJPG video of the motion script's ``times`` (default: B leaves, nobody, A enters) at ``fps``."""
    from auedge.benchmarks import motion

    motion.make_motion_video(path, fixture_faces(), times=LEAVES_AND_ENTERS if times is None else times, fps=fps)
    return path
