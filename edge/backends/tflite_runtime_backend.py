"""tflite-runtime: the older standalone interpreter (still the one some Pi images ship)."""

from __future__ import annotations

from typing import Any

from auedge.edge.backends.base import INSTALL_HINT, BackendError
from auedge.edge.backends.tflite_common import InterpreterBackend


class TFLiteRuntimeBackend(InterpreterBackend):
    name = "tflite-runtime"
    package = "tflite-runtime"

    def _interpreter_class(self) -> Any:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise BackendError(f"tflite-runtime is not installed ({exc}); run: {INSTALL_HINT}") from exc
        return Interpreter
