"""T-mix against per-occluder specialists, from full-length runs: ``python train/compare_mix.py ...``.

Why beside the grid (``python -m auedge.train.experiments``): a grid cell trains the report's
short recipe, while the question "does one model trained on every occluder beat each specialist?"
is about the recipe a bundle ships with (12 epochs, jitter, detector keypoints). This takes runs
already trained with that recipe (train/train.py with ``--occlude-train``), scores each on its test
faces with every needed occluder pasted (as score_run.py does; conditions already in a run's
``evaluations.json`` are not scored again) and writes the grid's comparison and verdict::

    python train/compare_mix.py --t0 runs/T0 --tmix runs/TMIX --t1 mask-full=runs/T1_FULL \\
        --out experiments/mtfl_tmix_e12

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

from auedge.train.experiment_tables import BARE
from auedge.train.experiments import (
    BARE_LOSS_ALLOWED,
    EVALS_FILE,
    atomic_write_text,
    compare_mix,
    fmt,
    mix_verdict,
)
from auedge.train.occluders import OCCLUDER_KINDS
from auedge.train.runs import RunError
from auedge.train.score_run import score_run

SETTING = "run recipe"


def _stored(run: Path) -> dict[str, dict[str, Any]]:
    path = run / EVALS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def scores(run: Path, conditions: list[str], log=print) -> dict[str, dict[str, Any]]:
    """The run's test scores under each condition, scoring (and storing) only the missing ones."""
    stored = _stored(run)
    missing = [c for c in conditions if c not in stored]
    if missing:
        log(f"scoring {run} under {', '.join(missing)}")
        stored |= score_run(run, missing)  # merges into the run's evaluations.json, atomically
    return {c: stored[c] for c in conditions}


def build_rows(t0: Path, tmix: Path, t1: dict[str, Path], metric: str, log=print) -> list[dict[str, Any]]:
    """Rows in the grid's shape (setting, occluder, scenario, mean), one run per scenario."""
    occluders = list(t1)
    rows: list[dict[str, Any]] = []

    def add(run: Path, occluder: str, scenario: str, condition: str, value: dict[str, Any]) -> None:
        rows.append({"setting": SETTING, "occluder": occluder, "scenario": scenario, "run": str(run),
                     "eval_occluder": condition, "mean": value.get(metric), "roc_auc": value.get("roc_auc"),
                     "all_positive_f1": value.get("all_positive_f1")})

    t0_scores = scores(t0, [BARE, *occluders], log)
    mix_scores = scores(tmix, [BARE, *occluders], log)
    add(t0, BARE, "T0/V0", BARE, t0_scores[BARE])
    add(tmix, BARE, "T-mix/V0", BARE, mix_scores[BARE])
    for occ, run in t1.items():
        own = scores(run, [BARE, occ], log)
        add(t0, occ, "T0/V1", occ, t0_scores[occ])
        add(run, occ, "T1/V0", BARE, own[BARE])
        add(run, occ, "T1/V1", occ, own[occ])
        add(tmix, occ, "T-mix/V1", occ, mix_scores[occ])
    return rows


def render(res: dict[str, Any]) -> str:
    metric = res["metric"]
    lines = [f"# T-mix against per-occluder models ({metric}, one run each)", "",
             "```bash", res["command"], "```", "",
             f"Date {res['date']}. Runs: " + ", ".join(f"{k} `{v}`" for k, v in res["runs"].items()) + ".", "",
             f"| occluder | scenario | test {metric} | ROC AUC | run |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['occluder']} | {r['scenario']} | {fmt(r['mean'])} | {fmt(r['roc_auc'])} | `{r['run']}` |")
    floor = next((r["all_positive_f1"] for r in res["rows"] if r.get("all_positive_f1") is not None), None)
    if floor is not None:
        lines += ["", f"All-positive floor (predict the AU on every face): F1 {fmt(floor)}."]
    lines += ["", "| occluder | T-mix | against | reference | delta |", "|---|---|---|---|---|"]
    for c in res["comparison"]:
        delta = "n/a" if c["delta"] is None else f"{c['delta']:+.3f}"
        lines.append(f"| {c['occluder']} | {fmt(c['mix'])} | {c['against']} | {fmt(c['reference'])} | {delta} |")
    lines += ["", f"**{res['verdict']}** (bare-face loss allowed: {BARE_LOSS_ALLOWED})", ""]
    return "\n".join(lines)


def parse_t1(items: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items:
        occ, sep, path = item.partition("=")
        if not sep or occ not in OCCLUDER_KINDS:
            raise ValueError(f"--t1 {item!r}: write OCCLUDER=RUN with OCCLUDER one of {', '.join(OCCLUDER_KINDS)}")
        out[occ] = Path(path)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="compare_mix.py", description=__doc__.splitlines()[0])
    p.add_argument("--t0", required=True, help="run trained without occluders")
    p.add_argument("--tmix", required=True, help="run trained with --occlude-train mix")
    p.add_argument("--t1", action="append", default=[], metavar="OCCLUDER=RUN",
                   help="a run trained and validated with that occluder (repeat for each)")
    p.add_argument("--metric", default="f1", help="f1 (occurrence) or icc31 (intensity)")
    p.add_argument("--out", required=True, help="folder for table.md and results.json")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        t1 = parse_t1(args.t1)
        if not t1:
            raise ValueError("give at least one --t1 OCCLUDER=RUN")
        if args.threads:
            from auedge.train.trainer import configure_threads

            configure_threads(args.threads)
        rows = build_rows(Path(args.t0), Path(args.tmix), t1, args.metric)
    except (RunError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    comparison = compare_mix(rows)
    res = {"metric": args.metric, "command": "python train/compare_mix.py " + " ".join(argv),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "runs": {"T0": args.t0, "T-mix": args.tmix, **{f"T1 {k}": str(v) for k, v in t1.items()}},
           "rows": rows, "comparison": comparison, "verdict": mix_verdict(comparison)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(res, indent=2, default=float))
    atomic_write_text(out / "table.md", render(res))
    print(render(res))
    print(f"written {out / 'table.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
