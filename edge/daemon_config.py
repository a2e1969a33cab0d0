"""``DaemonConfig``: every daemon option, built in one place from TOML and command-line flags.

Precedence: defaults < ``--config FILE`` (TOML) < flags. With no config at all the daemon runs the
default bundle, writes records under the state folder (:mod:`auedge.edge.state_dir`) and serves
HTTP on loopback: ``au-edge daemon --source camera:0`` is a complete command on a laptop.
Every option is also a flag, generated from the dataclass fields so the two can never drift: a
top-level key ``target_fps`` is ``--target-fps``; a key ``port`` in table ``[http]`` is
``--http-port``. A bad value stops the daemon with one line naming the key and the fix
(:class:`ConfigError`), before any camera opens.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auedge.edge.sinks.http_sink import HttpSinkOptions
from auedge.edge.sinks.jsonl_sink import JsonlSinkOptions
from auedge.edge.sinks.mqtt_sink import MqttSinkOptions
from auedge.edge.smoothing import SmoothingOptions
from auedge.edge.sources import parse_source_uri
from auedge.edge.state_dir import state_dir
from auedge.edge.tracking import TrackingOptions

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# A duration (a key ending in ``_s``) above a day is a typo; far larger ones overflow lock timeouts.
MAX_SECONDS = 86_400.0
MAX_FPS = 1000.0


class ConfigError(ValueError):
    """One line: which key is wrong and how to fix it."""


@dataclass
class DebugOptions:
    """TOML table ``[debug]``. Nothing here is on by default: frames never leave the device unasked."""

    save_frames_dir: str = ""  # if set, every save_every_n-th frame is written there as JPEG (privacy!)
    save_every_n: int = 30
    log_records: bool = False  # log each record at INFO
    max_frames: int = 0  # stop after this many processed frames (0 = run until stopped)

    def validate(self) -> None:
        if self.save_every_n < 1 or self.max_frames < 0:
            raise ValueError("debug.save_every_n must be >= 1 and debug.max_frames >= 0")


@dataclass
class DaemonConfig:
    device: str = field(default_factory=socket.gethostname)
    source: str = "picamera2"  # a laptop: --source camera:0 or video:clip.mp4
    bundle: str = ""  # "" = the default bundle shipped in the package (auedge.edge.default_bundle)
    model: str = ""  # model name inside the bundle ("" = the bundle's default_model, "fastest" = timed here)
    backend: str = "auto"
    threads: int = 2
    # "bundle": average each crop with its mirror when bundle.json says the model was validated so
    # (its threshold was chosen that way); "off" halves the AU model time at some accuracy cost.
    flip_average: str = "bundle"
    # "x,y,w,h" fractions of the frame to search for faces ("" = all): e.g. the pillow, for a camera
    # 1-3 m from a bed, where the whole frame would show the face too small to the detector.
    detect_region: str = ""
    target_fps: float = 10.0  # cap; 0 = as fast as possible
    stall_timeout_s: float = 10.0  # no frame for this long -> reopen the source
    reopen_backoff_s: float = 1.0
    reopen_backoff_max_s: float = 60.0
    reopen_max_attempts: int = 10  # consecutive failed reopens before exiting (systemd restarts); 0 = never
    log_level: str = "INFO"
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    tracking: TrackingOptions = field(default_factory=TrackingOptions)  # detector only when the picture changed
    jsonl: JsonlSinkOptions = field(default_factory=JsonlSinkOptions)
    http: HttpSinkOptions = field(default_factory=HttpSinkOptions)
    mqtt: MqttSinkOptions = field(default_factory=MqttSinkOptions)
    debug: DebugOptions = field(default_factory=DebugOptions)

    def validate(self) -> None:
        try:
            parse_source_uri(self.source)
        except ValueError as exc:
            raise ConfigError(f"source: {exc}") from None
        if not self.device or "/" in self.device or "+" in self.device or "#" in self.device:
            raise ConfigError(f"device {self.device!r} must be non-empty without '/', '+', '#' (it is an MQTT topic level)")
        if self.flip_average not in ("bundle", "on", "off"):
            raise ConfigError(f"flip_average must be bundle, on or off (got {self.flip_average!r})")
        from auedge.edge.face_detector import parse_region  # here: keeps this module free of OpenCV

        try:
            parse_region(self.detect_region)
        except ValueError as exc:
            raise ConfigError(f"detect_region: {exc}") from None
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1 (got {self.threads}): set threads = 2 or pass --threads 2")
        check_numbers(self)
        if not 0 <= self.target_fps <= MAX_FPS:
            raise ConfigError(f"target_fps must be >= 0 and <= {MAX_FPS:g} (got {self.target_fps}); 0 means uncapped")
        if self.stall_timeout_s <= 0 or self.reopen_backoff_s <= 0 or self.reopen_backoff_max_s < self.reopen_backoff_s:
            raise ConfigError("stall_timeout_s and reopen_backoff_s must be > 0 and reopen_backoff_max_s >= reopen_backoff_s")
        if self.reopen_max_attempts < 0:
            raise ConfigError(f"reopen_max_attempts must be >= 0 (got {self.reopen_max_attempts}); 0 means never give up")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)} (got {self.log_level!r})")
        for section in SECTIONS:
            try:
                getattr(self, section).validate()
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


SECTIONS = ("smoothing", "tracking", "jsonl", "http", "mqtt", "debug")
TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def check_numbers(config: DaemonConfig) -> None:
    """Every float option of every section is finite, and every duration at most ``MAX_SECONDS``.

    Why here, generically, and first: NaN passes every ``<``/``>`` range check below it (``nan < 0``
    is False), so ``target_fps = nan`` ran uncapped and ``smoothing.beta = nan`` nulled every
    smoothed value; ``inf`` overflows lock and queue timeouts. No option takes ``inf`` ("never" is
    spelled 0 where an option has it, e.g. ``reopen_max_attempts``). A new float field is covered
    without touching this function.
    """
    for section, options in [(None, config), *((name, getattr(config, name)) for name in SECTIONS)]:
        for f in _scalar_fields(type(options)):
            value = getattr(options, f.name)
            if not isinstance(value, float):
                continue
            key, flag = f"{section}.{f.name}" if section else f.name, _flag_name(section, f.name)
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number (got {value}): set a number in the file "
                                  f"or pass {flag} with one")
            if f.name.endswith("_s") and value > MAX_SECONDS:
                raise ConfigError(f"{key} is {value:g} s, more than a day ({MAX_SECONDS:g} s): set a shorter "
                                  f"duration or pass {flag}")


def _scalar_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name not in SECTIONS]


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _flag_name(section: str | None, name: str) -> str:
    return "--" + (f"{section}-{name}" if section else name).replace("_", "-")


def _coerce(value: Any, kind: type, key: str, origin: str) -> Any:
    """Type-check one value from TOML (flags are already typed by argparse)."""
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        section, _, name = key.rpartition(".")
        raise ConfigError(f"{origin}: key {key!r} must be {TYPE_NAMES[kind]} (got {value!r}): "
                          f"fix it in the file or pass {_flag_name(section or None, name)}")
    return value


def load_toml(path: Path) -> dict[str, Any]:
    """The TOML file as a dict; anything unreadable is one ConfigError line naming the file and the fix."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError("reading TOML needs Python 3.11+ or `pip install tomli`") from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist: pass --config with an existing file "
                          "(see edge/au-edge.example.toml)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory: pass --config with a TOML file "
                          "(see edge/au-edge.example.toml)") from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes as UTF-8 itself
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}): save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}): fix the syntax") from None
    except OSError as exc:  # permissions, I/O errors: still one line
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc}): check the path "
                          "and its permissions") from None


