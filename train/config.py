"""TrainConfig: every training setting in one dataclass, from defaults, a TOML recipe and flags.

A recipe is one committed TOML file whose keys are the field names below; flags given on the
command line override it. Validation happens here, once, so that the trainer can trust its input.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from auedge.edge.align import CropParams
from auedge.edge.bundle import OCCLUDED_SUFFIX
from auedge.edge.preprocess import is_number
from auedge.train.data.loader import DATASETS, KEYPOINT_SOURCES
from auedge.train.models import ARCHS, HEADS, default_input_size

MULTI_SEPARATOR = "+"  # dataset = "mtfl+fer2013": one model on several datasets
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
# h: horizontal flip, v: vertical flip, b: brightness, r: rotation, z: zoom, t: translation,
# g: grayscale, d: down-and-up sampling, j: JPEG re-encoding (the last three close the gap between
# FER2013's 48 px grayscale JPEG frames and a device's colour crops; see augment.py).
AUGMENTS = ("h", "v", "b", "r", "z", "t", "g", "d", "j")
KNOWN_AUS = ("au1", "au2", "au4", "au5", "au6", "au7", "au9", "au10", "au12", "au14", "au15", "au17",
             "au20", "au23", "au25", "au26", "au43")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the setting and the allowed values."""


@dataclass(frozen=True)
class Task:
    """A task string like ``au12-occurrence`` or ``au12+au4-intensity``."""

    name: str
    aus: tuple[str, ...]
    kind: str

    @classmethod
    def parse(cls, text: str) -> Task:
        head, sep, kind = str(text).strip().lower().rpartition("-")
        aus = tuple(a for a in head.split("+") if a)
        if not sep or kind not in ("occurrence", "intensity") or not aus:
            raise ConfigError(
                f"unknown task {text!r}; use AU-KIND such as au12-occurrence, au12-intensity, "
                "au4-intensity or au12+au4-intensity"
            )
        bad = [a for a in aus if a not in KNOWN_AUS]
        if bad:
            raise ConfigError(f"unknown AU {bad[0]!r} in task {text!r}; known: {', '.join(KNOWN_AUS)}")
        return cls(name=f"{'+'.join(aus)}-{kind}", aus=aus, kind=kind)

    @property
    def au_names(self) -> list[str]:
        """Display names as used in bundles and on devices (``AU12``)."""
        return [a.upper() for a in self.aus]


