"""T-mix against per-occluder specialists, from full-length runs: ``python train/research/compare_mix.py ...``.

Why beside the grid (``python -m auedge.train.research.experiments``): a grid cell trains the report's
short recipe, while the question "does one model trained on every occluder beat each specialist?"
is about the recipe a bundle ships with (12 epochs, jitter, detector keypoints). This takes runs
already trained with that recipe (train/train.py with ``--occlude-train``), scores each on its test
faces with every needed occluder pasted (as score_run.py does; conditions already in a run's
``evaluations.json`` are not scored again) and writes the grid's comparison and verdict::

    python train/research/compare_mix.py --t0 runs/T0 --tmix runs/TMIX --t1 mask-full=runs/T1_FULL \\
        --out experiments/mtfl_tmix_e12

Repeat ``--t0``, ``--tmix`` and ``--t1 OCC=RUN`` once per seed (in the same seed order): each row
then shows mean ± sample sd and each comparison the per-seed deltas, since one run of a small model
moves by about 0.01. Run folders are large and not committed, so ``results.json`` keeps every run's
scores; ``--scores-from`` an earlier ``results.json`` stands in for runs no longer on disk.
``--split val`` compares on the validation faces (``score_run.py --split val``), where a T-mix
recipe may be chosen before any testing figure is looked at; there each T1/V1 model's threshold was
chosen on the very faces it is scored on (in-sample), which favours the specialist, not T-mix.

Writes ``table.md`` and ``results.json`` into ``--out`` (each via a temporary file, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: this folder must not shadow real packages
    sys.path.pop(0)

import numpy as np
from auedge.train.occluders import OCCLUDER_KINDS
from auedge.train.research.experiment_tables import BARE
from auedge.train.research.experiments import (
    BARE_LOSS_ALLOWED,
    SPLITS,
    atomic_write_text,
    compare_mix,
    evals_file,
    fmt,
    fmt_mean,
    mix_verdict,
    spread,
    trainer_scores,
)
from auedge.train.research.score_run import score_run
from auedge.train.runs import CONFIG_FILE, RunError

SETTING = "run recipe"
Scores = dict[str, dict[str, dict[str, Any]]]  # run -> condition -> score_run's figures


def kept_scores(path: Path, split: str = "test") -> Scores:
    """Per-run scores an earlier ``results.json`` holds (its ``scores``, or the one-run-per-row layout)."""
    try:
        res = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"--scores-from {path}: not a readable results.json ({exc})") from exc
    if res.get("split", "test") != split:
        raise ValueError(f"--scores-from {path}: holds {res.get('split', 'test')} scores, not {split} ones; "
                         f"pass a results.json made with --split {split}")
    if "scores" in res:
        return res["scores"]
    out: Scores = {}
    for r in res.get("rows", []):  # results.json written before several seeds per row (2026-12-04 18:35)
        out.setdefault(r["run"], {})[r["eval_occluder"]] = {
            res["metric"]: r["mean"], "roc_auc": r.get("roc_auc"), "all_positive_f1": r.get("all_positive_f1")}
    return out


def _trained_on(run: Path) -> str:
    """The occluder the run was validated (so tested by the trainer) with."""
    path = run / CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return config.get("occlude_val") or BARE


class ScoreBook:
    """Every run's scores: from its folder (scoring what is missing) or, for a run not on disk, from kept scores."""

    def __init__(self, kept: Scores, log=print, split: str = "test") -> None:
        self.kept, self.log, self.split = kept, log, split
        self.scores: Scores = {}
        self.sources: dict[str, str] = {}

    def get(self, run: Path, conditions: list[str]) -> dict[str, dict[str, Any]]:
        key = str(run)
        if run.is_dir():
            path = run / evals_file(self.split)
            stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            stored = trainer_scores(run, _trained_on(run), self.split) | stored
            missing = [c for c in conditions if c not in stored]
            if missing:
                self.log(f"scoring {run} ({self.split} faces) under {', '.join(missing)}")
                stored |= score_run(run, missing, self.split)  # merged into the run's file, atomically
            self.sources[key] = "run folder"
        else:
            stored = self.kept.get(key, {})
            lacking = [c for c in conditions if c not in stored]
            if lacking:
                raise RunError(f"{run}: no such run folder and no kept scores under {', '.join(lacking)}; "
                               "train it again or pass --scores-from with an earlier results.json")
            self.sources[key] = "kept scores (--scores-from)"
        self.scores.setdefault(key, {}).update({c: stored[c] for c in conditions})
        return {c: stored[c] for c in conditions}


