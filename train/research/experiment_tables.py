"""The report's tables as data: which models to train and on which faces to score each one.

A table is a list of *settings* (architecture, optimizer, learning rate, head, augmentation: the
report's columns) crossed with *scenarios*. A scenario names how the model was trained and how it
is scored: ``T0/V1`` is a model trained on bare faces and scored on occluded ones, ``T1/V0`` one
trained with the occluder and scored on bare faces, ``T-mix/V1`` one trained with random occluders
of every kind. Why the split into training and scoring: a model trained bare is one model however
many occluded test sets it is scored on, so :func:`expand` yields each distinct training once per
seed (a *cell*) with the list of conditions it must be scored under.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from auedge.train.config import TrainConfig, build_config
from auedge.train.occluders import OCCLUDER_GEOMETRY

MASKS = ("mask-full", "mask-half", "mask-small")
GLASSES = ("glasses-big", "glasses-eyehole")
BARE = "none"
MIX = "mix"
# Settings that make a cell's result and so belong in its id; paths, threads and notes do not.
ID_EXCLUDED = ("out", "threads", "notes", "cache_dir", "extra")


@dataclass(frozen=True)
class Setting:
    """One row group of a table: the report's optimizer, learning rate and head columns."""

    arch: str
    optimizer: str
    lr: float
    head: str
    augment: str

    @property
    def label(self) -> str:
        """``MobileNetV2 Adam 1e-3 Flat H/B``: unique within a table, used in keys and charts."""
        return f"{self.arch_name} {self.optimizer_name} {lr_text(self.lr)} {self.head.title()} {self.augment_text}"

    @property
    def arch_name(self) -> str:
        return {"mobilenetv2": "MobileNetV2", "resnet50": "ResNet50"}.get(self.arch, self.arch)

    @property
    def optimizer_name(self) -> str:
        return {"adam": "Adam", "sgd": "SGD"}.get(self.optimizer, self.optimizer)

    @property
    def augment_text(self) -> str:
        return "/".join(a.strip().upper() for a in self.augment.split(",") if a.strip()) or "none"


