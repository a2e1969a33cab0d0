"""Fixtures for the conversion tests: a tiny, briefly trained run folder and crop files.

The model is the project's own MobileNetV2 cut (auedge.train.models.build_model) at 32 px, trained
for a few steps on a pattern it can learn (occurrence = lower half brighter than upper half), so
its outputs spread over both classes and agreement figures mean something.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

SIZE = 32


def patterned_crops(n: int, seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = rng.integers(40, 150, size=(n, size, size, 3)).astype(np.int16)
    labels = (rng.random(n) < 0.5).astype(np.float32)
    half = size // 2
    for i in range(n):
        rows = slice(half, size) if labels[i] else slice(0, half)
        crops[i, rows] += rng.integers(60, 100)
    return np.clip(crops, 0, 255).astype(np.uint8), labels[:, None]


def _tf_one_thread():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


def write_run(root: Path, model, kind: str = "occurrence", task: str = "au12-occurrence",
              threshold: float | None = 0.5, size: int = SIZE) -> Path:
    """A run folder exactly as train/train.py writes it (the fields the exporter reads)."""
    from auedge.edge.align import CropParams
    from auedge.edge.preprocess import Normalization
    from auedge.train.config import TrainConfig

    root.mkdir(parents=True, exist_ok=True)
    model.save(root / "model.keras")
    cfg = TrainConfig(task=task, input_size=size, epochs=1)
    config = cfg.to_dict()
    config.update(
        crop=CropParams(size=size).to_dict(),
        normalization=Normalization().to_dict(),
        aus=[a.upper() for a in cfg.parsed_task.aus],
        task_kind=kind,
    )
    (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
    metrics = {"val": {"f1": 0.9, "loss": 0.2}, "test": {"f1": 0.88}, "threshold": threshold}
    (root / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def trained_model():
    _tf_one_thread()
    import keras
    from auedge.edge.preprocess import normalize
    from auedge.train.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model("mobilenetv2", "flat", "occurrence", outputs=1, input_size=SIZE, dropout=0.0)
    crops, labels = patterned_crops(256, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    model.fit(normalize(crops), labels, epochs=4, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def make_crops():
    return patterned_crops


@pytest.fixture(scope="session")
def crop_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("crops")
    paths = {}
    for name, n, seed in (("calib", 48, 2), ("val", 80, 3)):
        crops, labels = patterned_crops(n, seed)
        paths[name] = folder / f"{name}.npz"
        np.savez(paths[name], crops=crops, labels=labels)
    return paths


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, trained_model) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "tiny_au12", trained_model)


@pytest.fixture
def make_patterned_crops():
    """``patterned_crops`` for tests (a plain ``from conftest import`` would pick another folder's
    conftest when the whole suite runs)."""
    return patterned_crops


@pytest.fixture(scope="session")
def make_run():
    """``write_run`` for tests (same reason as ``make_patterned_crops``)."""
    return write_run
