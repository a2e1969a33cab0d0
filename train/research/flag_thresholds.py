"""Per-flag-state AU thresholds for a run with occlusion flags: ``python train/research/flag_thresholds.py --run runs/NAME``.

Why: a T-mix model decides every face with one AU threshold, chosen on a validation mix where five
faces in six show the AU's region. When its own flag says the region is covered, the AU score means
something else (a guess from the cheeks and the eyes) and the best cut-off for it differs, so a
single threshold is a compromise that a per-occluder specialist never has to make. Here each AU gets
two thresholds, one for faces the flag calls clear and one for faces it calls covered, both chosen
on the trainer's own validation mix (same faces, same pasted occluders, seed ``cfg.seed + 1``); they
are then applied, unchanged, to every condition of ``--split`` (val: where recipes are chosen; test:
only once a recipe has been chosen). Writes ``flag_thresholds_<split>.json`` into the run folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: this folder must not shadow real packages
    sys.path.pop(0)

import numpy as np
from auedge.train import metrics as M
from auedge.train.occluders import MIX_KINDS
from auedge.train.research.experiments import atomic_write_text
from auedge.train.research.score_run import prepare, scoring_parser
from auedge.train.runs import RunError

MIN_STATE_FACES = 50  # fewer validation faces (or no positives) in a state: it keeps the single threshold
STATES = ("clear", "covered")


def state_thresholds(y_true: np.ndarray, scores: np.ndarray, covered: np.ndarray, fallback: float) -> dict[str, float]:
    """The F1-best threshold among the faces of each flag state; ``fallback`` where a state is too thin."""
    known = np.isfinite(y_true)
    found = {}
    for state, mask in zip(STATES, (known & ~covered, known & covered)):
        t = y_true[mask]
        usable = mask.sum() >= MIN_STATE_FACES and 0 < t.sum() < len(t)
        found[state] = M.best_threshold(t, scores[mask])[0] if usable else float(fallback)
    return found


def decide(scores: np.ndarray, covered: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """AU present where the score reaches the threshold of the face's flag state."""
    return scores >= np.where(covered, thresholds["covered"], thresholds["clear"])


def score_states(y_true: np.ndarray, scores: np.ndarray, covered: np.ndarray, thresholds: dict[str, float],
                 single: float) -> dict[str, Any]:
    """F1 with the single threshold and with the per-state ones, and the share of faces flagged."""
    known = np.isfinite(y_true)
    t, s, c = np.asarray(y_true)[known] >= 0.5, scores[known], covered[known]
    return {
        "n": len(t),
        "flagged": float(c.mean()) if len(t) else float("nan"),
        "f1_single": M.binary_scores(t, s >= single)["f1"],
        "f1_by_state": M.binary_scores(t, decide(s, c, thresholds))["f1"],
    }


def flag_state_scores(run_dir: Path, conditions: list[str], split: str) -> dict[str, Any]:
    """Choose per-state thresholds on the run's validation mix, then score ``conditions`` on ``split``."""
    import keras
    from auedge.train.augment import occlude_fixed
    from auedge.train.runs import load_run_crops, read_run
    from auedge.train.trainer import keep_freed_memory, predict, task_targets

    keep_freed_memory()
    run = read_run(run_dir)
    if run.task.kind != "occurrence" or not run.config.occlusion_flags:
        raise RunError(f"{run_dir}: needs an occurrence run trained with --occlusion-flags")
    known = run.metrics.get("thresholds") or {}
    aus, flags = run.task.au_names, run.config.flag_names
    if any(name not in known for name in [*aus, *flags]):
        raise RunError(f"{run_dir}/metrics.json has no thresholds for {', '.join(aus + flags)}; train the run to the end")
    n = len(aus)
    model = keras.models.load_model(str(run.model_path), compile=False)
    data = load_run_crops(run)

    def outputs(faces, cond: str, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images = occlude_fixed(faces.images, faces.landmarks, cond, seed=run.config.seed + offset)
        pred = predict(model, images, run.normalization, flip_average=run.config.flip_average)
        covered = pred[:, n:] >= np.asarray([known[f] for f in flags])
        return task_targets(faces.labels, run.task.kind), pred[:, :n], covered

    val = data.where("val")
    y, s, c = outputs(val, "mix", 1)
    chosen = {au: state_thresholds(y[:, j], s[:, j], c[:, j], known[au]) for j, au in enumerate(aus)}
    faces, offset = data.where(split), (2 if split == "test" else 1)
    scores = {}
    for cond in conditions:
        y, s, c = outputs(faces, cond, offset)
        scores[cond] = {au: score_states(y[:, j], s[:, j], c[:, j], chosen[au], known[au]) for j, au in enumerate(aus)}
    keras.backend.clear_session()
    return {"run": str(run_dir), "split": split, "chosen_on": "val mix (seed + 1)",
            "thresholds": chosen, "single": {au: known[au] for au in aus}, "scores": scores}


def render(res: dict[str, Any]) -> str:
    lines = [f"Thresholds chosen on the validation mix: {json.dumps(res['thresholds'])} (single: {json.dumps(res['single'])})",
             "", f"| condition | AU | {res['split']} F1, one threshold | F1, per flag state | share flagged |",
             "|---|---|---|---|---|"]
    for cond, per_au in res["scores"].items():
        for au, r in per_au.items():
            lines.append(f"| {cond} | {au} | {r['f1_single']:.3f} | {r['f1_by_state']:.3f} | {r['flagged']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = scoring_parser("flag_thresholds.py", __doc__, "run folder trained with --occlude-train mix --occlusion-flags",
                       ",".join(MIX_KINDS), "val")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_dir = Path(args.run)
    try:
        conditions = prepare(args.occlude, args.threads)
        res = flag_state_scores(run_dir, conditions, args.split)
    except (RunError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    atomic_write_text(run_dir / f"flag_thresholds_{args.split}.json", json.dumps(res, indent=2, default=float))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