def lr_text(lr: float) -> str:
    """``1e-3`` rather than ``0.001``: how the report writes learning rates."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@dataclass(frozen=True)
class Row:
    """One line of a table: a setting, the occluder it is about, and the scenario."""

    setting: Setting
    occluder: str  # the occluder this row is about ("none" for the bare rows)
    scenario: str  # T0/V0, T0/V1, T1/V0, T1/V1, T-mix/V1, T-mix/V0
    train_occluder: str
    eval_occluder: str
    report: float | None = None

    @property
    def key(self) -> str:
        return f"{self.setting.label} | {self.occluder} | {self.scenario}"


@dataclass(frozen=True)
class TableDef:
    id: str
    title: str
    task: str
    metric: str  # "f1" or "icc31"
    occluders: tuple[str, ...]
    settings: tuple[Setting, ...]
    # The report's figures we know, by (setting index or None for every setting, occluder, scenario).
    report: tuple[tuple[int | None, str, str, float], ...] = ()
    report_note: str = ""
    settings_note: str = ""

    @property
    def metric_label(self) -> str:
        return "F1" if self.metric == "f1" else "ICC(3,1)"

    @property
    def kind(self) -> str:
        return self.task.rpartition("-")[2]

    def report_value(self, index: int, occluder: str, scenario: str) -> float | None:
        for where, occ, scen, value in self.report:
            if (where is None or where == index) and occ == occluder and scen == scenario:
                return value
        return None

    def rows(self) -> list[Row]:
        """Every line of the table, in display order (T-mix right after T1/V1, as compared)."""
        rows: list[Row] = []
        for index, s in enumerate(self.settings):
            # (occluder the row is about, scenario, training occluder, scoring occluder)
            plan = [(BARE, "T0/V0", BARE, BARE)]
            for occ in self.occluders:
                plan += [(occ, "T0/V1", BARE, occ), (occ, "T1/V0", occ, BARE), (occ, "T1/V1", occ, occ),
                         (occ, "T-mix/V1", MIX, occ)]
            if self.occluders:
                plan.append((BARE, "T-mix/V0", MIX, BARE))
            rows += [Row(s, occ, scen, train, score, self.report_value(index, occ, scen))
                     for occ, scen, train, score in plan]
        return rows


MOBILENET_OCCLUSION = (
    Setting("mobilenetv2", "adam", 1e-3, "flat", "h,b"),
    Setting("mobilenetv2", "adam", 1e-3, "max", "h,b"),
)
OCCLUSION_SETTINGS_NOTE = (
    "Settings for the occlusion tables are ours (MobileNetV2, Adam 1e-3, cosine schedule, H/B "
    "augmentation, Flat and Max heads); the report's exact optimizer and learning rate per occlusion "
    "table are not known here."
)

TABLES: dict[str, TableDef] = {
    "4.1": TableDef(
        "4.1", "AU12 occurrence F1 by backbone, optimizer and augmentation", "au12-occurrence", "f1", (),
        (
            Setting("resnet50", "adam", 1e-4, "flat", "h,v,b"),
            Setting("resnet50", "sgd", 1e-4, "flat", "h,v,b"),
            Setting("mobilenetv2", "adam", 1e-4, "flat", "h,b"),
            Setting("mobilenetv2", "sgd", 1e-3, "flat", "h,v,b"),
        ),
        report=((0, BARE, "T0/V0", 0.72), (1, BARE, "T0/V0", 0.70), (2, BARE, "T0/V0", 0.68),
                (3, BARE, "T0/V0", 0.72)),
        report_note="Report figures are on Bosphorus.",
        settings_note="The report lists H/V/B augmentation for ResNet50 once; we use it for both ResNet50 rows.",
    ),
    "4.2": TableDef(
        "4.2", "AU12 intensity ICC(3,1) under the mask occluders", "au12-intensity", "icc31", MASKS,
        MOBILENET_OCCLUSION, report=((None, BARE, "T0/V0", 0.78),),
        report_note="Report: 0.78 on bare faces and 0.53-0.68 across the occluded cells (per-cell figures not "
                    "known here, shown as n/a); the bare figure is quoted next to each head.",
        settings_note=OCCLUSION_SETTINGS_NOTE,
    ),
    "4.2-occurrence": TableDef(
        "4.2-occurrence", "AU12 occurrence F1 under the mask occluders (the variant MTFL supports)",
        "au12-occurrence", "f1", MASKS, MOBILENET_OCCLUSION,
        report_note="The report has no occurrence version of this table; MTFL has smile (occurrence) labels only.",
        settings_note=OCCLUSION_SETTINGS_NOTE,
    ),
    "4.3": TableDef(
        "4.3", "AU12 intensity ICC(3,1) under the glasses occluders", "au12-intensity", "icc31", GLASSES,
        MOBILENET_OCCLUSION, report_note="The report's figures for this table are not known here (n/a).",
        settings_note=OCCLUSION_SETTINGS_NOTE,
    ),
    "4.4": TableDef(
        "4.4", "AU4 intensity ICC(3,1) under the glasses occluders", "au4-intensity", "icc31", GLASSES,
        MOBILENET_OCCLUSION, report=((None, BARE, "T0/V0", 0.30),),
        report_note="Report: 0.30 on bare faces and up to 0.45 in the occluded cells (per-cell figures not "
                    "known here, shown as n/a).",
        settings_note=OCCLUSION_SETTINGS_NOTE,
    ),
    "4.5": TableDef(
        "4.5", "AU4 intensity ICC(3,1) under the mask occluders", "au4-intensity", "icc31", MASKS,
        MOBILENET_OCCLUSION, report_note="The report's figures for this table are not known here (n/a).",
        settings_note=OCCLUSION_SETTINGS_NOTE,
    ),
}


class TableError(ValueError):
    """A table that cannot be run as asked; the message names the fix."""


def get_table(table_id: str, dataset: str) -> TableDef:
    """The table definition, refusing intensity tables on a dataset without intensity labels."""
    if table_id not in TABLES:
        raise TableError(f"unknown table {table_id!r}; choose one of {', '.join(TABLES)}")
    table = TABLES[table_id]
    if dataset == "mtfl" and table.kind == "intensity":
        hint = " (use --table 4.2-occurrence for the mask variant MTFL supports)" if table_id == "4.2" else ""
        raise TableError(f"table {table_id} needs intensity labels and MTFL has occurrence (smile) only{hint}")
    return table


@dataclass(frozen=True)
class Cell:
    """One training run: a setting, the training occluder and a seed, plus what to score it on."""

    id: str
    setting: Setting
    train_occluder: str
    seed: int
    evals: tuple[str, ...]
    config: TrainConfig


def cell_id(cfg: TrainConfig, evals: tuple[str, ...] = ()) -> str:
    """A stable id from every setting that changes the result (not paths or thread counts).

    Only settings that differ from TrainConfig's defaults are hashed, so a new field added to
    TrainConfig later (with a default) does not orphan the cells already trained. A cell that
    pastes occluders (in training or in any scoring condition) also hashes the occluders' geometry
    version, so cells made with an older geometry are trained again instead of being reused.
    """
    defaults = TrainConfig().to_dict()
    data = {k: v for k, v in cfg.to_dict().items() if k not in ID_EXCLUDED and v != defaults.get(k)}
    if any(o not in (None, "", "none") for o in (cfg.occlude_train, cfg.occlude_val, *evals)):
        data["occluder_geometry"] = OCCLUDER_GEOMETRY
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cell_settings(cfg: TrainConfig) -> dict[str, Any]:
    """Every setting that makes a cell's result, defaults included, as stored in its record.

    :func:`cell_id` hashes only the settings that differ from today's defaults (so ids stay stable);
    this full dict is what tells a cell trained under other defaults from one trained now.
    """
    return {k: v for k, v in cfg.to_dict().items() if k not in ID_EXCLUDED}


def cell_provenance(cfg: TrainConfig) -> dict[str, Any]:
    """What a cell's record stores to judge later whether it still stands: its full settings and
    the version of its dataset's label reading (``data.loader.LABEL_VERSIONS``)."""
    from auedge.train.data.loader import label_version

    return {"settings": cell_settings(cfg), "label_version": label_version(cfg.dataset)}


