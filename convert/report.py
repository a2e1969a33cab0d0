"""The export summary: one Markdown table printed at the end and saved as the bundle's report.md.

Why Markdown: the same text reads well in a terminal, on GitHub and in the experiments notes.
"""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def occluder_text(record: dict[str, Any] | None) -> str:
    """``mix (occlude_val, seed 3)``: which faces the figures were computed on."""
    if not record:
        return "-"
    if record.get("seed") is None:
        return str(record.get("kind"))
    weights = f", weights {record['mix_weights']}" if record.get("mix_weights") else ""
    return f"{record['kind']} ({record.get('setting')}, seed {record['seed']}{weights})"


def tolerance_text(tol: dict[str, Any], kind: str) -> str:
    """The limits every variant was held to, in words (intensity adds the mean-abs-diff bound)."""
    floor = tol.get("int8_floor")
    text = (f"fp32 max abs diff {tol.get('fp32_max_abs')}, fp16 {tol.get('fp16_max_abs')}; dynamic/int8 "
            + (f"agreement >= {floor}" if kind == "occurrence" else f"ICC vs float >= {floor}"))
    if kind != "occurrence" and tol.get("int8_mad_fraction") is not None:
        text += f" and mean abs diff per AU <= {tol['int8_mad_fraction']} of the output range"
    return text


def summary_rows(models: list[dict[str, Any]], kind: str) -> list[list[str]]:
    metric = "agreement" if kind == "occurrence" else "icc_vs_float"
    rows = []
    for m in models:
        v = m.get("validation") or {}
        label_metric = v.get("f1") if kind == "occurrence" else v.get("icc_vs_labels")
        status = m.get("status") or ("degraded" if m.get("degraded") else "ok")
        rows.append([
            m["name"],
            m["file"],
            _fmt(m["size_bytes"] / 1024.0, ".1f"),
            _fmt(v.get("max_abs_diff"), ".2e"),
            _fmt(v.get("mean_abs_diff"), ".2e"),
            _fmt(v.get(metric), ".4f"),
            _fmt(label_metric, ".4f"),
            status,
        ])
    return rows


def summary_table(models: list[dict[str, Any]], kind: str) -> str:
    metric = "agreement" if kind == "occurrence" else "ICC vs float"
    vs_labels = "F1 vs labels" if kind == "occurrence" else "ICC vs labels"
    header = ["variant", "file", "size KB", "max abs diff", "mean abs diff", metric, vs_labels, "status"]
    rows = [header, ["---"] * len(header), *summary_rows(models, kind)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def report_markdown(manifest: dict[str, Any], summary: str, notes: list[str]) -> str:
    task = manifest["task"]
    training = manifest.get("training", {})
    export = manifest.get("export", {})
    lines = [
        f"# Bundle {manifest['name']}",
        "",
        f"- task: {task['name']} ({task['kind']}), AUs {', '.join(task['aus'])}",
        f"- input: {manifest['input']['size'][0]}x{manifest['input']['size'][1]} RGB, any batch (1 per face, 2 with its mirror)",
        f"- run: {training.get('run')} (dataset {training.get('dataset')}), threshold {training.get('threshold')}",
        (
            f"- validation: {export.get('val_size')} crops from {export.get('val_source')} "
            f"(occluders: {occluder_text(export.get('val_occluders'))}); "
            f"calibration: {export.get('calib_size')} crops from {export.get('calib_source')} "
            f"(occluders: {occluder_text(export.get('calib_occluders'))})"
        ),
        f"- tolerances: {tolerance_text(export.get('tolerances') or {}, task['kind'])}",
        f"- default model: {manifest['default_model']}; created {manifest['created']}",
        "",
        summary,
        "",
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"
