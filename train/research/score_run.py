"""Score a finished run on its test faces with occluders pasted: ``python train/research/score_run.py --run runs/NAME``.

This is the report's T0/V1 cell for any trained model, without training again: the run's
``model.keras`` is reloaded, every occluder in ``--occlude`` is pasted on the test faces exactly as
the trainer pastes them (same landmarks, same seed), and the threshold chosen on validation is kept,
so ``none`` reproduces the trainer's own test figure and the others are directly comparable with it.
Writes ``evaluations.json`` into the run folder (merged with earlier conditions) and prints a table;
``--split val`` scores the validation faces instead, into ``evaluations_val.json`` (where recipes
are compared and chosen, so that testing faces stay untouched until the end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: this folder must not shadow real packages
    sys.path.pop(0)

from auedge.train.occluders import MIX_KINDS
from auedge.train.research.experiments import SPLITS, atomic_write_text, evals_file, evaluate_run
from auedge.train.runs import RunError

CONDITIONS = MIX_KINDS


def score_run(run_dir: Path, conditions: list[str], split: str = "test") -> dict[str, dict[str, Any]]:
    """Scores per condition, merged into ``run_dir/evaluations.json`` (``evaluations_val.json`` for
    ``split="val"``), written atomically."""
    results = evaluate_run(run_dir, conditions, split)
    path = run_dir / evals_file(split)
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    atomic_write_text(path, json.dumps(stored | results, indent=2, default=float))
    return results


def parse_conditions(text: str) -> list[str]:
    """The conditions of an ``--occlude`` comma list; ValueError naming the valid ones."""
    conditions = [c.strip() for c in text.split(",") if c.strip()]
    if not conditions or any(c not in CONDITIONS for c in conditions):
        raise ValueError(f"--occlude {text!r}: use a comma list of {', '.join(CONDITIONS)}")
    return conditions


def prepare(occlude: str, threads: int) -> list[str]:
    """The parsed ``--occlude`` list, after setting TensorFlow's threads (0: leave all cores)."""
    conditions = parse_conditions(occlude)
    if threads:
        from auedge.train.trainer import configure_threads

        configure_threads(threads)
    return conditions


def scoring_parser(prog: str, doc: str, run_help: str, occlude: str, split: str) -> argparse.ArgumentParser:
    """The options every run-scoring command shares: --run, --occlude, --split, --threads."""
    p = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    p.add_argument("--run", required=True, help=run_help)
    p.add_argument("--occlude", default=occlude, help=f"comma list of conditions: {', '.join(CONDITIONS)}")
    p.add_argument("--split", choices=SPLITS, default=split,
                   help=f"faces to score (default {split}): val chooses recipes without touching testing")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    return p


def render(results: dict[str, dict[str, Any]]) -> str:
    """One row per condition: the headline figure, then per-pose F1 where the data has poses."""
    first = next(iter(results.values()))
    metric = "f1" if "f1" in first else "icc31"
    poses = sorted({k for r in results.values() for k in r.get("groups", {}) if k.startswith("pose=")})
    head = ["condition", "split", metric] + (["precision", "recall", "roc_auc"] if metric == "f1" else ["mae"]) + poses
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cond, r in results.items():
        extra = [r.get(k) for k in (("precision", "recall", "roc_auc") if metric == "f1" else ("mae",))]
        groups = [r.get("groups", {}).get(p, {}).get(metric) for p in poses]
        cells = [cond, r.get("split", "")] + [r.get(metric)] + extra + groups
        lines.append("| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = scoring_parser("score_run.py", __doc__, "run folder written by train/train.py", "none,mask-full", "test")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_dir = Path(args.run)
    try:
        conditions = prepare(args.occlude, args.threads)
        results = score_run(run_dir, conditions, args.split)
    except (RunError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(results))
    print(f"written {run_dir / evals_file(args.split)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
