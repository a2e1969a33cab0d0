"""auedge.edge: the on-device runtime. Needs numpy, OpenCV/Pillow and one interpreter; never TensorFlow.

Heavy pieces (interpreters, cameras) are imported lazily by the modules that need them, so that
``import auedge.edge`` stays cheap on a Raspberry Pi.
"""

from auedge.edge.align import CropParams, align_face
from auedge.edge.bundle import Bundle, BundleError, load_bundle
from auedge.edge.results import EstimateResult, FaceResult

__all__ = ["Bundle", "BundleError", "CropParams", "EstimateResult", "Estimator", "EstimatorOptions", "FaceResult",
           "FrameResult", "StreamOptions", "align_face", "load_bundle", "stream", "to_dataframe", "to_rows"]
STREAMING = {"stream", "StreamOptions", "FrameResult", "to_rows", "to_dataframe"}


def __getattr__(name: str):
    # The estimator pulls in an interpreter backend; load it only when asked for.
    if name in {"Estimator", "EstimatorOptions"}:
        from auedge.edge import estimator

        return getattr(estimator, name)
    if name in STREAMING:  # auedge.edge.stream(source, options): edge/streaming.py
        from auedge.edge import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module 'auedge.edge' has no attribute {name!r}")