def apply_mapping(config: DaemonConfig, data: dict[str, Any], origin: str) -> None:
    """Apply a TOML-shaped dict onto ``config``; unknown keys and wrong types raise ConfigError."""
    top = {f.name: f for f in _scalar_fields(DaemonConfig)}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {key} must be a table ([{key}])")
            target = getattr(config, key)
            fields = {f.name: f for f in dataclasses.fields(target)}
            for sub, sub_value in value.items():
                if sub not in fields:
                    raise ConfigError(f"{origin}: unknown key '{key}.{sub}': valid keys in [{key}] are "
                                      f"{', '.join(fields)}")
                kind = type(_default_of(fields[sub]))
                setattr(target, sub, _coerce(sub_value, kind, f"{key}.{sub}", origin))
        elif key in top:
            setattr(config, key, _coerce(value, type(_default_of(top[key])), key, origin))
        else:
            valid = ", ".join([*top, *(f"[{s}]" for s in SECTIONS)])
            raise ConfigError(f"{origin}: unknown key {key!r}: valid top-level keys are {valid}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per option (``--http-port``), default SUPPRESS so only given flags override the TOML."""
    parser.add_argument("--config", type=Path, help="TOML file (see au-edge.example.toml); flags override it")

    def add(group, section: str | None, f: dataclasses.Field) -> None:
        default = _default_of(f)
        dest = f"{section}.{f.name}" if section else f.name
        kind = type(default)
        help_text = f"default: {default!r}"
        if kind is bool:
            group.add_argument(_flag_name(section, f.name), dest=dest, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(_flag_name(section, f.name), dest=dest, type=kind, default=argparse.SUPPRESS,
                               metavar=kind.__name__.upper(), help=help_text)

    general = parser.add_argument_group("daemon")
    for f in _scalar_fields(DaemonConfig):
        add(general, None, f)
    for section in SECTIONS:
        group = parser.add_argument_group(f"[{section}]")
        section_cls = {f.name: f for f in dataclasses.fields(DaemonConfig)}[section].default_factory
        for f in dataclasses.fields(section_cls):
            add(group, section, f)


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    """Defaults, then the TOML file, then the flags, then the state folder for what neither set; validated."""
    config = DaemonConfig()
    data = load_toml(args.config) if getattr(args, "config", None) is not None else {}
    apply_mapping(config, data, str(getattr(args, "config", "")))
    given = {f"{key}.{sub}" for key, table in data.items() if key in SECTIONS for sub in table}
    for dest, value in vars(args).items():
        if dest == "config" or value is argparse.SUPPRESS:
            continue
        given.add(dest)
        section, _, name = dest.rpartition(".")
        if section in SECTIONS:
            setattr(getattr(config, section), name, value)
        elif hasattr(config, dest):
            setattr(config, dest, value)
    use_state_dir(config, given)
    config.validate()
    return config


def use_state_dir(config: DaemonConfig, given: set[str]) -> None:
    """Records and the MQTT queue go to the state folder (:func:`auedge.edge.state_dir.state_dir`) unless set.

    ``jsonl.path`` set to "" in the file or a flag still means no JSON-lines file; only a path
    given nowhere becomes ``<state folder>/records.jsonl``. Only paths are filled in here: the
    folder is made by the sinks, after the source has opened.
    """
    folder = state_dir()
    if "jsonl.path" not in given:
        config.jsonl.path = str(folder / "records.jsonl")
    if not config.mqtt.state_dir:
        config.mqtt.state_dir = str(folder)


def build_parser(prog: str = "au-edge daemon") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Run the AU-Edge daemon: camera -> AUs -> sinks.",
        epilog="With no --config: the bundle shipped in the package, records in $XDG_STATE_HOME/au-edge "
               "(~/.local/state/au-edge; $STATE_DIRECTORY under systemd), HTTP on 127.0.0.1:8080. "
               "On a laptop: au-edge daemon --source camera:0 (or --source video:clip.mp4).")
    add_arguments(parser)
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
