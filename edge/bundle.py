"""Load and verify an AU-Edge bundle: the only thing that crosses from training to a device.

A bundle is a folder holding ``bundle.json``, one or more AU model files (TFLite, ONNX) and the
face-detector model. ``bundle.json`` names every file with its sha256, so a truncated copy or a
tampered model is refused before any interpreter touches it. This module needs no TensorFlow.

Schema (version 1), the keys a device relies on::

    schema_version: 1
    name, created, task: {name, kind: occurrence|intensity, aus: [AU12, ...]}
    outputs: [{au, index, kind, range: [lo, hi], threshold (occurrence only)}]
    input: {size: [H, W], channels: 3, layout: NHWC, normalization: {mean, std, color, pixel_range}}
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
from auedge.edge.preprocess import Normalization, QuantParams

SCHEMA_VERSION = 1
MANIFEST_NAME = "bundle.json"
FORMATS = ("tflite", "onnx")
PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
TASK_KINDS = ("occurrence", "intensity")
# An occurrence output named "<AU>_occluded" flags that AU's face region as covered: devices report
# the AU as not observable instead of trusting its value (the Android app reads the same name).
OCCLUDED_SUFFIX = "_occluded"


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

    @property
    def au_names(self) -> list[str]:
        return [o.au for o in self.outputs]

    def model(self, name: str | None = None) -> ModelEntry:
        """The model called ``name`` (a name like ``int8`` or ``onnx-fp32``), else the default."""
        wanted = name or self.default_model
        for entry in self.models:
            if entry.name == wanted:
                return entry
        raise BundleError(
            f"bundle {self.root} has no model {wanted!r}; it has {', '.join(m.name for m in self.models)}"
        )


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise BundleError(f"{where} lacks the key {key!r}; re-export the bundle with convert/export.py")
    return data[key]


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


def parse_manifest(root: Path, data: dict[str, Any], check_hash: bool = True) -> Bundle:
    """Check a ``bundle.json`` dictionary against schema 1 and the files beside it."""
    where = str(root / MANIFEST_NAME)
    version = _require(data, "schema_version", where)
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"{where} has schema version {version}, this au-edge reads {SCHEMA_VERSION}; "
            "upgrade au-edge or re-export the bundle"
        )
    task = _require(data, "task", where)
    kind = _require(task, "kind", f"{where} task")
    if kind not in TASK_KINDS:
        raise BundleError(f"{where}: task kind {kind!r} is not one of {TASK_KINDS}")
    outputs = []
    for i, out in enumerate(_require(data, "outputs", where)):
        lo, hi = out.get("range", (0.0, 1.0 if out.get("kind", kind) == "occurrence" else 5.0))
        threshold = out.get("threshold")
        outputs.append(
            OutputSpec(
                au=str(_require(out, "au", f"{where} outputs[{i}]")),
                index=int(out.get("index", i)),
                kind=str(out.get("kind", kind)),
                range=(float(lo), float(hi)),
                threshold=None if threshold is None else float(threshold),
            )
        )
    if not outputs:
        raise BundleError(f"{where} lists no outputs")
    inp = _require(data, "input", where)
    size = tuple(int(v) for v in _require(inp, "size", f"{where} input"))
    try:
        normalization = Normalization.from_dict(_require(inp, "normalization", f"{where} input"))
        crop = CropParams.from_dict(_require(data, "crop", where))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: {exc}") from exc
    if crop.size != size[0] or size[0] != size[1]:
        raise BundleError(f"{where}: crop size {crop.size} does not match input size {list(size)}")

    models = []
    for i, entry in enumerate(_require(data, "models", where)):
        w = f"{where} models[{i}]"
        fmt, precision = _require(entry, "format", w), _require(entry, "precision", w)
        if fmt not in FORMATS or precision not in PRECISIONS:
            raise BundleError(f"{w}: format {fmt!r} / precision {precision!r} is not known to this au-edge")
        quant = entry.get("quantization") or {}
        models.append(
            ModelEntry(
                name=str(_require(entry, "name", w)),
                format=fmt,
                precision=precision,
                path=_verify_file(root, _require(entry, "file", w), _require(entry, "sha256", w), "model", check_hash),
                sha256=entry["sha256"],
                size_bytes=int(entry.get("size_bytes", 0)),
                input_quant=QuantParams.from_dict(quant.get("input")),
                output_quant=QuantParams.from_dict(quant.get("output")),
                validation=dict(entry.get("validation") or {}),
                degraded=bool(entry.get("degraded", False)),
            )
        )
    if not models:
        raise BundleError(f"{where} lists no models")
    default = data.get("default_model") or models[0].name
    if default not in {m.name for m in models}:
        raise BundleError(f"{where}: default_model {default!r} is not among its models")

    detector = None
    if data.get("face_detector"):
        det = data["face_detector"]
        w = f"{where} face_detector"
        detector = DetectorEntry(
            path=_verify_file(root, _require(det, "file", w), _require(det, "sha256", w), "face detector", check_hash),
            sha256=det["sha256"],
            kind=str(det.get("kind", "blazeface-short-range")),
            input_size=tuple(int(v) for v in det.get("input_size", (128, 128))),  # type: ignore[arg-type]
            score_threshold=float(det.get("score_threshold", 0.5)),
            nms_iou=float(det.get("nms_iou", 0.3)),
        )
    return Bundle(
        root=root,
        manifest=data,
        task_name=str(task.get("name", "")),
        task_kind=kind,
        outputs=tuple(outputs),
        input_size=size,  # type: ignore[arg-type]
        normalization=normalization,
        crop=crop,
        models=tuple(models),
        default_model=default,
        face_detector=detector,
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
    if not isinstance(data, dict):
        raise BundleError(f"{manifest_path} does not hold a JSON object; re-export the bundle")
    return parse_manifest(root, data, check_hash=check_hash)
