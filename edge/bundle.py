"""Load and verify an AU-Edge bundle: the only thing that crosses from training to a device.

A bundle is a folder holding ``bundle.json``, one or more AU model files (TFLite, ONNX) and the
face-detector model. ``bundle.json`` names every file with its sha256, so a truncated copy or a
tampered model is refused before any interpreter touches it. This module needs no TensorFlow.

Schema (version 1), the keys a device relies on::

    schema_version: 1
    name, created, task: {name, kind: occurrence|intensity, aus: [AU12, ...]}
    outputs: [{au, index, kind, range: [lo, hi], threshold (occurrence only)}]
    input: {size: [H, W], channels: 3, layout: NHWC, normalization: {mean, std, color: RGB, pixel_range: [0, 255]}}
           (channels, layout, color and pixel_range: the only values the runtime implements)
    crop: CropParams.to_dict()
    face_detector: {file, sha256, size_bytes, kind, input_size: [H, W], score_threshold, nms_iou}
    models: [{name, format: tflite|onnx, precision: fp32|fp16|dynamic|int8, file, size_bytes, sha256,
              batch: 1, quantization: {input: QuantParams|null, output: QuantParams|null},
              validation: {...}, degraded: bool}]
    default_model: name of the model a device runs unless told otherwise (int8 when present)
    inference: {flip_average: bool}  how training evaluated the model (and chose its threshold)
    training: {...}, versions: {...}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auedge.edge.align import CropParams
from auedge.edge.preprocess import Normalization, QuantParams, is_number

SCHEMA_VERSION = 1
MANIFEST_NAME = "bundle.json"
FORMATS = ("tflite", "onnx")
PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
TASK_KINDS = ("occurrence", "intensity")
# An occurrence output named "<AU>_occluded" flags that AU's face region as covered: devices report
# the AU as not observable instead of trusting its value (the Android app reads the same name).
OCCLUDED_SUFFIX = "_occluded"
DEFAULT_THRESHOLD = 0.5  # an occurrence output whose bundle.json gives no threshold


class BundleError(ValueError):
    """A bundle that cannot be used; the message names the file and what to do."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class OutputSpec:
    au: str
    index: int
    kind: str
    range: tuple[float, float]
    threshold: float | None = None
    meaning: str = ""  # bundle.json's words for the value; see :attr:`value_meaning`

    @property
    def value_meaning(self) -> str:
        """What the value is: bundle.json's ``meaning``, else the kind's. An occurrence model gives the
        probability that the AU is present, never a FACS intensity."""
        if self.meaning:
            return self.meaning
        if self.kind == "occurrence":
            return f"probability that {self.au} is present"
        return f"{self.au} intensity on a {self.range[0]:g}-{self.range[1]:g} scale"

    @property
    def decision_threshold(self) -> float | None:
        """Where an occurrence output says "present": bundle.json's threshold, else 0.5; None for intensity."""
        if self.kind != "occurrence":
            return None
        return DEFAULT_THRESHOLD if self.threshold is None else float(self.threshold)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    format: str
    precision: str
    path: Path
    sha256: str
    size_bytes: int
    input_quant: QuantParams | None
    output_quant: QuantParams | None
    validation: dict[str, Any] = field(default_factory=dict)
    degraded: bool = False


@dataclass(frozen=True)
class DetectorEntry:
    path: Path
    sha256: str
    kind: str
    input_size: tuple[int, int]
    score_threshold: float
    nms_iou: float


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict[str, Any]
    task_name: str
    task_kind: str
    outputs: tuple[OutputSpec, ...]
    input_size: tuple[int, int]
    normalization: Normalization
    crop: CropParams
    models: tuple[ModelEntry, ...]
    default_model: str
    face_detector: DetectorEntry | None
    # inference.flip_average: how training evaluated the model (its threshold was chosen so).
    flip_average: bool = False

    @property
    def au_names(self) -> list[str]:
        return [o.au for o in self.outputs]

    @property
    def reported_aus(self) -> list[str]:
        """The AUs a face result carries values for: the outputs less the occlusion flags, which
        the runtime turns into ``observable`` instead."""
        return [o.au for o in self.outputs if not o.au.endswith(OCCLUDED_SUFFIX)]

    def threshold(self, au: str) -> float | None:
        """The decision threshold of output ``au`` (see :attr:`OutputSpec.decision_threshold`)."""
        return next(o for o in self.outputs if o.au == au).decision_threshold

    def model(self, name: str | None = None) -> ModelEntry:
        """The model called ``name`` (a name like ``int8`` or ``onnx-fp32``), else the default."""
        wanted = name or self.default_model
        for entry in self.models:
            if entry.name == wanted:
                return entry
        raise BundleError(
            f"bundle {self.root} has no model {wanted!r}; it has {', '.join(m.name for m in self.models)}"
        )


