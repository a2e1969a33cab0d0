"""The six model variants the exporter can write, and the tolerance each one must meet.

Why a table: the CLI, the converters, the validator and the bundle writer all need the same facts
(bundle name, file name, format, precision, which check applies) and must not drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

# "exact" variants are compared by max abs difference; "agreement" ones by the task's floor
# (class agreement for occurrence, ICC vs float for intensity).
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
    """Limits a variant must meet; ``int8_floor`` applies to dynamic, int8 and onnx-int8."""

    fp32_max_abs: float = 1e-4
    fp16_max_abs: float = 1e-2
    int8_floor: float = 0.98

    def max_abs_for(self, variant: Variant) -> float:
        return self.fp16_max_abs if variant.precision == "fp16" else self.fp32_max_abs


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


def default_model_name(names: list[str]) -> str:
    """int8 when present (the edge default), else the first present in a sensible fallback order."""
    for name in DEFAULT_MODEL_ORDER:
        if name in names:
            return name
    return names[0]
