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
from auedge.train.data.loader import KEYPOINT_SOURCES
from auedge.train.models import ARCHS, HEADS, default_input_size

DATASETS = ("synthetic", "mtfl", "bosphorus", "manifest")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
# h: horizontal flip, v: vertical flip, b: brightness, r: rotation, z: zoom, t: translation.
AUGMENTS = ("h", "v", "b", "r", "z", "t")
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
    occlude_train: str = "none"
    occlude_val: str = "none"
    mix_weights: str = ""  # "mask-full=2,...": how often occlude_train "mix" draws each kind ("": uniformly)
    label_smoothing: float = 0.0
    pose_balance: float = 0.0  # draw faces by count(pose) ** -power (0: plain shuffle, 1: poses equally often)
    weight_average: float = 0.0  # decay of the running weight average that checkpoints hold (0: off)
    flip_average: bool = False
    occlusion_flags: bool = False  # extra "<AU>_occluded" outputs: is that AU's face region covered?
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
        choose("dataset", DATASETS)
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
        if self.dataset == "mtfl" and task.kind == "intensity":
            raise ConfigError(f"task {task.name} needs intensity labels and MTFL has occurrence (smile) labels only; "
                              f"use --task {'+'.join(task.aus)}-occurrence, or a dataset with intensities")
        if self.occlusion_flags and self.occlude_train != "mix":
            raise ConfigError(
                f"occlusion_flags needs occlude_train = \"mix\" (faces with every occluder and none), not "
                f"{self.occlude_train!r}: with one occluder on every face the flags could not learn anything"
            )
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
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["brightness"] = list(self.brightness)
        data["synthetic_sizes"] = list(self.synthetic_sizes)
        return data


FIELD_NAMES = {f.name for f in fields(TrainConfig)}
TUPLE_FIELDS = {"brightness", "synthetic_sizes"}
# Every field's type, checked by TrainConfig.validate (a TOML recipe can hold anything).
STR_FIELDS = ("dataset", "task", "arch", "head", "weights", "optimizer", "schedule", "augment", "occlude_train",
              "occlude_val", "mix_weights", "crop_method", "keypoints", "notes")
OPTIONAL_STR_FIELDS = ("data_dir", "cache_dir", "out")
FLOAT_FIELDS = ("lr", "rotation", "zoom", "translation", "label_smoothing", "pose_balance", "weight_average",
                "eye_scale", "center_below_eyes", "val_fraction")
INT_FIELDS = ("epochs", "batch_size", "seed", "threads")
OPTIONAL_INT_FIELDS = ("input_size", "limit")
BOOL_FIELDS = ("flip_average", "occlusion_flags")


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
    if not isinstance(cfg.extra, dict):
        raise bad("extra", "a table", "{}")


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
        (cfg.threads >= 0, f"threads must be 0 (all cores) or more, got {cfg.threads}"),
        (cfg.eye_scale > 0, f"eye_scale must be positive, got {cfg.eye_scale}"),
        (cfg.synthetic_sizes[0] >= 1 and cfg.synthetic_sizes[1] >= 1 and cfg.synthetic_sizes[2] >= 0,
         "synthetic_sizes [train, val, test] needs at least 1 training and 1 validation face (test may be 0), "
         + f"got {list(cfg.synthetic_sizes)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


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
        group = value.items() if isinstance(value, dict) and key != "extra" else [(key, value)]
        place = f"[{key}]" if isinstance(value, dict) and key != "extra" else "the top level"
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