FIX = "re-export the bundle with convert/export.py"
LAYOUT, CHANNELS = "NHWC", 3  # what the runtime feeds: one RGB crop, channels last


def _key(parent: str, name: str | int) -> str:
    """The dotted path of a manifest key (``outputs[0].threshold``), for error messages."""
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


def _bad(where: str, key: str, expected: str, value: Any) -> BundleError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return BundleError(f"{where}: {key} must be {expected}, got {shown}; {FIX}")


def _require(data: dict[str, Any], name: str, where: str, parent: str = "") -> Any:
    if name not in data:
        raise BundleError(f"{where}: {_key(parent, name)} is missing; {FIX}")
    return data[name]


def _table(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, key, "a JSON object", value)
    return value


def _entries(value: Any, where: str, key: str) -> list[dict[str, Any]]:
    """A non-empty list of JSON objects (``outputs``, ``models``)."""
    if not isinstance(value, list) or not value:
        raise _bad(where, key, "a non-empty list of objects", value)
    return [_table(item, where, _key(key, i)) for i, item in enumerate(value)]


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(where, key, "a non-empty string", value)
    return value


def _number(value: Any, where: str, key: str) -> float:
    if not is_number(value):
        raise _bad(where, key, "a number", value)
    return float(value)


def _integer(value: Any, where: str, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(where, key, f"an integer >= {minimum}", value)
    return value


def _flag(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, key, "true or false", value)
    return value


def _pair(value: Any, where: str, key: str, expected: str) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _bad(where, key, expected, value)
    return value[0], value[1]


def _from_dict(reader: Any, value: Any, where: str, key: str) -> Any:
    """``reader(value)`` (a ``from_dict``), its ValueError/TypeError turned into a BundleError at ``key``."""
    try:
        return reader(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: {key}: {exc}; {FIX}") from exc


def _verify_file(root: Path, rel: str, expected_sha: str, what: str, check_hash: bool) -> Path:
    path = (root / rel).resolve()
    if root.resolve() not in path.parents:
        raise BundleError(f"{what} file {rel!r} points outside the bundle {root}")
    if not path.is_file():
        raise BundleError(f"{what} file {path} is missing; copy the whole bundle folder again")
    if check_hash and sha256_file(path) != expected_sha:
        raise BundleError(
            f"{what} file {path} does not match its sha256 in {MANIFEST_NAME} (truncated or modified); "
            "copy the bundle again or re-export it"
        )
    return path


def _file_entry(entry: dict[str, Any], root: Path, where: str, key: str, what: str, check_hash: bool) -> tuple[Path, str]:
    """The verified path and sha256 of a ``{file, sha256}`` entry."""
    rel = _text(_require(entry, "file", where, key), where, _key(key, "file"))
    sha = _text(_require(entry, "sha256", where, key), where, _key(key, "sha256"))
    return _verify_file(root, rel, sha, what, check_hash), sha


def _parse_task(data: dict[str, Any], where: str) -> tuple[str, str]:
    task = _table(_require(data, "task", where), where, "task")
    kind = _require(task, "kind", where, "task")
    if kind not in TASK_KINDS:
        raise _bad(where, "task.kind", f"one of {', '.join(TASK_KINDS)}", kind)
    name = task.get("name", "")
    if not isinstance(name, str):
        raise _bad(where, "task.name", "a string", name)
    return name, kind


def _parse_output(out: dict[str, Any], i: int, task_kind: str, where: str) -> OutputSpec:
    key = _key("outputs", i)
    kind = out.get("kind", task_kind)
    if kind not in TASK_KINDS:
        raise _bad(where, _key(key, "kind"), f"one of {', '.join(TASK_KINDS)}", kind)
    default_range = (0.0, 1.0 if kind == "occurrence" else 5.0)
    lo, hi = _pair(out.get("range", default_range), where, _key(key, "range"), "[lo, hi]")
    lo, hi = _number(lo, where, _key(key, "range")), _number(hi, where, _key(key, "range"))
    if not lo < hi:
        raise _bad(where, _key(key, "range"), "[lo, hi] with lo < hi", [lo, hi])
    threshold = out.get("threshold")
    return OutputSpec(
        au=_text(_require(out, "au", where, key), where, _key(key, "au")),
        index=_integer(out.get("index", i), where, _key(key, "index")),
        kind=kind,
        range=(lo, hi),
        threshold=None if threshold is None else _number(threshold, where, _key(key, "threshold")),
        meaning=_text(out["meaning"], where, _key(key, "meaning")) if "meaning" in out else "",
    )


def _parse_outputs(data: dict[str, Any], task_kind: str, where: str) -> tuple[OutputSpec, ...]:
    entries = _entries(_require(data, "outputs", where), where, "outputs")
    outputs = tuple(_parse_output(out, i, task_kind, where) for i, out in enumerate(entries))
    names = [o.au for o in outputs]
    duplicates = sorted({au for au in names if names.count(au) > 1})
    if duplicates:  # results are keyed by AU name: a second entry would silently replace the first
        raise BundleError(f"{where}: outputs name {', '.join(duplicates)} more than once; {FIX}")
    return outputs


def _parse_input(data: dict[str, Any], where: str) -> tuple[tuple[int, int], Normalization]:
    inp = _table(_require(data, "input", where), where, "input")
    height, width = _pair(_require(inp, "size", where, "input"), where, "input.size", "[H, W]")
    size = (_integer(height, where, "input.size", 1), _integer(width, where, "input.size", 1))
    if inp.get("layout", LAYOUT) != LAYOUT:
        raise _bad(where, "input.layout", f"{LAYOUT!r} (the only layout au-edge feeds)", inp.get("layout"))
    if inp.get("channels", CHANNELS) != CHANNELS:
        raise _bad(where, "input.channels", f"{CHANNELS} (RGB)", inp.get("channels"))
    normalization = _require(inp, "normalization", where, "input")
    return size, _from_dict(Normalization.from_dict, normalization, where, "input.normalization")


def _parse_model(entry: dict[str, Any], i: int, root: Path, where: str, check_hash: bool) -> ModelEntry:
    key = _key("models", i)
    fmt, precision = _require(entry, "format", where, key), _require(entry, "precision", where, key)
    if fmt not in FORMATS or precision not in PRECISIONS:
        raise BundleError(f"{where}: {key}: format {fmt!r} / precision {precision!r} is not known to this au-edge "
                          f"(formats {', '.join(FORMATS)}; precisions {', '.join(PRECISIONS)})")
    quant = _table(entry.get("quantization") or {}, where, _key(key, "quantization"))
    path, sha = _file_entry(entry, root, where, key, "model", check_hash)
    return ModelEntry(
        name=_text(_require(entry, "name", where, key), where, _key(key, "name")),
        format=fmt,
        precision=precision,
        path=path,
        sha256=sha,
        size_bytes=_integer(entry.get("size_bytes", 0), where, _key(key, "size_bytes")),
        input_quant=_from_dict(QuantParams.from_dict, quant.get("input"), where, _key(key, "quantization.input")),
        output_quant=_from_dict(QuantParams.from_dict, quant.get("output"), where, _key(key, "quantization.output")),
        validation=dict(_table(entry.get("validation") or {}, where, _key(key, "validation"))),
        degraded=_flag(entry.get("degraded", False), where, _key(key, "degraded")),
    )


def _parse_models(data: dict[str, Any], root: Path, where: str, check_hash: bool) -> tuple[tuple[ModelEntry, ...], str]:
    entries = _entries(_require(data, "models", where), where, "models")
    models = tuple(_parse_model(entry, i, root, where, check_hash) for i, entry in enumerate(entries))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise BundleError(f"{where}: models has two entries with the same name ({', '.join(names)}); {FIX}")
    default = data.get("default_model") or models[0].name
    if default not in names:
        raise _bad(where, "default_model", f"one of its models ({', '.join(names)})", default)
    return models, default


def check_detector_settings(score_threshold: float, nms_iou: float) -> None:
    """The ranges the face detector works in; ValueError naming the setting. Here, not only in the
    detector, so that a bundle.json out of range is refused by every reader of it (``bundle-info`` too)."""
    if not 0.0 < score_threshold < 1.0:  # also refuses NaN
        raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
    if not 0.0 < nms_iou <= 1.0:
        raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")


def _parse_detector(data: dict[str, Any], root: Path, where: str, check_hash: bool) -> DetectorEntry | None:
    if not data.get("face_detector"):
        return None
    det = _table(data["face_detector"], where, "face_detector")
    path, sha = _file_entry(det, root, where, "face_detector", "face detector", check_hash)
    height, width = _pair(det.get("input_size", (128, 128)), where, "face_detector.input_size", "[H, W]")
    score_threshold = _number(det.get("score_threshold", 0.5), where, "face_detector.score_threshold")
    nms_iou = _number(det.get("nms_iou", 0.3), where, "face_detector.nms_iou")
    try:
        check_detector_settings(score_threshold, nms_iou)
    except ValueError as exc:
        raise BundleError(f"{where}: face_detector.{exc}; {FIX}") from None
    return DetectorEntry(
        path=path,
        sha256=sha,
        kind=_text(det.get("kind", "blazeface-short-range"), where, "face_detector.kind"),
        input_size=(
            _integer(height, where, "face_detector.input_size", 1), _integer(width, where, "face_detector.input_size", 1)
        ),
        score_threshold=score_threshold,
        nms_iou=nms_iou,
    )


def _parse_flip_average(data: dict[str, Any], where: str) -> bool:
    inference = _table(data.get("inference") or {}, where, "inference")
    return _flag(inference.get("flip_average", False), where, "inference.flip_average")


def parse_manifest(root: Path, data: dict[str, Any], check_hash: bool = True) -> Bundle:
    """Check a ``bundle.json`` dictionary against schema 1 and the files beside it.

    Every malformation (a wrong type, a missing key, a value the runtime does not implement)
    is a BundleError naming the file, the key and what is expected, never a traceback from
    deeper down: bundles are copied by hand to devices, and that is where they get edited.
    """
    where = str(root / MANIFEST_NAME)
    version = _require(data, "schema_version", where)
    if isinstance(version, bool) or not isinstance(version, int):  # "1", 1.0 and true all equal 1 in Python
        raise _bad(where, "schema_version", f"an integer ({SCHEMA_VERSION}, not a string or a float)", version)
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"{where} has schema version {version}, this au-edge reads {SCHEMA_VERSION}; "
            "upgrade au-edge or re-export the bundle"
        )
    task_name, kind = _parse_task(data, where)
    outputs = _parse_outputs(data, kind, where)
    size, normalization = _parse_input(data, where)
    crop = _from_dict(CropParams.from_dict, _table(_require(data, "crop", where), where, "crop"), where, "crop")
    if crop.size != size[0] or size[0] != size[1]:
        raise BundleError(f"{where}: crop size {crop.size} does not match input size {list(size)}")
    models, default = _parse_models(data, root, where, check_hash)
    return Bundle(
        root=root,
        manifest=data,
        task_name=task_name,
        task_kind=kind,
        outputs=outputs,
        input_size=size,
        normalization=normalization,
        crop=crop,
        models=models,
        default_model=default,
        face_detector=_parse_detector(data, root, where, check_hash),
        flip_average=_parse_flip_average(data, where),
    )


def load_bundle(path: str | Path, check_hash: bool = True) -> Bundle:
    """Read ``bundle.json`` in ``path`` (a folder or the json file itself) and verify every file."""
    root = Path(path)
    if root.is_file() and root.name == MANIFEST_NAME:
        root = root.parent
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path} not found; pass a bundle folder written by convert/export.py")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON ({exc}); re-export the bundle") from exc
    except OSError as exc:  # unreadable (permissions, I/O error): still one line, not a traceback
        raise BundleError(f"{manifest_path} cannot be read ({exc.strerror or exc}); check its permissions") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{manifest_path} does not hold a JSON object; re-export the bundle")
    return parse_manifest(root, data, check_hash=check_hash)


def load_bundle_with_detector(path: str | Path) -> Bundle:
    """:func:`load_bundle` for the callers that run the device's whole path (detector first): a
    bundle without a face detector is refused here, in one line, not at the first frame."""
    bundle = load_bundle(path)
    if bundle.face_detector is None:
        raise BundleError(f"bundle {bundle.root} has no face detector; re-export it with convert/export.py")
    return bundle
