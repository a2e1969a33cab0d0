"""Pick the bundle's fastest model on this device by timing each one once, at start-up.

Why measure instead of always running int8: which precision is fastest depends on the CPU, not on
the model. On an AVX2 x86 core without VNNI the int8 MobileNetV2 cut takes 1.9 ms against 1.5 ms
for fp32 (benchmarks/FINDINGS.md); on ARM cores with dot-product instructions int8 is expected to
win. Every model in a bundle passed the exporter's check against the float model, so any one of
them may serve, and the device can afford a fraction of a second to find out which is quickest.

Only non-degraded models are candidates. With ``backend="auto"`` a TFLite model that only
TensorFlow could run is skipped (a device process never imports TensorFlow). The bundle's default
model is kept unless another is faster by more than ``margin``, so timing noise on a busy core does
not flip the choice from run to run. Loading every candidate briefly raises peak memory by the
size of the extra interpreters; the losers are released before the first frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from auedge.edge.backends import Backend, BackendError, choose_backend, create_backend
from auedge.edge.bundle import Bundle, BundleError, ModelEntry

FASTEST = "fastest"


@dataclass(frozen=True)
class ModelChoiceOptions:
    """How the candidates are timed: ``runs`` interleaved rounds after ``warmup`` runs of each."""

    backend: str = "auto"
    num_threads: int = 1
    runs: int = 30
    warmup: int = 5
    margin: float = 0.05


@dataclass(frozen=True)
class ModelTiming:
    """One candidate: its median time per run on this device, or why it could not run."""

    name: str
    backend: str
    median_ms: float | None
    error: str | None = None

    def describe(self) -> str:
        if self.median_ms is None:
            return f"{self.name}: skipped ({self.error})"
        return f"{self.name} on {self.backend}: {self.median_ms:.3f} ms"


@dataclass
class ModelChoice:
    """The chosen model with its loaded interpreter, and every candidate's timing."""

    model: ModelEntry
    backend: Backend
    timings: tuple[ModelTiming, ...]

    def summary(self) -> str:
        return f"fastest model: {self.model.name} (" + "; ".join(t.describe() for t in self.timings) + ")"


def _load_candidates(bundle: Bundle, options: ModelChoiceOptions) -> tuple[dict[str, Backend], list[ModelTiming]]:
    loaded: dict[str, Backend] = {}
    skipped: list[ModelTiming] = []
    for entry in bundle.models:
        if entry.degraded:
            skipped.append(ModelTiming(entry.name, "-", None, "marked degraded by the exporter"))
            continue
        try:
            name = choose_backend(entry.path, options.backend)
            if options.backend.lower() == "auto" and name == "tensorflow":
                raise BackendError("only TensorFlow could run it")
            loaded[entry.name] = create_backend(entry.path, name, options.num_threads)
        except BackendError as exc:
            skipped.append(ModelTiming(entry.name, "-", None, str(exc)))
    return loaded, skipped


def _median_times(loaded: dict[str, Backend], options: ModelChoiceOptions) -> dict[str, float]:
    """Interleaved rounds, so a burst of load on the device hits every candidate alike."""
    rng = np.random.default_rng(0)
    inputs = {name: backend.input.random_array(rng) for name, backend in loaded.items()}
    for name, backend in loaded.items():
        for _ in range(options.warmup):
            backend.run(inputs[name])
    samples: dict[str, list[float]] = {name: [] for name in loaded}
    for _ in range(max(1, options.runs)):
        for name, backend in loaded.items():
            start = time.perf_counter()
            backend.run(inputs[name])
            samples[name].append((time.perf_counter() - start) * 1000.0)
    return {name: float(np.median(values)) for name, values in samples.items()}


def choose_fastest(bundle: Bundle, options: ModelChoiceOptions | None = None) -> ModelChoice:
    """Time every runnable model of ``bundle`` and keep the fastest (the default within ``margin``)."""
    options = options or ModelChoiceOptions()
    loaded, skipped = _load_candidates(bundle, options)
    if not loaded:
        reasons = "; ".join(t.describe() for t in skipped)
        raise BundleError(f"bundle {bundle.root}: no model can run here for --model {FASTEST} ({reasons})")
    medians = _median_times(loaded, options)
    best = min(medians, key=medians.__getitem__)
    default = bundle.default_model
    if default in medians and medians[best] >= medians[default] * (1.0 - options.margin):
        best = default
    timings = tuple(ModelTiming(name, loaded[name].name, medians[name]) for name in medians) + tuple(skipped)
    entry = next(m for m in bundle.models if m.name == best)
    chosen = loaded.pop(best)
    for other in loaded.values():
        other.close()
    return ModelChoice(model=entry, backend=chosen, timings=timings)