def _row(occluder: str, scenario: str, condition: str, runs: list[Path], found: list[dict[str, Any]],
         metric: str) -> dict[str, Any]:
    values = [float(v[metric]) for v in found if v.get(metric) is not None]
    aucs = [float(v["roc_auc"]) for v in found if v.get("roc_auc") is not None]
    return {"setting": SETTING, "occluder": occluder, "scenario": scenario, "eval_occluder": condition,
            "runs": [str(r) for r in runs], "values": values, **spread(values),
            "roc_auc": float(np.mean(aucs)) if aucs else None,
            "all_positive_f1": next((v["all_positive_f1"] for v in found if v.get("all_positive_f1") is not None),
                                    None)}


def build_rows(t0: list[Path], tmix: list[Path], t1: dict[str, list[Path]], metric: str,
               book: ScoreBook) -> list[dict[str, Any]]:
    """Rows in the grid's shape (setting, occluder, scenario, values, mean, sd), one run per seed."""
    occluders = list(t1)
    t0_scores = [book.get(r, [BARE, *occluders]) for r in t0]
    mix_scores = [book.get(r, [BARE, *occluders]) for r in tmix]
    rows = [_row(BARE, "T0/V0", BARE, t0, [s[BARE] for s in t0_scores], metric),
            _row(BARE, "T-mix/V0", BARE, tmix, [s[BARE] for s in mix_scores], metric)]
    for occ, runs in t1.items():
        own = [book.get(r, [BARE, occ]) for r in runs]
        rows += [_row(occ, "T0/V1", occ, t0, [s[occ] for s in t0_scores], metric),
                 _row(occ, "T1/V0", BARE, runs, [s[BARE] for s in own], metric),
                 _row(occ, "T1/V1", occ, runs, [s[occ] for s in own], metric),
                 _row(occ, "T-mix/V1", occ, tmix, [s[occ] for s in mix_scores], metric)]
    return rows