def provenance_changes(stored: dict[str, Any], cfg: TrainConfig) -> list[str] | None:
    """How a cell's stored provenance differs from what ``cfg`` would train now.

    ``None`` when the record predates stored settings (nothing to compare); else a list, empty when
    nothing differs. A setting the record lacks counts as unchanged if today's value is its default
    (a field added to TrainConfig later); one the record has and TrainConfig no longer has is ignored.
    """
    if not isinstance(stored.get("settings"), dict):
        return None
    current = cell_provenance(cfg)
    defaults = TrainConfig().to_dict()
    changes = []
    for key, now in current["settings"].items():
        before = stored["settings"].get(key, defaults.get(key))
        if json.dumps(before, sort_keys=True, default=str) != json.dumps(now, sort_keys=True, default=str):
            changes.append(f"{key} {before!r} -> {now!r}")
    if stored.get("label_version") != current["label_version"]:
        changes.append(f"{cfg.dataset} label version {stored.get('label_version')!r} -> {current['label_version']!r}")
    return changes


def expand(table: TableDef, seeds: list[int], base: dict[str, Any], settings: list[Setting] | None = None) -> list[Cell]:
    """The cells of a table: each distinct (setting, training occluder) once per seed.

    ``base`` holds the pass-through settings (dataset, data_dir, epochs, limit, input_size...).
    A model's checkpoint and threshold are chosen on validation faces occluded like its training
    faces (``occlude_val = train occluder``); every scoring condition reuses that one model.
    """
    wanted = settings if settings is not None else list(table.settings)
    needs: dict[tuple[Setting, str], list[str]] = {}
    for row in table.rows():
        if row.setting not in wanted:
            continue
        evals = needs.setdefault((row.setting, row.train_occluder), [])
        if row.eval_occluder not in evals:
            evals.append(row.eval_occluder)
    cells = []
    for seed in seeds:  # seed-major: an interrupted grid still has one complete table
        for (setting, train_occ), evals in needs.items():
            cfg = build_config(None, {
                **base, "task": table.task, "arch": setting.arch, "head": setting.head,
                "optimizer": setting.optimizer, "lr": setting.lr, "augment": setting.augment,
                "occlude_train": train_occ, "occlude_val": train_occ, "seed": seed, "weights": "none",
            })
            cells.append(Cell(cell_id(cfg, tuple(evals)), setting, train_occ, seed, tuple(evals), cfg))
    return cells
