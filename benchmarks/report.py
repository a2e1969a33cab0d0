"""``python benchmarks/report.py``: the latest benchmark JSONs gathered into benchmarks/results/REPORT.md.

For each (script, bundle) only the newest result is used. The report opens with the machine (CPU
model, cores, package versions) and quotes each run's load average, because the numbers come from
a machine that may be shared: medians are quoted, and ratios come from interleaved timings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from auedge.benchmarks.store import RESULTS_DIR, atomic_write_text, environment, format_table, utc_now

REPORT_NAME = "REPORT.md"
KINDS = ("latency", "pipeline", "detection", "end_to_end", "accuracy", "peers", "int8probe")
FINDINGS = Path(__file__).resolve().parent / "FINDINGS.md"


def result_key(data: dict[str, Any]) -> tuple[str, str]:
    """(kind, what was measured): the bundle, and for a daemon pipeline run also its model, flip
    averaging and frame sources, so an fp32 or video run does not hide the int8 memory run."""
    what = str(data.get("bundle"))
    if data["kind"] == "pipeline":
        runs = data.get("runs") or []
        models = ",".join(sorted({str(r.get("model")) for r in runs}))
        sources = ",".join(sorted({str(r.get("source")) for r in runs}))
        what += f" {models} flip {data.get('flip_average', 'bundle')} {sources}"
    return data["kind"], what


def latest_results(folder: Path) -> dict[tuple[str, str], tuple[Path, dict[str, Any]]]:
    """Newest JSON per :func:`result_key`; unreadable files are skipped with a note on stderr."""
    latest: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"note: skipping {path.name} ({exc})", file=sys.stderr)
            continue
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            continue
        key = result_key(data)
        if key not in latest or data.get("created", "") > latest[key][1].get("created", ""):
            latest[key] = (path, data)
    return latest


def _load(data: dict[str, Any]) -> str:
    before, after = data.get("load_average_before"), data.get("load_average_after")
    cores = data.get("environment", {}).get("cpu_count")
    return f"load average (1, 5, 15 min) {before} before, {after} after, on {cores} cores"


def _plots(data: dict[str, Any]) -> list[str]:
    return [f"![{name}]({name})" for name in data.get("plots", [])]


def bundle_line(data: dict[str, Any], notes: dict[str, str]) -> str:
    """What the bundle is: its training run, dataset and backbone, and any note given with --note."""
    training = data.get("training") or {}
    test = (training.get("metrics") or {}).get("test") or {}
    score = ", ".join(f"{k} {v:.3f}" for k, v in test.items() if k in ("f1", "icc31", "roc_auc") and isinstance(v, float))
    line = (f"Bundle `{data['bundle']}`: run `{training.get('run')}`, dataset {training.get('dataset')}, "
            f"{training.get('arch')} ({training.get('head')} head); test figures from training: {score or 'none'}.")
    note = notes.get(str(data["bundle"]))
    return line + (f" **{note}**" if note else "")


def latency_section(path: Path, data: dict[str, Any], notes: dict[str, str]) -> list[str]:
    from auedge.benchmarks.latency import detector_table, model_table, pipeline_table

    out = [f"### Latency: `{data['bundle']}` ({data['task']['name']})", "", bundle_line(data, notes), "",
           (f"{data['created']} - {_load(data)}; {data['settings']['runs']} timed runs after "
           f"{data['settings']['warmup']} warm-up, variants interleaved round by round. "
           f"Frame: {data['frame']}. Backends not installed here: "
           f"{', '.join(data['settings'].get('backends_not_installed', [])) or 'none'}. Raw: `{path.name}`."), "",
           ("AU model alone (one aligned face; ms). `x fp32` = median / fp32 median on the same backend and threads; "
           "`CPU` = process CPU time per call (insensitive to waiting for a core on a loaded machine); memory = "
           "VmHWM of a fresh process that loads only that variant (baseline: same process before loading)."), "",
           model_table(data["models"], data.get("memory", [])), "",
           "Face detector alone (640x480 frame, letterbox + network + decoding + NMS; `network` = interpreter call only):",
           "", detector_table(data["detector"]), ""]
    if data.get("pipeline"):
        out += ["Whole per-frame pipeline (`Estimator.estimate`: detect + crop + AU model; stage medians):", "",
                pipeline_table(data["pipeline"]), ""]
    edge = data.get("edge_process") or {}
    if edge:
        if "peak_mb" in edge:
            out += [(f"Edge Estimator process with the `{edge.get('default_model')}` model, {edge.get('frames')} frames: "
                    f"peak RSS **{edge['peak_mb']:.1f} MB** (target < {edge.get('target_mb', 150):.0f} MB: "
                    f"{'met' if edge.get('under_target') else 'NOT met'}); after imports, before loading: "
                    f"{edge['baseline_mb']:.1f} MB; bare interpreter {edge.get('python_start_mb', 0):.1f} MB; "
                    f"`tensorflow` in sys.modules: **{edge.get('tensorflow_imported')}**."), ""]
        else:
            out += [f"Edge Estimator process: failed ({edge.get('error')}).", ""]
    return out + _plots(data) + [""]


def accuracy_section(path: Path, data: dict[str, Any], notes: dict[str, str]) -> list[str]:
    from auedge.benchmarks.accuracy import tables_for

    ds = data["dataset"]
    out = [f"### Accuracy: `{data['bundle']}` ({data['task']['name']})", "", bundle_line(data, notes), "",
           (f"{data['created']} - {ds['faces']} faces of {ds['name']} split `{ds['split']}` ({ds['note']}); "
           f"reference row: {data['reference']['note']}; drop = reference - variant with a paired bootstrap 95% CI "
           f"({data['bootstrap']['resamples']} resamples, seed {data['bootstrap']['seed']}); occluders pasted with "
           f"`occlude_fixed` seed {data.get('occlusion_seed')}. {_load(data)}. Raw: `{path.name}`."), ""]
    for table in tables_for(data):
        title, _, body = table.partition("\n")
        out += [f"**{title}**", "", body, ""]
    speeds = data.get("variants", {})
    if speeds:
        out += ["Time per face during this evaluation (batch 1 on the device path; Keras in batches of 64):", "",
                format_table(["variant", "backend", "ms per face"],
                             [[n, v.get("backend"), v.get("ms_per_face")] for n, v in speeds.items()]), ""]
    return out + _plots(data) + [""]


def int8_summary(accuracy: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """The acceptance view: int8 vs float per bundle and occlusion, with the 0.01 F1 budget."""
    rows = []
    for _, data in accuracy:
        ref = data["reference"]["row"]
        for occlusion, per_row in data["results"].items():
            if "int8" not in per_row:
                continue
            for au in data["task"]["aus"]:
                f, r = per_row["int8"][au], per_row[ref][au]
                drop = f.get("drop_vs_float") or {}
                metric = drop.get("metric", "f1")
                rows.append([data["bundle"], occlusion, au, metric, r.get(metric), f.get(metric),
                             (f"{drop.get('estimate', float('nan')):+.4f} [{drop.get('low', float('nan')):+.4f}, "
                             f"{drop.get('high', float('nan')):+.4f}]"),
                             "yes" if metric == "f1" and drop.get("estimate", 1.0) <= 0.01 else
                             ("-" if metric != "f1" else "no")])
    if not rows:
        return []
    return ["## int8 vs float", "",
            format_table(["bundle", "occlusion", "AU", "metric", "float", "int8", "drop [95% CI]", "drop <= 0.01"], rows),
            ""]


def peers_section(path: Path, data: dict[str, Any]) -> list[str]:
    out = [f"### Peers ({data['created']}; raw: `{path.name}`)", "", data.get("summary", ""), ""]
    tried = data.get("candidates", [])
    if tried:
        out += ["Candidates tried:", "",
                format_table(["package", "version", "ships model files", "runs here", "why / note"],
                             [[c["package"], c.get("version"), c.get("ships_weights"), c.get("runs_here"), c.get("note")]
                              for c in tried]), ""]
    if data.get("table"):
        out += [f"Same {data.get('faces')} MTFL testing faces ({_load(data)}):", "",
                format_table(data["table"]["headers"], data["table"]["rows"]), ""]
    return out + _plots(data) + [""]


def pipeline_section(path: Path, data: dict[str, Any]) -> list[str]:
    from auedge.benchmarks.pipeline import render

    _, what = result_key(data)
    out = [f"### Daemon end to end: `{what}` ({data['created']}; raw: `{path.name}`)", "",
           (f"{data.get('video')}; the real `au-edge daemon` loop (detector, crop, AU model, smoothing, JSON-lines "
            f"sink), uncapped, each thread count pinned to as many cores; flip averaging "
            f"`{data.get('flip_average', 'bundle')}`; {_load(data)}."), "",
           render(data["runs"]), ""]
    if "one_core_meets_target" in data:
        one = next(r for r in data["runs"] if r["threads"] == 1 and r["source"] == "memory")
        verdict = "meets" if data["one_core_meets_target"] else "misses"
        out += [(f"One core, frames from memory: {one['pipeline_fps']:.0f} fps, {verdict} the "
                 f"{data['target_pipeline_fps_one_core']:.0f} fps target."), ""]
    return out


def detection_section(path: Path, data: dict[str, Any]) -> list[str]:
    from auedge.benchmarks.detection import detection_table

    far = data.get("far_scene", {})
    return [f"### Face detection rate ({data['created']}; raw: `{path.name}`)", "",
            (f"{data.get('source')}; found = {data.get('found_rule')}; far scenes: the photo shrunk onto a "
             f"{far.get('frame')} frame with the eyes {far.get('eye_px')} px apart (about 1, 2, 3 m from a 60-degree "
             f"camera), `-region`: searched only in the central 1/{far.get('region_zoom')} of the frame; one thread."), "",
            detection_table(data["rows"]), ""]


def end_to_end_section(path: Path, data: dict[str, Any]) -> list[str]:
    from auedge.benchmarks.end_to_end import end_to_end_table

    return [f"### `{data['bundle']}` through the device path ({data['created']}; raw: `{path.name}`)", "",
            (f"{data.get('source')}; crop method {data.get('crop', {}).get('method', 'eyes')}, flip averaging "
             f"{data.get('flip_average')}; device = crops from the detector's keypoints on the faces it found, "
             "label-crop = the same faces cut from the labelled landmarks, all faces = a missed face counted as absent."), "",
            end_to_end_table(data["rows"]), ""]


def int8probe_section(path: Path, data: dict[str, Any]) -> list[str]:
    return [f"### int8 probe: `{data['bundle']}` ({data['created']}; raw: `{path.name}`)", "",
            (f"CPU flags that matter for int8: {', '.join(data.get('cpu_flags') or []) or 'none'}; {data['runs']} interleaved "
            f"runs per row, one thread, CPU time; {_load(data)}."), "",
            format_table(data["table"]["headers"], data["table"]["rows"]), ""]


def build_report(folder: Path, notes: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> str:
    latest = {key: value for key, value in latest_results(folder).items() if key[1] not in skip}
    notes = notes or {}
    env = environment()
    lines = ["# AU-Edge benchmark report", "",
             (f"Generated {utc_now().isoformat(timespec='seconds')} by `python benchmarks/report.py` from the newest "
             "result of each script and bundle in this folder."), "",
             "## Machine", "",
             (f"- CPU: {env['cpu_model']} ({env['cpu_count']} logical cores, {env['usable_cpus']} usable), {env['machine']}, "
             f"{env['system']}, Python {env['python']}"),
             (f"- load average when this report was written: {env['load_average']} (the machine is shared by several "
             "developers; every section quotes the load during its own run)"),
             "- packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()), ""]
    if FINDINGS.is_file():
        lines += [FINDINGS.read_text(encoding="utf-8").strip(), ""]
    if not latest:
        return "\n".join(lines + ["No results yet: run benchmarks/latency.py and benchmarks/accuracy.py first.", ""])
    by_kind = {k: [latest[key] for key in sorted(latest) if key[0] == k] for k in KINDS}
    lines += int8_summary(by_kind["accuracy"])
    if by_kind["latency"]:
        lines += ["## Latency and memory", ""]
        for path, data in by_kind["latency"]:
            lines += latency_section(path, data, notes)
    if by_kind["pipeline"]:
        lines += ["## Whole pipeline (daemon on a video)", ""]
        for path, data in by_kind["pipeline"]:
            lines += pipeline_section(path, data)
    if by_kind["detection"]:
        lines += ["## Face detection (bare, masked, near and far)", ""]
        for path, data in by_kind["detection"]:
            lines += detection_section(path, data)
    if by_kind["end_to_end"]:
        lines += ["## Accuracy through the whole device path (detector keypoints)", ""]
        for path, data in by_kind["end_to_end"]:
            lines += end_to_end_section(path, data)
    if by_kind["accuracy"]:
        lines += ["## Accuracy (variants vs float and labels)", ""]
        for path, data in by_kind["accuracy"]:
            lines += accuracy_section(path, data, notes)
    if by_kind["int8probe"]:
        lines += ["## Why int8 is not faster here", ""]
        for path, data in by_kind["int8probe"]:
            lines += int8probe_section(path, data)
    if by_kind["peers"]:
        lines += ["## Peers", ""]
        for path, data in by_kind["peers"]:
            lines += peers_section(path, data)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auedge-bench-report", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--results", default=str(RESULTS_DIR), help="results folder (default benchmarks/results)")
    parser.add_argument("--out", help="report file (default <results>/REPORT.md)")
    parser.add_argument("--note", action="append", default=[], metavar="BUNDLE=TEXT",
                        help="a sentence about a bundle, printed in bold with its sections (repeatable)")
    parser.add_argument("--skip", action="append", default=[], metavar="BUNDLE", help="leave a bundle out (repeatable)")
    args = parser.parse_args(argv)
    notes = dict(n.split("=", 1) for n in args.note if "=" in n)
    folder = Path(args.results)
    if not folder.is_dir():
        print(f"error: results folder {folder} not found; run benchmarks/latency.py first", file=sys.stderr)
        return 2
    text = build_report(folder, notes, tuple(args.skip))
    out = Path(args.out) if args.out else folder / REPORT_NAME
    atomic_write_text(out, text)
    print(text)
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