def paired(rows: list[dict[str, Any]], comparison: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add per-seed deltas (runs given in the same seed order) to each mean comparison."""
    by_key = {(r["occluder"], r["scenario"]): r for r in rows}
    for c in comparison:
        mix = by_key[(c["occluder"], "T-mix/V0" if c["against"] == "T0/V0" else "T-mix/V1")]["values"]
        ref = by_key[(c["occluder"], c["against"])]["values"]
        c["deltas"] = [m - r for m, r in zip(mix, ref, strict=True)] if len(mix) == len(ref) else None
    return comparison


def seed_verdict(comparison: list[dict[str, Any]]) -> str:
    """How often T-mix wins seed by seed: with a mean margin of 0.005, the count says more than the mean."""
    parts = []
    for c in comparison:
        if c["against"] == "T1/V1" and c.get("deltas") and len(c["deltas"]) > 1:
            wins = sum(d > 0 for d in c["deltas"])
            parts.append(f"under {c['occluder']} T-mix wins {wins} of {len(c['deltas'])} seeds")
    return ("Seed by seed: " + "; ".join(parts) + ".") if parts else ""


def render(res: dict[str, Any]) -> str:
    metric, split = res["metric"], res.get("split", "test")
    n = max((r["n"] for r in res["rows"]), default=0)
    lines = [f"# T-mix against per-occluder models ({metric}, {n} run{'s' if n != 1 else ''} per model)", "",
             "```bash", res["command"], "```", "",
             (f"Date {res['date']}. ± is the sample standard deviation over runs (seeds); "
              "'per run' lists them in the order given."
              + (" Validation faces: each T1/V1 threshold was chosen on the faces it is scored on here."
                 if split == "val" else "")), "",
             f"| occluder | scenario | {split} {metric} | n | per run | ROC AUC (mean) |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        per_run = ", ".join(f"{v:.3f}" for v in r["values"])
        lines.append(f"| {r['occluder']} | {r['scenario']} | {fmt_mean(r)} | {r['n']} | {per_run} | "
                     f"{fmt(r['roc_auc'])} |")
    floor = next((r["all_positive_f1"] for r in res["rows"] if r.get("all_positive_f1") is not None), None)
    if floor is not None:
        lines += ["", f"All-positive floor (predict the AU on every face): F1 {fmt(floor)}."]
    lines += ["", "| occluder | T-mix | against | reference | delta of means | per-seed deltas |",
              "|---|---|---|---|---|---|"]
    for c in res["comparison"]:
        delta = "n/a" if c["delta"] is None else f"{c['delta']:+.3f}"
        seeds = ", ".join(f"{d:+.3f}" for d in c["deltas"]) if c.get("deltas") else "n/a"
        lines.append(f"| {c['occluder']} | {fmt(c['mix'])} | {c['against']} | {fmt(c['reference'])} | {delta} | "
                     f"{seeds} |")
    lines += ["", f"**{res['verdict']}** (bare-face loss allowed: {BARE_LOSS_ALLOWED})"]
    if res.get("seed_verdict"):
        lines += ["", res["seed_verdict"]]
    lines += ["", "| run | scores from |", "|---|---|"]
    lines += [f"| `{run}` | {src} |" for run, src in res["sources"].items()]
    return "\n".join(lines) + "\n"


def parse_t1(items: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for item in items:
        occ, sep, path = item.partition("=")
        if not sep or occ not in OCCLUDER_KINDS:
            raise ValueError(f"--t1 {item!r}: write OCCLUDER=RUN with OCCLUDER one of {', '.join(OCCLUDER_KINDS)}")
        out.setdefault(occ, []).append(Path(path))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="compare_mix.py", description=__doc__.splitlines()[0])
    p.add_argument("--t0", action="append", required=True, help="run trained without occluders (repeat per seed)")
    p.add_argument("--tmix", action="append", required=True,
                   help="run trained with --occlude-train mix (repeat per seed)")
    p.add_argument("--t1", action="append", default=[], metavar="OCCLUDER=RUN",
                   help="a run trained and validated with that occluder (repeat per occluder and seed)")
    p.add_argument("--scores-from", action="append", default=[], metavar="RESULTS_JSON",
                   help="an earlier results.json whose kept scores stand in for runs no longer on disk")
    p.add_argument("--metric", default="f1", help="f1 (occurrence) or icc31 (intensity)")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="faces to compare on: test (default) or val (to choose a recipe before testing)")
    p.add_argument("--out", required=True, help="folder for table.md and results.json")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        t1 = parse_t1(args.t1)
        if not t1:
            raise ValueError("give at least one --t1 OCCLUDER=RUN")
        kept: Scores = {}
        for path in args.scores_from:
            kept |= kept_scores(Path(path), args.split)
        if args.threads:
            from auedge.train.trainer import configure_threads

            configure_threads(args.threads)
        book = ScoreBook(kept, split=args.split)
        rows = build_rows([Path(r) for r in args.t0], [Path(r) for r in args.tmix], t1, args.metric, book)
    except (RunError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    comparison = paired(rows, compare_mix(rows))
    res = {"metric": args.metric, "split": args.split, "command": "python train/research/compare_mix.py " + " ".join(argv),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "runs": {"T0": args.t0, "T-mix": args.tmix, **{f"T1 {k}": [str(r) for r in v] for k, v in t1.items()}},
           "rows": rows, "comparison": comparison, "verdict": mix_verdict(comparison, args.split),
           "seed_verdict": seed_verdict(comparison), "sources": book.sources, "scores": book.scores}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(res, indent=2, default=float))
    atomic_write_text(out / "table.md", render(res))
    print(render(res))
    print(f"written {out / 'table.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
