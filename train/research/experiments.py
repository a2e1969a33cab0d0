"""Run one of the report's tables as a resumable grid of trainings.

``python -m auedge.train.research.experiments --table 4.2 --dataset synthetic --out experiments/NAME``

Each (training configuration, seed) is a *cell* trained once into ``OUT/cells/<id>/`` (a run folder
as written by ``train/train.py``, plus ``evaluations.json``); a cell whose folder holds
``metrics.json`` is finished and never trained again, so an interrupted grid resumes where it
stopped. A model trained bare is scored on every occluded test set it is needed for by reloading
its ``model.keras`` (no second training). After every cell ``table.md``, ``results.json`` and
``chart.png`` are rewritten (atomically), so a long run can be watched while it goes.

Cell folders hold models and are not committed, but ``results.json`` keeps every cell's scores: a
cell whose folder is gone and whose record there has every score it needs is kept, not trained
again. So ``--seeds 3`` on a committed one-seed table trains only seeds 1 and 2. Records of cells
outside the current plan (a narrower run: fewer seeds, one head) stay in ``results.json`` under
``other_cells``, out of the table, so a wider run later reuses them instead of training them again.

A cell id hashes only the settings that differ from TrainConfig's defaults, so each record (and
each cell folder's ``cell.json``) also stores the cell's full settings and its dataset's label
version (``data.loader.LABEL_VERSIONS``). A finished or kept cell whose stored ones differ from
today's (a changed default, a fixed label reader) is trained again, with one log line saying why;
a record from before they were stored is reused, with a one-line note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.atomic_io import write_atomic as atomic_write_text
from auedge.train.config import DATASETS, ConfigError
from auedge.train.research.experiment_tables import (
    BARE,
    TABLES,
    Cell,
    Setting,
    TableDef,
    TableError,
    cell_provenance,
    expand,
    get_table,
    lr_text,
    provenance_changes,
)

EVALS_FILE = "evaluations.json"
VAL_EVALS_FILE = "evaluations_val.json"  # the same conditions on the validation faces (score_run --split val)
SPLITS = ("test", "val")
CELL_FILE = "cell.json"
TABLE_FILE, RESULTS_FILE, CHART_FILE = "table.md", "results.json", "chart.png"
DEFAULT_SEEDS = 3
DEFAULT_EPOCHS = 12
NOT_LEARNED_BELOW = 0.1  # F1 or ICC: a model this poor on bare faces has learned nothing usable
BARE_LOSS_ALLOWED = 0.02  # the bound on what T-mix may lose on bare faces
PROG = "python -m auedge.train.research.experiments"

FitFn = Callable[[Any, Path], Any]
EvalFn = Callable[[Path, list[str]], dict[str, dict[str, Any]]]


def log(msg: str) -> None:
    print(f"experiments: {msg}", file=sys.stderr, flush=True)


@dataclass
class GridOptions:
    """What one invocation asked for; pass-through settings go into every cell's TrainConfig."""

    table: str
    out: Path
    dataset: str = "synthetic"
    data_dir: str | None = None
    seeds: int = DEFAULT_SEEDS
    epochs: int = DEFAULT_EPOCHS
    limit: int | None = None
    threads: int = 0
    input_size: int | None = None
    batch_size: int | None = None
    cache_dir: str | None = None
    heads: tuple[str, ...] | None = None
    command: str = ""

    def base(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "data_dir": self.data_dir, "epochs": self.epochs, "limit": self.limit,
                "input_size": self.input_size, "batch_size": self.batch_size, "cache_dir": self.cache_dir,
                "threads": 0}

    def settings(self, table: TableDef) -> list[Setting]:
        chosen = [s for s in table.settings if self.heads is None or s.head in self.heads]
        if not chosen:
            raise TableError(f"--heads {','.join(self.heads or ())} leaves no row of table {table.id}; "
                             f"its heads are {','.join(sorted({s.head for s in table.settings}))}")
        return chosen

    @property
    def smoke(self) -> bool:
        """Anything smaller than the full recipe: said loudly in the table."""
        return (self.limit is not None or self.epochs < DEFAULT_EPOCHS or self.seeds < DEFAULT_SEEDS
                or self.input_size is not None or self.heads is not None)

    def full_command(self) -> str:
        args = ["--table", self.table, "--dataset", self.dataset]
        if self.data_dir:
            args += ["--data-dir", self.data_dir]
        # A smoke grid's folder keeps its own table; the full grid gets a folder of its own.
        out = self.out.with_name(f"{self.out.name}-full") if self.smoke else self.out
        return f"{PROG} {shlex.join([*args, '--out', str(out)])}"


