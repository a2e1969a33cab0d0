"""Re-choose a trained run's AU thresholds by a rule, on its validation split only:
``python train/threshold.py --run runs/NAME --f1-within au4=0.01``.

The trainer chooses each occurrence AU's threshold on validation: F1-best, or by the recipe's
``threshold_f1_within`` (the highest threshold within that much F1 of the best; metrics.best_threshold
says why). This applies the same rule to a run trained before its recipe had it, without training
again: it predicts the run's validation crops exactly as the trainer did (same split, occluders,
seed, flip averaging), checks that the F1-best thresholds it finds are the ones the trainer wrote
(so the predictions are the trainer's), and rewrites ``metrics.json`` (thresholds and the validation
block) and ``config.json`` (the rule), each through a temporary file.

The test split is not touched: the run's ``test`` block keeps the thresholds it was scored at (each
AU's block says which); a bundle exported afterwards carries the new thresholds, and the device-path
benchmarks score test with them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: this folder is first on sys.path (see train.py).
    sys.path.pop(0)

from auedge.train.config import ConfigError


class ThresholdError(ValueError):
    """A run this tool cannot re-threshold; the message says why and what to do."""


def parse_rule(items: list[str]) -> dict[str, float]:
    """``["au4=0.01"]`` -> ``{"au4": 0.01}``; one clear error for anything else."""
    rule: dict[str, float] = {}
    for item in items:
        au, sep, value = item.partition("=")
        try:
            rule[au.strip().lower()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not au.strip():
            raise ThresholdError(f"--f1-within takes AU=TOLERANCE (e.g. au4=0.01), got {item!r}")
    return rule


def rethreshold(run_dir: Path, rule: dict[str, float], threads: int = 2, log=print) -> dict[str, Any]:
    """Apply ``rule`` to the run in ``run_dir``; returns {AU: (F1-best threshold, new threshold)}."""
    from auedge.edge.atomic_io import write_atomic
    from auedge.train.augment import occlude_fixed
    from auedge.train.runs import CONFIG_FILE, METRICS_FILE, RunError, load_run_crops, read_run
    from auedge.train.trainer import (
        configure_threads,
        predict,
        selection_score,
        task_targets,
        threshold_rule_record,
        validation_report,
    )

    try:
        run = read_run(run_dir)
    except RunError as exc:
        raise ThresholdError(str(exc)) from exc
    if run.task.kind != "occurrence":
        raise ThresholdError(f"{run_dir} is an {run.task.kind} run; only occurrence outputs have thresholds")
    if not run.metrics.get("thresholds"):
        raise ThresholdError(f"{run_dir}/{METRICS_FILE} has no thresholds; is the run finished? (train it again)")
    try:
        cfg = replace(run.config, threshold_f1_within=rule).validate()
    except ConfigError as exc:
        raise ThresholdError(str(exc)) from exc
    aus, names = list(run.task.aus), list(run.task.au_names)
    recorded = run.metrics.get("threshold_rule", {}).get("f1_best") or {n: run.metrics["thresholds"][n] for n in names}

    configure_threads(threads)
    import keras

    model = keras.models.load_model(str(run.model_path), compile=False)
    val = load_run_crops(run).where("val")
    log(f"{run_dir.name}: predicting {len(val)} validation crops as the trainer did")
    images = occlude_fixed(val.images, val.landmarks, run.config.occlude_val, seed=run.config.seed + 1)
    pred = predict(model, images, run.normalization, flip_average=run.config.flip_average)[:, :len(aus)]
    y_val = task_targets(val.labels, run.task.kind)

    _, new, best = selection_score(run.task.kind, aus, y_val, pred, cfg.f1_tolerances())
    for name, t in zip(names, best):
        if abs(t - float(recorded[name])) > 1e-6:
            raise ThresholdError(
                f"{run_dir}: {name}'s F1-best validation threshold comes out {t:.2f}, the trainer wrote "
                f"{float(recorded[name]):.2f}; the validation crops or the model differ from training "
                "(same data folder and cache?), so the rule is not applied")

    metrics = dict(run.metrics)
    metrics["thresholds"] = dict(metrics["thresholds"]) | dict(zip(names, new))
    metrics["threshold"] = new[0]
    metrics["val"] = validation_report(val.meta, run.task.kind, aus, y_val, pred, new)
    if isinstance(metrics.get("config"), dict):
        metrics["config"] = metrics["config"] | {"threshold_f1_within": dict(rule)}
    metrics["threshold_rule"] = threshold_rule_record(
        names, cfg.f1_tolerances(), best, new, "train/threshold.py after training (validation split only)"
    ) | {"test_block": "scored by the trainer at the thresholds it chose then (each AU's block names its threshold)"}
    config = json.loads((run.root / CONFIG_FILE).read_text(encoding="utf-8"))
    config["threshold_f1_within"] = dict(rule)
    write_atomic(run.root / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    write_atomic(run.root / METRICS_FILE, json.dumps(metrics, indent=2, default=float) + "\n")
    return {n: (b, t) for n, b, t in zip(names, best, new)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="threshold.py", description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run folder written by train/train.py")
    p.add_argument("--f1-within", nargs="+", required=True, metavar="AU=TOL",
                   help="per AU: the highest threshold whose validation F1 is within TOL of the best (0: F1-best)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    try:
        picked = rethreshold(Path(args.run), parse_rule(args.f1_within), args.threads)
    except (ThresholdError, OSError) as exc:
        print(f"threshold.py: {exc}", file=sys.stderr)
        return 2
    for name, (best, new) in picked.items():
        print(f"{name}: F1-best threshold {best:.2f} -> {new:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
