"""The running weight average: its arithmetic, and that the trainer checkpoints the average, not the raw weights."""

import numpy as np
import pytest
from auedge.train.weight_average import WeightAverage


def test_average_follows_warmup_then_decay():
    avg = WeightAverage(0.9)
    seq = [np.full(3, float(v), dtype=np.float32) for v in (0.0, 10.0, 20.0, 30.0)]
    expected = seq[0].astype(np.float64)
    avg.update([seq[0]])
    for step, w in enumerate(seq[1:], start=1):
        d = min(0.9, (1 + step) / (10 + step))  # update number `step` (0-based) uses decay_at(step)
        expected = d * expected + (1 - d) * w
        avg.update([w])
    out = avg.weights([seq[0]])[0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert avg.decay_at(0) == pytest.approx(0.1) and avg.decay_at(10_000) == pytest.approx(0.9)


def test_constant_weights_average_to_themselves_and_counters_are_copied():
    avg = WeightAverage(0.995)
    for counter in range(5):
        avg.update([np.array([1.5, -2.0], dtype=np.float32), np.array(counter, dtype=np.int64)])
    floats, counter = avg.weights([np.zeros(2, np.float32), np.array(0, np.int64)])
    np.testing.assert_allclose(floats, [1.5, -2.0])
    assert counter == 4 and counter.dtype == np.int64


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1, 1.5])
def test_decay_outside_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(decay)


def test_changed_weight_list_is_refused():
    avg = WeightAverage(0.9)
    avg.update([np.zeros(2)])
    with pytest.raises(ValueError, match="length"):
        avg.update([np.zeros(2), np.zeros(1)])


def test_trainer_checkpoints_the_average(tmp_path, monkeypatch):
    """The saved model holds the averaged weights (BatchNorm statistics included), not the last step's."""
    pytest.importorskip("tensorflow")
    import keras
    from auedge.train import trainer
    from auedge.train.config import build_config

    seen = {}

    class Recording(WeightAverage):
        def update(self, weights):
            seen["last_raw"] = [np.array(w) for w in weights]
            super().update(weights)

        def weights(self, like):
            seen["average"] = super().weights(like)
            return seen["average"]

    monkeypatch.setattr(trainer, "WeightAverage", Recording)
    cfg = build_config(None, {"epochs": 1, "limit": 48, "batch_size": 16, "input_size": 64, "task": "au12-occurrence",
                              "threads": 0, "weight_average": 0.5, "cache_dir": str(tmp_path / "cache")})
    result = trainer.fit(cfg, tmp_path / "run")
    assert "weights averaged" in result.metrics["selection"]
    saved = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False).get_weights()
    assert len(saved) == len(seen["average"])
    for s, a in zip(saved, seen["average"]):
        np.testing.assert_array_equal(s, a)
    assert any(not np.allclose(s, r) for s, r in zip(saved, seen["last_raw"])), "checkpoint holds the raw weights"


def test_weight_average_outside_range_is_a_config_error():
    from auedge.train.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="weight_average"):
        build_config(None, {"weight_average": 1.0})