# ---------------------------------------------------------------- running cells


def cell_folder(out: Path, cell: Cell) -> Path:
    return out / "cells" / cell.id


def is_finished(folder: Path) -> bool:
    from auedge.train.runs import METRICS_FILE

    return (folder / METRICS_FILE).is_file()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """A test result without the bulky per-group breakdown."""
    return {k: v for k, v in metrics.items() if k != "groups"}


def evals_file(split: str) -> str:
    """Where a run folder keeps its scores per condition on ``split`` ("test" or "val")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return EVALS_FILE if split == "test" else VAL_EVALS_FILE


def evaluate_run(folder: Path, conditions: list[str], split: str = "test") -> dict[str, dict[str, Any]]:
    """Score a finished run's model on its test faces under each occluder in ``conditions``.

    The occluders are pasted exactly as the trainer pastes them on test faces (``occlude_fixed``
    with seed ``cfg.seed + 2``), and the decision threshold is the one chosen on validation, so a
    figure from here is comparable with the trainer's own ``metrics["test"]``. ``split="val"``
    scores the validation faces instead (seed ``cfg.seed + 1``, as the trainer pastes them), where
    recipes may be chosen; there the threshold is in-sample for the run's own validation occluder.
    """
    evals_file(split)
    import keras
    from auedge.train.augment import occlude_fixed
    from auedge.train.runs import load_run_crops, read_run
    from auedge.train.trainer import evaluate, group_scores, keep_freed_memory, predict, task_targets

    keep_freed_memory()
    run = read_run(folder)
    data = load_run_crops(run)
    offset = 2 if split == "test" else 1
    faces = data.where(split)
    if len(faces) == 0 and split == "test":  # a dataset without a test split: score validation (said in the result)
        split, offset, faces = "val", 1, data.where("val")
    model = keras.models.load_model(str(run.model_path), compile=False)
    thresholds = run_thresholds(run.metrics, run.task.kind, run.task.au_names)
    y_true = task_targets(faces.labels, run.task.kind)
    results = {}
    for cond in conditions:
        images = occlude_fixed(faces.images, faces.landmarks, cond, seed=run.config.seed + offset)
        pred = predict(model, images, run.normalization, flip_average=run.config.flip_average)
        results[cond] = evaluate(run.task.kind, list(run.task.aus), y_true, pred, thresholds) | {
            "split": split, "groups": group_scores(faces.meta, run.task.kind, y_true, pred, thresholds)}
    keras.backend.clear_session()
    return results


def run_thresholds(metrics: dict[str, Any], kind: str, au_names: list[str]) -> list[float] | None:
    """The decision thresholds a run chose on validation for its AU outputs, or None.

    Only occurrence outputs have one. ``metrics["thresholds"]`` may also hold the occlusion flags'
    (``AU12_occluded``), and for an intensity run with flags nothing else, so it is read by AU name
    and only for an occurrence task whose every AU has one.
    """
    known = metrics.get("thresholds") or {}
    if kind != "occurrence" or not all(au in known for au in au_names):
        return None
    return [float(known[au]) for au in au_names]


def kept_records(out: Path) -> dict[str, dict[str, Any]]:
    """Cell records of an earlier ``results.json`` in ``out``, by cell id (empty if none or unreadable):
    its table's cells and the ``other_cells`` it carried for cells outside its plan."""
    res = _read_json(out / RESULTS_FILE)
    return {r["id"]: r for r in [*res.get("other_cells", []), *res.get("cells", [])] if "id" in r}


