"""The six model variants the exporter can write, and the tolerance each one must meet.

Why a table: the CLI, the converters, the validator and the bundle writer all need the same facts
(bundle name, file name, format, precision, which check applies) and must not drift apart.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

# "exact" variants are compared by max abs difference; "agreement" ones by the task's floor
# (class agreement for occurrence; for intensity ICC vs float plus a bound on the mean absolute
# difference, because ICC(3,1) measures consistency and ignores a constant offset).
CHECK_EXACT = "max_abs"
CHECK_AGREEMENT = "agreement"


@dataclass(frozen=True)
class Variant:
    key: str  # the --formats spelling
    name: str  # the bundle's model name
    format: str  # tflite | onnx
    precision: str  # fp32 | fp16 | dynamic | int8
    file: str
    check: str


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("tflite-fp32", "fp32", "tflite", "fp32", "model_fp32.tflite", CHECK_EXACT),
        Variant("tflite-fp16", "fp16", "tflite", "fp16", "model_fp16.tflite", CHECK_EXACT),
        Variant("tflite-dynamic", "dynamic", "tflite", "dynamic", "model_dynamic.tflite", CHECK_AGREEMENT),
        Variant("tflite-int8", "int8", "tflite", "int8", "model_int8.tflite", CHECK_AGREEMENT),
        Variant("onnx-fp32", "onnx-fp32", "onnx", "fp32", "model_fp32.onnx", CHECK_EXACT),
        Variant("onnx-int8", "onnx-int8", "onnx", "int8", "model_int8.onnx", CHECK_AGREEMENT),
    )
}
DEFAULT_MODEL_ORDER = ("int8", "dynamic", "fp16", "fp32", "onnx-int8", "onnx-fp32")


@dataclass(frozen=True)
class Tolerances:
    """Limits a variant must meet; ``int8_floor`` applies to dynamic, int8 and onnx-int8.

    ``int8_mad_fraction`` bounds, for intensity tasks, each AU's mean absolute difference from the
    float model as a fraction of the output range (0.02 of 0-5 = 0.1 intensity units): ICC alone
    would pass a model that reads +1 on every face.

    For occurrence outputs ``int8_floor`` is the decision agreement on faces whose float value lies
    at least ``validation.NEAR_THRESHOLD`` from the threshold, and ``int8_f1_drop`` bounds how far
    each labelled output's F1 may fall below the float model's. Why not agreement on every face: an
    output that separates its classes weakly (AU4 from emotion labels, ROC AUC 0.8) has many faces
    within int8's few hundredths of its threshold, and 2-3 % of them flip with no change in F1;
    judged on all faces the same model passed at 0.986 and failed at 0.974 on two samples.
    """

    fp32_max_abs: float = 1e-4
    fp16_max_abs: float = 1e-2
    int8_floor: float = 0.98
    int8_mad_fraction: float = 0.02
    int8_f1_drop: float = 0.01

    def max_abs_for(self, variant: Variant) -> float:
        return self.fp16_max_abs if variant.precision == "fp16" else self.fp32_max_abs

    def mad_limit(self, value_range: tuple[float, float]) -> float:
        """The mean-abs-difference bound in output units for an output range (lo, hi)."""
        return self.int8_mad_fraction * (value_range[1] - value_range[0])


def parse_formats(text: str) -> list[Variant]:
    """``all`` or a comma list of keys -> variants in table order (duplicates ignored)."""
    from auedge.convert.errors import ExportError

    wanted = [p.strip().lower() for p in str(text).split(",") if p.strip()]
    if not wanted or wanted == ["all"]:
        return list(VARIANTS.values())
    unknown = [w for w in wanted if w not in VARIANTS]
    if unknown:
        raise ExportError(f"unknown format {unknown[0]!r} in --formats; choose all or a comma list of {', '.join(VARIANTS)}")
    return [v for k, v in VARIANTS.items() if k in wanted]


def default_model_name(names: list[str], degraded: Collection[str] = ()) -> str:
    """int8 when present and sound (the edge default), else the first sound one in a fallback order.

    A device runs the default unless told otherwise, so a model marked degraded (out of tolerance,
    bundled only with --allow-degraded) is never chosen; when every model is degraded there is no
    sound default and the export fails.
    """
    from auedge.convert.errors import ExportError

    sound = [n for n in names if n not in set(degraded)]
    if not sound:
        raise ExportError(
            f"every exported model is out of tolerance ({', '.join(names)}), so the bundle would have no sound "
            "default model; add a variant that passes (e.g. --formats tflite-fp32,...) or fix the failing ones"
        )
    for name in DEFAULT_MODEL_ORDER:
        if name in sound:
            return name
    return sound[0]
