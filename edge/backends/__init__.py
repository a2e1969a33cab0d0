"""Interpreter backends behind one interface, and :func:`create_backend` to pick one.

Each backend is one small module that imports its interpreter only when instantiated, so
``import auedge.edge.backends`` costs nothing and never pulls in TensorFlow.

Choice with ``backend="auto"``: ``.onnx`` files go to ONNX Runtime; TFLite files go to the first
installed of ai-edge-litert, tflite-runtime, and (last resort) TensorFlow's tf.lite.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from auedge.edge.backends.base import INSTALL_HINT, Backend, BackendError, TensorInfo, resolve_quant

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "TensorInfo",
    "available_backends",
    "create_backend",
    "resolve_quant",
]

# name -> (module, class, the importable package it needs, the formats it runs)
BACKENDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "litert": ("auedge.edge.backends.litert_backend", "LiteRTBackend", "ai_edge_litert", ("tflite",)),
    "tflite-runtime": (
        "auedge.edge.backends.tflite_runtime_backend", "TFLiteRuntimeBackend", "tflite_runtime", ("tflite",)
    ),
    "onnxruntime": ("auedge.edge.backends.onnxruntime_backend", "OnnxRuntimeBackend", "onnxruntime", ("onnx",)),
    "tensorflow": ("auedge.edge.backends.tensorflow_backend", "TensorFlowBackend", "tensorflow", ("tflite",)),
}
ALIASES = {
    "ai-edge-litert": "litert",
    "ai_edge_litert": "litert",
    "tflite_runtime": "tflite-runtime",
    "ort": "onnxruntime",
    "onnx": "onnxruntime",
    "tf": "tensorflow",
}
# Preference for TFLite files under "auto"; TensorFlow last because it is heavy.
TFLITE_ORDER = ("litert", "tflite-runtime", "tensorflow")


def _installed(package: str) -> bool:
    """Whether a package can be imported, without importing it (find_spec reads no module code)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def available_backends() -> list[str]:
    """Names of the backends whose interpreter package is installed."""
    return [name for name, (_, _, package, _) in BACKENDS.items() if _installed(package)]


def model_format(model_path: str | Path) -> str:
    return "onnx" if Path(model_path).suffix.lower() == ".onnx" else "tflite"


def choose_backend(model_path: str | Path, backend: str = "auto") -> str:
    """Resolve ``auto`` or an alias to one registered backend name that can run the file."""
    fmt = model_format(model_path)
    wanted = ALIASES.get(backend.lower(), backend.lower())
    if wanted == "auto":
        if fmt == "onnx":
            return "onnxruntime"
        for name in TFLITE_ORDER:
            if _installed(BACKENDS[name][2]):
                return name
        raise BackendError(
            f"no TFLite interpreter is installed to run {model_path}; run: {INSTALL_HINT} (installs ai-edge-litert)"
        )
    if wanted not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
    if fmt not in BACKENDS[wanted][3]:
        raise BackendError(f"backend {wanted} cannot run {model_path} ({fmt} file); use --backend auto")
    return wanted


def missing_interpreter(model_path: str | Path) -> str | None:
    """Why no installed interpreter can run ``model_path`` under ``auto``, or None when one can.

    ``bundle-info`` uses it to tell "not checkable on this machine" (a bundle carries formats for
    other devices) from "the interpreter is here and refuses the file" (an error).
    """
    try:
        name = choose_backend(model_path, "auto")
    except BackendError as exc:
        return str(exc)
    package = BACKENDS[name][2]
    return None if _installed(package) else f"{package} is not installed to run {Path(model_path).name}"


def create_backend(model_path: str | Path, backend: str = "auto", num_threads: int = 1) -> Backend:
    """Load ``model_path`` once into the chosen interpreter (see module doc for ``auto``)."""
    name = choose_backend(model_path, backend)
    module_name, class_name, _, _ = BACKENDS[name]
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model_path, num_threads=num_threads)
