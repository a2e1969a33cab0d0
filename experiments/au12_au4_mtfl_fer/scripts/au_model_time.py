"""The AU model's time per face (the crop and its mirror, as flip averaging runs it) for several bundles,
measured in one process with the bundles taking turns, so a machine whose speed drifts (a shared VM) moves
every bundle alike and the ratio stays comparable. Evidence for the recipe rules in ../README.md, not
package code: the user-facing latency benchmark is ``benchmarks/latency.py`` (one bundle per run).

    python experiments/au12_au4_mtfl_fer/scripts/au_model_time.py edge/models/default bundles/au12_au4_v4_s1 \
        --models fp32,int8 --rounds 7 --out experiments/au12_au4_mtfl_fer/v4_s1/au_model_time.json

One core (the process pins itself to the first usable CPU), one interpreter thread, LiteRT; each round times
``--calls`` calls of every (bundle, model) in turn on random crops of the bundle's input size (the model's
time does not depend on the pixels); the table gives the median over rounds of each round's median.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundles", nargs="+", help="bundle folders; the first is the reference of the ratios")
    p.add_argument("--models", default="fp32,int8")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--out", help="JSON file to write (temp file, then rename)")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import cv2
    from auedge.benchmarks.store import environment, write_json
    from auedge.edge.estimator import Estimator, EstimatorOptions

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    runs = {}
    for bundle in args.bundles:
        for model in args.models.split(","):
            est = Estimator.create_from_options(EstimatorOptions(bundle_path=bundle, model=model, backend="litert",
                                                                 num_threads=1, paired_flip=False, flip_average=True))
            size = est.bundle.input_size[0]
            crops = rng.integers(0, 256, (16, size, size, 3), dtype=np.uint8)
            runs[(bundle, model)] = (est, crops, [])
    for _ in range(args.rounds):
        for est, crops, medians in runs.values():
            for crop in crops[:4]:
                est.estimate_aligned(crop)
            times = []
            for i in range(args.calls):
                start = time.perf_counter()
                est.estimate_aligned(crops[i % len(crops)])
                times.append((time.perf_counter() - start) * 1e3)
            medians.append(float(np.median(times)))
    reference = float(np.median(runs[(args.bundles[0], args.models.split(",")[0])][2]))
    rows = []
    print("| bundle | model | input px | crop + mirror ms (median of rounds) | rounds | x first |")
    print("|---|---|---|---|---|---|")
    for (bundle, model), (est, _crops, medians) in runs.items():
        ms = float(np.median(medians))
        rows.append({"bundle": bundle, "model": model, "input_px": est.bundle.input_size[0], "ms": ms,
                     "round_medians_ms": medians})
        print(f"| {bundle} | {model} | {est.bundle.input_size[0]} | {ms:.3f} | "
              f"{' '.join(f'{m:.2f}' for m in medians)} | {ms / reference:.2f} |")
    env = environment()
    print(f"CPU {env['cpu_model']}, flags {' '.join(env['cpu_simd_flags'])}, one core, one thread, LiteRT")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out), {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "command": " ".join(sys.argv), "environment": env, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