@dataclass
class TrainConfig:
    dataset: str = "synthetic"
    data_dir: str | None = None
    task: str = "au12+au4-intensity"
    arch: str = "mobilenetv2"
    head: str = "flat"
    weights: str = "none"
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: str = "cosine"
    epochs: int = 6
    batch_size: int = 64
    augment: str = "h,b"
    brightness: tuple[float, float] = (0.5, 1.5)
    rotation: float = 0.04  # fraction of a full turn, as Keras' RandomRotation
    zoom: float = 0.1
    translation: float = 0.05
    grayscale_p: float = 0.3  # "g": share of training crops turned grey
    downsample_p: float = 0.5  # "d": share of crops shrunk to a side in downsample_size, then enlarged back
    downsample_size: tuple[int, int] = (40, 100)
    jpeg_p: float = 0.5  # "j": share of crops re-encoded as JPEG at a quality in jpeg_quality
    jpeg_quality: tuple[int, int] = (40, 95)
    occlude_train: str = "none"
    occlude_val: str = "none"
    mix_weights: str = ""  # "mask-full=2,...": how often occlude_train "mix" draws each kind ("": uniformly)
    label_smoothing: float = 0.0
    pose_balance: float = 0.0  # draw faces by count(pose) ** -power (0: plain shuffle, 1: poses equally often)
    # Several datasets (dataset = "mtfl+fer2013"): each one's share of an epoch's draws ({}: in
    # proportion to their sizes), and the faces drawn per epoch (None: as many as there are).
    source_weights: dict[str, Any] = field(default_factory=dict)
    epoch_size: int | None = None
    # FER2013's emotion -> AU occurrence table ({"au4": ["angry", ...], "au12": ["happy"], "exclude": [...]}).
    emotion_aus: dict[str, Any] = field(default_factory=dict)
    weight_average: float = 0.0  # decay of the running weight average that checkpoints hold (0: off)
    flip_average: bool = False
    occlusion_flags: bool = False  # extra "<AU>_occluded" outputs: is that AU's face region covered?
    # An AU whose face region the pasted occluder covers leaves the loss for that face: the runtime reports
    # it "not observable" there, so a value guessed from the rest of the face is never used, and learning
    # to guess it (a smile behind a mask from the cheeks) only takes capacity from the visible AUs.
    drop_covered_targets: bool = False
    # {au = N}: that AU's output reads only the top N rows of the backbone's feature map (models.build_model
    # says why): AU4 from the brows and eyes, out of reach of anything drawn over the mouth. {}: every row.
    head_rows: dict[str, Any] = field(default_factory=dict)
    # {au = d}: that AU's threshold is the highest whose validation F1 is within d of its best (metrics.
    # best_threshold says why); an AU not named keeps the F1-best threshold. {}: F1-best for every AU.
    threshold_f1_within: dict[str, Any] = field(default_factory=dict)
    input_size: int | None = None
    eye_scale: float = 2.4
    center_below_eyes: float = 0.5
    crop_method: str = "eyes"  # "landmarks": similarity fit of eyes, nose and mouth to a frontal template
    keypoints: str = "labels"  # "detector": crops cut from BlazeFace's keypoints, as on the device
    val_fraction: float = 0.15
    limit: int | None = None
    synthetic_sizes: tuple[int, int, int] = (2400, 600, 600)
    seed: int = 0
    cache_dir: str | None = None
    threads: int = 0
    out: str | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def parsed_task(self) -> Task:
        return Task.parse(self.task)

    @property
    def datasets(self) -> list[str]:
        """The datasets of the run: one, or several joined by ``+``."""
        return [d.strip() for d in self.dataset.split(MULTI_SEPARATOR)]

    @property
    def flag_names(self) -> list[str]:
        """Names of the occlusion-flag outputs, after the AU outputs (empty without flags)."""
        return [f"{au}{OCCLUDED_SUFFIX}" for au in self.parsed_task.au_names] if self.occlusion_flags else []

    @property
    def mix_probabilities(self) -> tuple[float, ...] | None:
        """One probability per occluders.MIX_KINDS for training's "mix", or None for the uniform draw."""
        from auedge.train.occluders import parse_mix_weights

        return parse_mix_weights(self.mix_weights)

    @property
    def augment_set(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.augment.split(",") if a.strip() and a.strip() != "none")

    @property
    def resolved_input_size(self) -> int:
        return self.input_size or default_input_size(self.arch)

    def crop_params(self) -> CropParams:
        return CropParams(
            size=self.resolved_input_size, eye_scale=self.eye_scale, center_below_eyes=self.center_below_eyes,
            method=self.crop_method,
        )

    def validate(self) -> TrainConfig:
        """Check every setting's type and range; the first problem is one ConfigError line naming the
        key and the fix. Normalises the occluder names (``"Mask-Full"`` -> ``"mask-full"``)."""
        from auedge.train.occluders import parse_occluder

        def choose(name: str, allowed: tuple[str, ...]) -> None:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(allowed)}")

        check_types(self)
        check_ranges(self)
        for name in ("occlude_train", "occlude_val"):
            try:
                setattr(self, name, parse_occluder(getattr(self, name)))
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from exc
        for name in self.datasets:
            if name not in DATASETS:
                raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} "
                                  f"(or several joined by {MULTI_SEPARATOR}, e.g. mtfl+fer2013)")
        if len(self.datasets) > 1 and ("synthetic" in self.datasets or len(set(self.datasets)) < len(self.datasets)):
            raise ConfigError(f"dataset {self.dataset!r}: combine distinct photo datasets (e.g. mtfl+fer2013); "
                              "the synthetic faces train alone")
        check_source_weights(self)
        if "fer2013" in self.datasets:
            from auedge.train.data.fer2013 import parse_emotion_table
            from auedge.train.data.manifest import DataError

            try:
                parse_emotion_table(self.emotion_aus)
            except DataError as exc:
                raise ConfigError(str(exc)) from exc
        choose("arch", ARCHS)
        choose("head", HEADS)
        choose("optimizer", OPTIMIZERS)
        choose("schedule", SCHEDULES)
        choose("keypoints", KEYPOINT_SOURCES)
        if self.keypoints == "detector" and self.dataset == "synthetic":
            raise ConfigError("keypoints \"detector\" needs photos; the synthetic faces are cut from the landmarks "
                              "they were drawn with (use keypoints \"labels\")")
        task = self.parsed_task  # raises ConfigError on a bad task
        bad = sorted(self.augment_set - set(AUGMENTS))
        if bad:
            raise ConfigError(f"unknown augmentation {bad[0]!r} in --augment; use a comma list of {','.join(AUGMENTS)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if self.dataset != "synthetic" and not self.data_dir:
            raise ConfigError(f"--dataset {self.dataset} needs --data-dir PATH (or use --dataset synthetic)")
        if {"mtfl", "fer2013"} & set(self.datasets) and task.kind == "intensity":
            raise ConfigError(f"task {task.name} needs intensity labels and MTFL and FER2013 have occurrence labels only; "
                              f"use --task {'+'.join(task.aus)}-occurrence, or a dataset with intensities")
        if self.occlusion_flags and self.occlude_train != "mix":
            raise ConfigError(
                f"occlusion_flags needs occlude_train = \"mix\" (faces with every occluder and none), not "
                f"{self.occlude_train!r}: with one occluder on every face the flags could not learn anything"
            )
        if self.drop_covered_targets and self.occlude_train == "none":
            raise ConfigError("drop_covered_targets leaves out the AUs an occluder covers, and occlude_train is "
                              "\"none\" (no occluder): set occlude_train = \"mix\" or drop_covered_targets = false")
        if self.mix_weights and self.occlude_train != "mix":
            raise ConfigError(f"mix_weights weighs the kinds of occlude_train \"mix\"; occlude_train is "
                              f"{self.occlude_train!r} (drop mix_weights or use --occlude-train mix)")
        try:
            self.mix_probabilities  # noqa: B018 - raises on a bad weight list
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not 0.0 <= self.pose_balance <= 1.0:
            raise ConfigError(f"pose_balance is a power in [0, 1] (0: off), got {self.pose_balance}")
        if not 0.0 <= self.weight_average < 1.0:
            raise ConfigError(f"weight_average is a decay in [0, 1) (0: off), got {self.weight_average}")
        try:
            self.crop_params()
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        check_head_rows(self)
        check_threshold_rule(self)
        return self

    def output_rows(self) -> dict[int, int]:
        """``head_rows`` as models.build_model takes it: {output index: rows}."""
        aus = list(self.parsed_task.aus)
        return {aus.index(au.lower()): rows for au, rows in self.head_rows.items()}

    def f1_tolerances(self) -> list[float]:
        """``threshold_f1_within`` per AU of the task, in output order (0: the F1-best threshold)."""
        given = {au.lower(): float(v) for au, v in self.threshold_f1_within.items()}
        return [given.get(au, 0.0) for au in self.parsed_task.aus]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["brightness"] = list(self.brightness)
        data["synthetic_sizes"] = list(self.synthetic_sizes)
        data["downsample_size"] = list(self.downsample_size)
        data["jpeg_quality"] = list(self.jpeg_quality)
        return data


FIELD_NAMES = {f.name for f in fields(TrainConfig)}
TUPLE_FIELDS = {"brightness", "synthetic_sizes", "downsample_size", "jpeg_quality"}
# Every field's type, checked by TrainConfig.validate (a TOML recipe can hold anything).
STR_FIELDS = ("dataset", "task", "arch", "head", "weights", "optimizer", "schedule", "augment", "occlude_train",
              "occlude_val", "mix_weights", "crop_method", "keypoints", "notes")
OPTIONAL_STR_FIELDS = ("data_dir", "cache_dir", "out")
FLOAT_FIELDS = ("lr", "rotation", "zoom", "translation", "label_smoothing", "pose_balance", "weight_average",
                "eye_scale", "center_below_eyes", "val_fraction", "grayscale_p", "downsample_p", "jpeg_p")
INT_FIELDS = ("epochs", "batch_size", "seed", "threads")
OPTIONAL_INT_FIELDS = ("input_size", "limit", "epoch_size")
BOOL_FIELDS = ("flip_average", "occlusion_flags", "drop_covered_targets")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_types(cfg: TrainConfig) -> None:
    """One ConfigError naming the first setting of the wrong type (a quoted number, a string for a bool...)."""

    def bad(name: str, wanted: str, example: str) -> ConfigError:
        value = getattr(cfg, name)
        text = value.strip() if isinstance(value, str) else ""
        if text.lower() in ("true", "false") or text.replace(".", "", 1).isdigit():
            example = text.lower()  # a quoted bool or number: the same value, unquoted
        return ConfigError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}); "
                           f"write e.g. {name} = {example}")

    for name in STR_FIELDS:
        if not isinstance(getattr(cfg, name), str):
            raise bad(name, "a string", f'"{getattr(TrainConfig, name, "") or "..."}"')
    for name in OPTIONAL_STR_FIELDS:
        if getattr(cfg, name) is not None and not isinstance(getattr(cfg, name), str):
            raise bad(name, "a path string", '"path/to/folder"')
    for name in FLOAT_FIELDS:
        if not is_number(getattr(cfg, name)):
            raise bad(name, "a finite number", str(getattr(TrainConfig, name)))
    for name in INT_FIELDS:
        if not _is_int(getattr(cfg, name)):
            raise bad(name, "a whole number (unquoted)", str(getattr(TrainConfig, name)))
    for name in OPTIONAL_INT_FIELDS:
        if getattr(cfg, name) is not None and not _is_int(getattr(cfg, name)):
            raise bad(name, "a whole number (unquoted), or left out", "96" if name == "input_size" else "200")
    for name in BOOL_FIELDS:
        if not isinstance(getattr(cfg, name), bool):
            raise bad(name, "true or false (a TOML boolean, unquoted)", "true")
    if not (isinstance(cfg.brightness, (tuple, list)) and len(cfg.brightness) == 2
            and all(is_number(v) for v in cfg.brightness)):
        raise bad("brightness", "two numbers [low, high], brightness factors", "[0.5, 1.5]")
    if not (isinstance(cfg.synthetic_sizes, (tuple, list)) and len(cfg.synthetic_sizes) == 3
            and all(_is_int(v) for v in cfg.synthetic_sizes)):
        raise bad("synthetic_sizes", "three whole numbers [train, val, test]", "[2400, 600, 600]")
    for name, example in (("downsample_size", "[40, 100]"), ("jpeg_quality", "[40, 95]")):
        pair = getattr(cfg, name)
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_int(v) for v in pair)):
            raise bad(name, "two whole numbers [low, high]", example)
    for name, example in (("extra", "{}"), ("source_weights", "{mtfl = 1, fer2013 = 1}"),
                          ("emotion_aus", '{au4 = ["angry", "fear", "sad"], au12 = ["happy"]}'),
                          ("head_rows", "{au4 = 5}"), ("threshold_f1_within", "{au4 = 0.01}")):
        if not isinstance(getattr(cfg, name), dict):
            raise bad(name, "a table", example)


