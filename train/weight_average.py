"""An exponential moving average of every weight of a model, BatchNorm statistics included.

Why: with BatchNorm momentum 0.9 (needed from scratch, see ``models.build_model``) the moving
statistics a checkpoint carries come from its last ~10 training batches, and its weights from the
last few noisy steps. On MTFL that is visible as a validation-chosen threshold that jumps from
epoch to epoch (0.47, 0.60, 0.66, 0.57 over epochs 9-12 of one run) and as seeds that rank test
faces alike but settle on different operating points. Averaging the weights and the statistics
over the last ~1/(1-decay) steps (Polyak averaging, as timm's ``ModelEmaV2`` does for buffers too)
gives the checkpoint a steadier calibration; the raw weights keep training untouched.

Keras' own ``use_ema`` averages trainable variables only, which would pair averaged weights with
statistics of the last ten batches; hence this small class over ``get_weights`` arrays.
"""

from __future__ import annotations

import numpy as np


class WeightAverage:
    """The running average of a weight list, with timm's warm-up: decay_t = min(decay, (1+t)/(10+t)).

    The warm-up lets the average follow the fast early changes instead of remembering the random
    initial weights for ~1/(1-decay) steps.
    """

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average: list[np.ndarray] | None = None

    def decay_at(self, step: int) -> float:
        """The decay applied at update number ``step`` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    def update(self, weights: list[np.ndarray]) -> None:
        """Fold in the weights after one training step (non-float arrays, e.g. counters, are copied)."""
        if self.average is None:
            self.average = [np.array(w, dtype=np.float64 if _is_float(w) else None) for w in weights]
        else:
            if len(weights) != len(self.average):
                raise ValueError(f"weight list changed length: {len(weights)} != {len(self.average)}")
            d = self.decay_at(self.updates)
            for i, w in enumerate(weights):
                if _is_float(w):
                    self.average[i] *= d
                    self.average[i] += (1.0 - d) * np.asarray(w, dtype=np.float64)
                else:
                    self.average[i] = np.array(w)
        self.updates += 1

    def weights(self, like: list[np.ndarray]) -> list[np.ndarray]:
        """The averaged weights in the dtypes of ``like`` (the model's own ``get_weights()``)."""
        if self.average is None:
            return [np.array(w) for w in like]
        return [a.astype(np.asarray(w).dtype) for a, w in zip(self.average, like)]


def _is_float(array) -> bool:
    return np.issubdtype(np.asarray(array).dtype, np.floating)