def kept_record(cell: Cell, kept: dict[str, dict[str, Any]], out: Path) -> dict[str, Any] | None:
    """The earlier record of a cell whose folder is gone, if it scored every condition the cell needs.

    A folder that exists but is unfinished (a training killed mid-run) is trained again instead.
    """
    rec = kept.get(cell.id)
    if cell_folder(out, cell).exists() or rec is None or any(c not in rec.get("evaluations", {}) for c in cell.evals):
        return None
    return rec | {"kept": True}


OLD_RECORD_NOTE = "its record predates stored settings, so a changed default or label reading cannot be checked"
PROVENANCE_KEYS = ("settings", "label_version")


@dataclass
class CellState:
    """What to do with one planned cell: reuse it ("finished", "kept"), or train it ("train", "retrain")."""

    state: str
    record: dict[str, Any] | None = None  # the kept record ("kept")
    provenance: dict[str, Any] | None = None  # a reused cell's stored settings and label version
    reason: str = ""  # why it is trained again ("retrain"), or the note on an old record

    @property
    def to_train(self) -> bool:
        return self.state in ("train", "retrain")


def _judge(stored: dict[str, Any], cell: Cell, reused: str, record: dict[str, Any] | None = None) -> CellState:
    changes = provenance_changes(stored, cell.config)
    if changes is None:
        return CellState(reused, record, {}, OLD_RECORD_NOTE)
    if changes:
        return CellState("retrain", reason=f"its stored settings differ from the current ones ({'; '.join(changes)})")
    return CellState(reused, record, {k: stored[k] for k in PROVENANCE_KEYS if k in stored})


def cell_state(cell: Cell, kept: dict[str, dict[str, Any]], out: Path) -> CellState:
    """Whether a planned cell is reused (its finished folder, or its kept record) or trained (again).

    A finished folder is judged by its ``cell.json``, a kept record by itself: stored settings or
    label version that differ from the current ones mean "retrain"; none stored (older records)
    means reuse, with :data:`OLD_RECORD_NOTE`.
    """
    folder = cell_folder(out, cell)
    if is_finished(folder):
        return _judge(_read_json(folder / CELL_FILE), cell, "finished")
    rec = kept_record(cell, kept, out)
    if rec is None:
        return CellState("train")
    return _judge(rec, cell, "kept", rec)


def clear_stale_cell(folder: Path) -> None:
    """Remove a finished folder's results before it is trained again (its scores belong to the old model)."""
    from auedge.train.trainer import clear_finished_markers

    clear_finished_markers(folder)
    for name in (EVALS_FILE, VAL_EVALS_FILE, CELL_FILE):
        (folder / name).unlink(missing_ok=True)


def trainer_scores(folder: Path, trained_on: str, split: str = "test") -> dict[str, dict[str, Any]]:
    """The test scores the trainer wrote itself: under its validation occluder, and bare if that was occluded.

    Scoring them again would only repeat the trainer's sums (score_run reproduces them exactly).
    With ``split="val"``: its validation score, under its validation occluder.
    """
    from auedge.train.runs import METRICS_FILE

    metrics = _read_json(folder / METRICS_FILE)
    found = {}
    if split == "val":
        return {trained_on: _headline(metrics["val"]) | {"split": "val"}} if "val" in metrics else {}
    if "test" in metrics:
        found[trained_on] = _headline(metrics["test"]) | {"split": "test"}
    if "test_bare" in metrics:
        found[BARE] = _headline(metrics["test_bare"]) | {"split": "test"}
    return found


def cell_evaluations(cell: Cell, folder: Path, eval_fn: EvalFn) -> dict[str, dict[str, Any]]:
    """Every condition the cell is scored on: stored ones, the trainer's own, then computed ones."""
    stored = _read_json(folder / EVALS_FILE)
    found = trainer_scores(folder, cell.config.occlude_val) | stored
    results = {c: found[c] for c in cell.evals if c in found}
    missing = [c for c in cell.evals if c not in results]
    if missing:
        log(f"  scoring {cell.id} on {', '.join(missing)} (reloading its model)")
        results.update(eval_fn(folder, missing))
    if results != stored:
        atomic_write_text(folder / EVALS_FILE, json.dumps(results, indent=2, default=float))
    return results


