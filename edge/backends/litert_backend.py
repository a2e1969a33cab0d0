"""LiteRT (ai-edge-litert): the preferred TFLite interpreter; small wheel, numpy 2, XNNPACK on CPU."""

from __future__ import annotations

from typing import Any

from auedge.edge.backends.base import INSTALL_HINT, BackendError
from auedge.edge.backends.tflite_common import InterpreterBackend


class LiteRTBackend(InterpreterBackend):
    name = "litert"
    package = "ai-edge-litert"

    def _interpreter_class(self) -> Any:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendError(f"ai-edge-litert is not installed ({exc}); run: {INSTALL_HINT}") from exc
        return Interpreter