def check_ranges(cfg: TrainConfig) -> None:
    """One ConfigError naming the first setting outside its range (after :func:`check_types`)."""
    checks: list[tuple[bool, str]] = [
        (cfg.epochs >= 1, f"epochs must be at least 1, got {cfg.epochs}"),
        (cfg.batch_size >= 1, f"batch_size must be at least 1, got {cfg.batch_size}"),
        (cfg.lr > 0, f"lr must be positive, got {cfg.lr}"),
        (0 < cfg.brightness[0] <= cfg.brightness[1],
         f"brightness must be [low, high] factors with 0 < low <= high (e.g. [0.5, 1.5]), got {list(cfg.brightness)}"),
        (0.0 <= cfg.rotation <= 0.5,
         f"rotation is a fraction of a full turn in [0, 0.5] (0.04: +-14 degrees), got {cfg.rotation}"),
        (0.0 <= cfg.zoom < 1.0, f"zoom is a scale change in [0, 1) (0.1: +-10 %), got {cfg.zoom}"),
        (0.0 <= cfg.translation < 1.0,
         f"translation is a shift as a fraction of the crop in [0, 1) (0.05: +-5 %), got {cfg.translation}"),
        (cfg.input_size is None or cfg.input_size >= 8,
         f"input_size must be at least 8 pixels (or left out for the backbone's own), got {cfg.input_size}"),
        (cfg.limit is None or cfg.limit >= 1,
         f"limit must be at least 1 face per split (or left out for all faces), got {cfg.limit}"),
        (cfg.seed >= 0, f"seed must be 0 or more, got {cfg.seed}"),
        (cfg.epoch_size is None or cfg.epoch_size >= 1,
         f"epoch_size must be at least 1 face (or left out for one pass over the training faces), got {cfg.epoch_size}"),
        (all(0.0 <= getattr(cfg, n) <= 1.0 for n in ("grayscale_p", "downsample_p", "jpeg_p")),
         "grayscale_p, downsample_p and jpeg_p are shares of training crops in [0, 1], got "
         + f"{cfg.grayscale_p}, {cfg.downsample_p}, {cfg.jpeg_p}"),
        (8 <= cfg.downsample_size[0] <= cfg.downsample_size[1],
         f"downsample_size must be [low, high] pixel sides with 8 <= low <= high, got {list(cfg.downsample_size)}"),
        (1 <= cfg.jpeg_quality[0] <= cfg.jpeg_quality[1] <= 100,
         f"jpeg_quality must be [low, high] with 1 <= low <= high <= 100, got {list(cfg.jpeg_quality)}"),
        (cfg.threads >= 0, f"threads must be 0 (all cores) or more, got {cfg.threads}"),
        (cfg.eye_scale > 0, f"eye_scale must be positive, got {cfg.eye_scale}"),
        (cfg.synthetic_sizes[0] >= 1 and cfg.synthetic_sizes[1] >= 1 and cfg.synthetic_sizes[2] >= 0,
         "synthetic_sizes [train, val, test] needs at least 1 training and 1 validation face (test may be 0), "
         + f"got {list(cfg.synthetic_sizes)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def check_head_rows(cfg: TrainConfig) -> None:
    """head_rows names AUs of the task, each with a whole number of rows >= 1 (the model checks the top)."""
    aus = list(cfg.parsed_task.aus)
    for au, rows in cfg.head_rows.items():
        if au.lower() not in aus:
            raise ConfigError(f"head_rows names {au!r}, which is not an AU of task {cfg.task!r} ({', '.join(aus)})")
        if not _is_int(rows) or rows < 1:
            raise ConfigError(f"head_rows.{au} must be a whole number of feature rows >= 1, got {rows!r}")


def check_threshold_rule(cfg: TrainConfig) -> None:
    """threshold_f1_within names AUs of an occurrence task, each with an F1 tolerance in [0, 0.1]."""
    if cfg.threshold_f1_within and cfg.parsed_task.kind != "occurrence":
        raise ConfigError(f"threshold_f1_within applies to occurrence tasks; {cfg.task!r} has no thresholds (leave it out)")
    aus = list(cfg.parsed_task.aus)
    for au, within in cfg.threshold_f1_within.items():
        if au.lower() not in aus:
            raise ConfigError(f"threshold_f1_within names {au!r}, which is not an AU of task {cfg.task!r} "
                              f"({', '.join(aus)})")
        if not is_number(within) or not 0.0 <= within <= 0.1:
            raise ConfigError(f"threshold_f1_within.{au} must be an F1 tolerance in [0, 0.1] (e.g. 0.01), got {within!r}")

def check_source_weights(cfg: TrainConfig) -> None:
    """source_weights names only the run's datasets, each with a finite weight >= 0, one above 0."""
    weights = cfg.source_weights
    if not weights:
        return
    missing = [name for name in cfg.datasets if name not in weights]
    if missing:
        raise ConfigError(f"source_weights must give every dataset of the run a weight; {missing[0]!r} has none "
                          "(or leave source_weights out to draw in proportion to the datasets' sizes)")
    unknown = sorted(set(weights) - set(cfg.datasets))
    if unknown:
        raise ConfigError(f"source_weights names {unknown[0]!r}, which is not a dataset of this run "
                          f"({', '.join(cfg.datasets)})")
    bad = [k for k, v in weights.items() if not is_number(v) or isinstance(v, bool) or v < 0]
    if bad:
        raise ConfigError(f"source_weights.{bad[0]} must be a number >= 0, got {weights[bad[0]]!r}")
    if not any(weights.get(name, 0) > 0 for name in cfg.datasets):
        raise ConfigError("source_weights: at least one dataset needs a weight above 0")


def _coerce(values: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(values) - FIELD_NAMES)
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(FIELD_NAMES))}")
    out = dict(values)
    for name in TUPLE_FIELDS & set(out):
        if isinstance(out[name], (list, tuple)):  # anything else is named by TrainConfig.validate
            out[name] = tuple(out[name])
    if "augment" in out and isinstance(out["augment"], list):
        out["augment"] = ",".join(out["augment"])
    return out


# Settings whose value is a table: at the top level of a recipe they are that setting, not a section.
TABLE_SETTINGS = frozenset({"extra", "source_weights", "emotion_aus", "head_rows", "threshold_f1_within"})


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    # Recipes may group settings in tables ([data], [model], [optim]...); flatten them. A setting
    # given twice (in two tables, or in one and at the top) is refused: which one wins is a guess.
    flat: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in data.items():
        section = isinstance(value, dict) and key not in TABLE_SETTINGS
        group = value.items() if section else [(key, value)]
        place = f"[{key}]" if section else "the top level"
        for name, item in group:
            if name in flat:
                raise ConfigError(f"config file {p}: setting {name!r} is given in {where[name]} and in {place}; "
                                  "keep one")
            flat[name], where[name] = item, place
    return _coerce(flat, str(p))


def build_config(toml_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the TOML recipe, then flag overrides (``None`` values are ignored)."""
    values: dict[str, Any] = {}
    try:
        if toml_path:
            values.update(load_toml(toml_path))
        values.update(_coerce({k: v for k, v in (overrides or {}).items() if v is not None}, "flags"))
        return TrainConfig(**values).validate()
    except TypeError as exc:
        raise ConfigError(f"bad setting: {exc}") from exc