def run_cells(
    cells: list[Cell],
    out: Path,
    metric: str,
    *,
    threads: int = 0,
    fit_fn: FitFn | None = None,
    eval_fn: EvalFn | None = None,
    on_update: Callable[[list[dict[str, Any]]], None] | None = None,
    kept: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Train the unfinished cells, score every cell, and return one record per cell.

    ``fit_fn``/``eval_fn`` default to the trainer's ``fit`` and :func:`evaluate_run`; they are
    looked up at call time so tests can replace them. ``kept`` (from :func:`kept_records`) stands
    in for cells whose folder is gone.
    """
    from auedge.train import trainer

    fit_fn = fit_fn or trainer.fit
    eval_fn = eval_fn or evaluate_run
    kept = kept or {}
    states = {c.id: cell_state(c, kept, out) for c in cells}
    todo = [c for c in cells if states[c.id].to_train]
    log(f"{len(cells)} cells, {len(cells) - len(todo)} finished, {len(todo)} to train")
    if todo and threads > 0:
        trainer.configure_threads(threads)  # once per process: TensorFlow refuses a second setting
    records: list[dict[str, Any]] = []
    start, trained = time.time(), 0
    for number, cell in enumerate(cells, 1):
        folder = cell_folder(out, cell)
        what = f"[{number}/{len(cells)}] {cell.id} {cell.setting.label}, train occluder {cell.train_occluder}, " \
               f"seed {cell.seed}"
        state = states[cell.id]
        note = f"; note: {state.reason}" if state.reason and not state.to_train else ""
        if state.state == "finished":
            log(f"{what}: finished earlier, not re-run{note}")
        elif state.state == "kept":
            log(f"{what}: kept from {out / RESULTS_FILE} (its folder is gone), not re-run{note}")
            records.append(state.record)  # kept_record marked it kept
            if on_update:
                on_update(records)
            continue
        else:
            if state.state == "retrain":
                log(f"{what}: trained again: {state.reason}")
                clear_stale_cell(folder)
            log(f"{what}: training ({cell.config.epochs} epochs), then scoring on {', '.join(cell.evals)}")
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / CELL_FILE, json.dumps(cell_record(cell, folder, {}), indent=2, default=str))
            cfg = cell.config
            cfg.out = str(folder)
            t0 = time.time()
            fit_fn(cfg, folder)
            trained += 1
            _clear_keras()
            left = len(todo) - trained
            eta = f", about {left * (time.time() - start) / trained / 60:.0f} min left" if left else ""
            log(f"{what}: trained in {time.time() - t0:.0f}s{eta}")
        evaluations = cell_evaluations(cell, folder, eval_fn)
        figures = ", ".join(f"{c} {evaluations[c].get(metric, float('nan')):.3f}" for c in cell.evals)
        log(f"{what}: test {metric}: {figures}")
        records.append(cell_record(cell, folder, evaluations, None if state.to_train else state.provenance))
        if on_update:
            on_update(records)
    return records


def _clear_keras() -> None:
    """Free the finished model's graph before the next cell (a grid runs many in one process)."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def cell_record(cell: Cell, folder: Path, evaluations: dict[str, Any],
                provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """A cell's record for results.json. ``provenance`` (full settings and label version) defaults
    to the current ones, right for a cell trained now; a reused cell passes what its own record
    stored (empty for an old record, which then stays without, and is noted again next time)."""
    from auedge.train.runs import METRICS_FILE

    metrics = _read_json(folder / METRICS_FILE)
    return {
        "id": cell.id, "setting": cell.setting.label, "train_occluder": cell.train_occluder, "seed": cell.seed,
        "folder": str(folder), "evals": list(cell.evals), "evaluations": evaluations,
        "seconds": metrics.get("seconds"), "best_epoch": metrics.get("best_epoch"),
        "counts": metrics.get("data", {}).get("counts"), "config": cell.config.to_dict(),
        **(cell_provenance(cell.config) if provenance is None else provenance),
    }


# ---------------------------------------------------------------- summarising


def spread(values: list[float]) -> dict[str, Any]:
    """n, mean and sample standard deviation over the finite values (a NaN ICC is not a zero)."""
    finite = [v for v in values if math.isfinite(v)]
    return {"n": len(finite), "mean": float(np.mean(finite)) if finite else None,
            "sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else None}


def summarize(table: TableDef, options: GridOptions, cells: list[Cell], records: list[dict[str, Any]],
              others: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """Everything the Markdown, JSON and chart show, from the cell records (no TensorFlow).

    ``others`` are records of cells outside this plan, carried from the earlier results.json as
    ``other_cells`` (not in the table) so that a wider run later can reuse them.
    """
    settings = options.settings(table)
    rows = []
    for row in table.rows():
        if row.setting not in settings:
            continue
        values, seeds = [], []
        for rec in records:
            if rec["setting"] == row.setting.label and rec["train_occluder"] == row.train_occluder:
                value = rec["evaluations"].get(row.eval_occluder, {}).get(table.metric)
                if value is not None:
                    values.append(float(value))
                    seeds.append(rec["seed"])
        rows.append({
            "setting": row.setting.label, "arch": row.setting.arch_name, "optimizer": row.setting.optimizer_name,
            "lr": row.setting.lr, "head": row.setting.head.title(), "augment": row.setting.augment_text,
            "occluder": row.occluder, "scenario": row.scenario, "train_occluder": row.train_occluder,
            "eval_occluder": row.eval_occluder, "values": values, "seeds": seeds, **spread(values),
            "report": row.report,
        })
    counts = next((r["counts"] for r in records if r.get("counts")), None)
    # Occlusion never changes the labels, so every evaluation of one test split carries the same floor.
    floor = next((ev["all_positive_f1"] for r in records for ev in r["evaluations"].values()
                  if ev.get("all_positive_f1") is not None), None)
    return {
        "table": table.id, "title": table.title, "task": table.task, "metric": table.metric,
        "metric_label": table.metric_label, "dataset": options.dataset, "synthetic": options.dataset == "synthetic",
        "data_dir": options.data_dir, "command": options.command, "full_command": options.full_command(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "scale": {"smoke": options.smoke, "epochs": options.epochs, "limit": options.limit,
                  "seeds": list(range(options.seeds)), "input_size": options.input_size,
                  "heads": list(options.heads) if options.heads else None, "counts": counts},
        "cells_total": len(cells), "cells_done": len(records),
        "train_seconds": round(sum(r["seconds"] or 0 for r in records), 1),
        "report_note": table.report_note, "settings_note": table.settings_note,
        "all_positive_f1": floor, "rows": rows, "comparison": compare_mix(rows), "cells": records,
        "other_cells": list(others),
    }


def compare_mix(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """T-mix against the per-occluder T1 model on each occluded set, and against T0 on bare faces."""
    by_key = {(r["setting"], r["occluder"], r["scenario"]): r for r in rows}
    out = []
    for r in rows:
        if r["scenario"] == "T-mix/V1":
            ref = by_key.get((r["setting"], r["occluder"], "T1/V1"))
        elif r["scenario"] == "T-mix/V0":
            ref = by_key.get((r["setting"], BARE, "T0/V0"))
        else:
            continue
        if ref is None:
            continue
        delta = r["mean"] - ref["mean"] if r["mean"] is not None and ref["mean"] is not None else None
        out.append({"setting": r["setting"], "occluder": r["occluder"], "against": ref["scenario"],
                    "reference": ref["mean"], "mix": r["mean"], "delta": delta})
    return out


def mix_verdict(comparison: list[dict[str, Any]], split: str = "test") -> str:
    """One sentence on the issue's claim: T-mix beats every T1/V1 and loses at most 0.02 bare."""
    if not comparison or any(c["delta"] is None for c in comparison):
        return "Not enough finished cells to compare T-mix with the per-occluder models yet."
    occluded = [c for c in comparison if c["against"] == "T1/V1"]
    bare = [c for c in comparison if c["against"] == "T0/V0"]
    wins = sum(c["delta"] > 0 for c in occluded)
    worst_bare = min((c["delta"] for c in bare), default=0.0)
    ok = wins == len(occluded) and worst_bare >= -BARE_LOSS_ALLOWED
    return (f"T-mix beats T1/V1 on {wins} of {len(occluded)} occluded {split} sets; its largest change on bare faces "
            f"is {worst_bare:+.3f} (allowed: -{BARE_LOSS_ALLOWED}). Claim {'holds' if ok else 'does NOT hold'} "
            "at this scale.")


# ---------------------------------------------------------------- writing


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def fmt_mean(row: dict[str, Any]) -> str:
    if row["mean"] is None:
        return "pending" if not row["values"] else "nan"
    return f"{row['mean']:.3f} ± {fmt(row['sd'])}" if row["sd"] is not None else f"{row['mean']:.3f}"


LEGEND = (
    "T0: trained on bare faces; T1: trained with the row's occluder pasted on every face; T-mix: trained with a "
    "random occluder of every kind (or none) per face. V0: scored on bare test faces; V1: scored with the row's "
    "occluder pasted on every test face (the same patch per face for every model). Each model's checkpoint (and F1 "
    "threshold) is chosen on validation faces occluded like its training faces; one trained model is scored under "
    "every condition it appears in. ± is the sample standard deviation over seeds (absent with one seed); n counts "
    "the seeds."
)


def not_learned(rows: list[dict[str, Any]]) -> bool:
    """True when every finished bare-face (T0/V0) figure is near chance: then no row means anything."""
    bare = [r["mean"] for r in rows if r["scenario"] == "T0/V0" and r["mean"] is not None]
    return bool(bare) and max(bare) < NOT_LEARNED_BELOW


def render_markdown(res: dict[str, Any]) -> str:
    """table.md: the figures next to the report's, and exactly how and at what size they were made."""
    scale, metric = res["scale"], res["metric_label"]
    counts = scale.get("counts") or {}
    lines = [f"# Table {res['table']}: {res['title']}", ""]
    if res["synthetic"]:
        lines += [("> **Synthetic faces.** Procedurally generated faces with exact AU labels "
                   "(`train/data/synthetic.py`), not photographs: these figures show how the pipeline behaves, "
                   "not how it does on real faces, and are not comparable with the report's."), ""]
    if scale["smoke"]:
        lines += [f"> **Smoke scale.** {scale['epochs']} epoch(s), "
                  f"{'at most ' + str(scale['limit']) + ' faces per split' if scale['limit'] else 'all faces'}, "
                  f"{len(scale['seeds'])} seed(s)"
                  + (f", {scale['input_size']} px input" if scale.get("input_size") else "")
                  + (f", heads {', '.join(scale['heads'])} only" if scale.get("heads") else "")
                  + f". The full version (every head of the table, the backbone's own input size, "
                  f"{DEFAULT_SEEDS} seeds, {DEFAULT_EPOCHS} epochs, all faces): `{res['full_command']}`", ""]
    if not_learned(res["rows"]):
        lines += [(f"> **Nothing learned at this scale.** Every bare-face figure is below {NOT_LEARNED_BELOW}: the "
                   "models did not learn the AU, so differences between rows are noise. The table shows that the "
                   "grid runs end to end, not an effect of occlusion."), ""]
    if res["cells_done"] < res["cells_total"]:
        lines += [(f"> **Partial:** {res['cells_done']} of {res['cells_total']} cells finished; run the same "
                   "command again to resume."), ""]
    lines += [
        f"- Command: `{res['command']}`",
        f"- Dataset: {res['dataset']}" + (" (synthetic faces)" if res["synthetic"] else "")
        + (f", `{res['data_dir']}`" if res.get("data_dir") else "")
        + (f"; {counts.get('train')} train, {counts.get('val')} validation, {counts.get('test')} test faces"
           if counts else ""),
        (f"- Date: {res['date']}; task `{res['task']}`, metric {metric} on the test split; "
         f"{res['cells_done']} cells, {res['train_seconds'] / 60:.1f} min of training in total"),
        "",
        f"| Arch | Optimizer | LR | Head | Augment | Occluder | Train/Val | {metric} ours (mean ± sd) | n | Report |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['arch']} | {r['optimizer']} | {lr_text(r['lr'])} | {r['head']} | {r['augment']} | "
                     f"{r['occluder']} | {r['scenario']} | {fmt_mean(r)} | {r['n']} | {fmt(r['report'], 2)} |")
    lines += ["", LEGEND]
    if res.get("all_positive_f1") is not None:
        lines += ["", (f"Floor: answering \"present\" for every test face scores F1 {res['all_positive_f1']:.3f} on "
                       "these faces; read every F1 above against it, not against 0.")]
    for note in (res.get("report_note"), res.get("settings_note")):
        if note:
            lines += ["", note]
    if res["comparison"]:
        lines += ["", "## Beyond the report: T-mix against the per-occluder models", "",
                  f"| Setting | Test faces | Reference | Reference {metric} | T-mix {metric} | Change |",
                  "|---|---|---|---|---|---|"]
        for c in res["comparison"]:
            change = "n/a" if c["delta"] is None else f"{c['delta']:+.3f}"
            lines.append(f"| {c['setting']} | {c['occluder']} | {c['against']} | {fmt(c['reference'])} | "
                         f"{fmt(c['mix'])} | {change} |")
        verdict = mix_verdict(res["comparison"])
        lines += ["", f"Not meaningful here (nothing learned): {verdict}" if not_learned(res["rows"]) else verdict]
    lines += ["", (f"Files: `{RESULTS_FILE}` (every figure and cell), `{CHART_FILE}`; cell run folders under "
                   "`cells/` (not committed).")]
    return "\n".join(lines) + "\n"


SCENARIO_COLOURS = {"T0/V0": "tab:gray", "T0/V1": "tab:red", "T1/V0": "tab:olive", "T1/V1": "tab:blue",
                    "T-mix/V1": "tab:green", "T-mix/V0": "tab:cyan"}


def write_chart(res: dict[str, Any], path: Path) -> None:
    """Horizontal bars, one per table row, with seed sd as error bars and the report as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    labels = [f"{r['setting']} | {r['occluder']} | {r['scenario']}" for r in rows]
    y = np.arange(len(rows))[::-1]
    means = [r["mean"] if r["mean"] is not None else 0.0 for r in rows]
    errors = [r["sd"] or 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.32 * len(rows)))
    ax.barh(y, means, xerr=errors, color=[SCENARIO_COLOURS.get(r["scenario"], "tab:purple") for r in rows],
            capsize=2)
    from matplotlib.patches import Patch

    shown = [s for s in SCENARIO_COLOURS if any(r["scenario"] == s for r in rows)]
    handles = [Patch(color=SCENARIO_COLOURS[s], label=s) for s in shown]
    reported = [(yy, r["report"]) for yy, r in zip(y, rows) if r["report"] is not None]
    if reported:
        handles += ax.plot([v for _, v in reported], [yy for yy, _ in reported], "kx", markersize=8, label="report")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(f"{res['metric_label']} on test faces (mean over seeds)")
    tags = [t for t, on in (("synthetic faces", res["synthetic"]), ("smoke scale", res["scale"]["smoke"])) if on]
    ax.set_title(f"Table {res['table']}: {res['title']}\n{res['dataset']}" + (f" ({', '.join(tags)})" if tags else ""),
                 fontsize=9)
    ax.axvline(0, color="black", linewidth=0.5)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def write_outputs(res: dict[str, Any], out: Path, chart: bool = True) -> None:
    """table.md and results.json (after every cell), and the chart (at the end: it is the slow one)."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / ".gitignore").exists():  # the cells' models are working files, not results
        atomic_write_text(out / ".gitignore", "cells/\n")
    atomic_write_text(out / RESULTS_FILE, json.dumps(res, indent=2, default=float))
    atomic_write_text(out / TABLE_FILE, render_markdown(res))
    if chart:
        write_chart(res, out / CHART_FILE)


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--table", required=True, choices=list(TABLES), help="which of the report's tables")
    p.add_argument("--dataset", default="synthetic", choices=DATASETS)
    p.add_argument("--data-dir", help="dataset folder or manifest CSV (default ../shared/data/<dataset>)")
    p.add_argument("--out", required=True, help="output folder, e.g. experiments/NAME (resumes if it exists)")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds per cell (0, 1, ...)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--limit", type=int, help="at most this many faces per split (smoke runs)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    p.add_argument("--input-size", type=int, help="crop size instead of the backbone's (smoke runs)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--cache-dir", help="crop cache folder (default $AUEDGE_CACHE or .cache/auedge)")
    p.add_argument("--heads", help="comma list: run only the rows with these heads (flat,max)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and their state, train nothing")
    return p.parse_args(argv)


def options_from_args(args: argparse.Namespace, argv: list[str]) -> GridOptions:
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    data_dir = args.data_dir
    if data_dir is None and args.dataset != "synthetic":
        from auedge.train.data import default_data_dir

        data_dir = str(default_data_dir(args.dataset))
    heads = tuple(h.strip() for h in args.heads.split(",") if h.strip()) if args.heads else None
    return GridOptions(table=args.table, out=Path(args.out), dataset=args.dataset, data_dir=data_dir,
                       seeds=args.seeds, epochs=args.epochs, limit=args.limit, threads=args.threads,
                       input_size=args.input_size, batch_size=args.batch_size, cache_dir=args.cache_dir,
                       heads=heads, command=f"{PROG} {shlex.join(argv)}")


def run_table(options: GridOptions, fit_fn: FitFn | None = None, eval_fn: EvalFn | None = None) -> dict[str, Any]:
    """Plan, run (or resume) and write one table; returns what was written to results.json."""
    table = get_table(options.table, options.dataset)
    cells = expand(table, list(range(options.seeds)), options.base(), options.settings(table))

    kept = kept_records(options.out)  # read before the first update rewrites results.json
    planned = {c.id for c in cells}
    # Records of cells outside this plan stay in results.json (not in the table) for a wider run later.
    others = [rec for cid, rec in kept.items() if cid not in planned]

    def update(records: list[dict[str, Any]]) -> None:
        write_outputs(summarize(table, options, cells, records, others), options.out, chart=False)

    records = run_cells(cells, options.out, table.metric, threads=options.threads, fit_fn=fit_fn, eval_fn=eval_fn,
                        on_update=update, kept=kept)
    result = summarize(table, options, cells, records, others)
    write_outputs(result, options.out)
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        options = options_from_args(args, argv)
        if args.dry_run:
            table = get_table(options.table, options.dataset)
            kept = kept_records(options.out)
            names = {"finished": "finished", "kept": "kept in results.json", "train": "to train",
                     "retrain": "to train again: settings or labels changed"}
            for cell in expand(table, list(range(options.seeds)), options.base(), options.settings(table)):
                state = names[cell_state(cell, kept, options.out).state]
                print(f"{cell.id}  {cell.setting.label:34s} train={cell.train_occluder:16s} seed={cell.seed}  "
                      f"scored on {','.join(cell.evals)}  [{state}]")
            return 0
        start = time.time()
        result = run_table(options)
    except KeyboardInterrupt:
        print(f"interrupted: finished cells are kept in {args.out}/cells; run the same command to resume",
              file=sys.stderr)
        return 130
    except (TableError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done in {(time.time() - start) / 60:.1f} min: {options.out / TABLE_FILE} "
          f"({result['cells_done']} cells{', synthetic faces' if result['synthetic'] else ''}"
          f"{', smoke scale' if result['scale']['smoke'] else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
