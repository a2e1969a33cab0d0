"""tf.lite.Interpreter: last resort, for a machine that has TensorFlow and no light interpreter.

This is the only module of auedge.edge allowed to import TensorFlow, and only when this backend is
chosen explicitly or nothing lighter is installed (TensorFlow costs seconds and hundreds of MB).
"""

from __future__ import annotations

import warnings
from typing import Any

from auedge.edge.backends.base import INSTALL_HINT, BackendError
from auedge.edge.backends.tflite_common import InterpreterBackend


class TensorFlowBackend(InterpreterBackend):
    name = "tensorflow"
    package = "tensorflow (tf.lite)"

    def _interpreter_class(self) -> Any:
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise BackendError(f"tensorflow is not installed ({exc}); for the device run: {INSTALL_HINT}") from exc

        def make(**kwargs: Any) -> Any:
            # TF warns that tf.lite is deprecated in favour of LiteRT: we know, this is the fallback.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
                return tf.lite.Interpreter(**kwargs)

        return make
