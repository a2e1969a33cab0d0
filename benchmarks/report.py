"""``python benchmarks/report.py``: the latest benchmark JSONs gathered into benchmarks/results/REPORT.md.

For each (script, bundle, model) only the newest result is used. A bundle folder keeps its name
when it is re-exported from a retrained run, so results are told apart by the model they measured:
the ``bundle_sha256`` fingerprint (sha256 of bundle.json) that every result records, and for older
results without one whatever they do record (the training threshold and test figures of the
bundle). When results under one name come from different models the report says so. The report
opens with the machine (CPU model, cores, package versions) and quotes each run's load average,
because the numbers come from a machine that may be shared: medians are quoted, and ratios come
from interleaved timings. A result JSON missing the fields of its kind stops the report with one
line naming the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from auedge.benchmarks.store import (
    RESULTS_DIR,
    BenchmarkError,
    atomic_write_text,
    environment,
    format_table,
    utc_now,
)

REPORT_NAME = "REPORT.md"
KINDS = ("latency", "pipeline", "detection", "end_to_end", "accuracy", "peers", "int8probe", "memory")
IDENTITY_FIGURES = ("f1", "icc31", "roc_auc")
FINDINGS = Path(__file__).resolve().parent / "FINDINGS.md"


def model_identity(data: dict[str, Any]) -> tuple[str, str] | None:
    """(key, label) of the model a result measured, or None when the result does not say.

    The fingerprint (sha256 of bundle.json) when recorded; else, for older results, the bundle's
    training threshold (latency and accuracy record the training block, peers the threshold it
    used) with the training test figures in the label. Two models under one name with the same
    threshold cannot be told apart this way: the label says it is not a fingerprint."""
    training = data.get("training") if isinstance(data.get("training"), dict) else {}
    threshold = training.get("threshold")
    test = (training.get("metrics") or {}).get("test") if isinstance(training.get("metrics"), dict) else None
    figures = {k: v for k, v in (test or {}).items() if k in IDENTITY_FIGURES and isinstance(v, (int, float))}
    source = "the bundle's training record in this result"
    if threshold is None and data.get("kind") == "peers":
        peer = (data.get("peer") or {}).get("name")
        ours = [f for name, f in (data.get("figures") or {}).items() if name != peer and isinstance(f, dict)]
        threshold = next((f["threshold"] for f in ours if isinstance(f.get("threshold"), (int, float))), None)
        source = "the threshold this result applied"
    details = "".join(f", training test {k} {v:.3f}" for k, v in figures.items())
    thr = f"threshold {threshold:.2f}" if isinstance(threshold, (int, float)) else ""
    sha = data.get("bundle_sha256")
    if sha:
        created = data.get("bundle_created")
        label = f"bundle.json sha256 {sha[:12]}" + (f", exported {created}" if created else "")
        return f"sha256 {sha}", label + (f" ({thr}{details})" if thr or details else "")
    if thr:
        return thr, f"{thr}{details} (from {source}; it predates bundle fingerprints)"
    if figures:
        key = ", ".join(f"training test {k} {v:.3f}" for k, v in figures.items())
        return key, f"{key} (from {source}; it predates bundle fingerprints)"
    return None


def result_key(data: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, what was measured, model): the bundle, and for a daemon pipeline run also its model,
    flip averaging and frame sources, so an fp32 or video run does not hide the int8 memory run;
    then the model identity (:func:`model_identity`, empty when unknown), so a retrained bundle
    exported under the same name does not hide, or pass for, the earlier one."""
    what = str(data.get("bundle"))
    if data["kind"] == "pipeline":
        runs = data.get("runs") or []
        models = ",".join(sorted({str(r.get("model")) for r in runs}))
        sources = ",".join(sorted({str(r.get("source")) for r in runs}))
        what += f" {models} flip {data.get('flip_average', 'bundle')} {sources}"
    elif data["kind"] == "memory":
        what += f" {data.get('probe')} {data.get('model') or Path(str((data.get('settings') or {}).get('path'))).name}"
    identity = model_identity(data)
    return data["kind"], what, identity[0] if identity else ""


def latest_results(folder: Path) -> dict[tuple[str, str, str], tuple[Path, dict[str, Any]]]:
    """Newest JSON per :func:`result_key`; unreadable files are skipped with a note on stderr."""
    latest: dict[tuple[str, str, str], tuple[Path, dict[str, Any]]] = {}
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

    settings = data["settings"]
    opencv = settings.get("opencv_threads")
    opencv_note = (f"OpenCV's thread pool sized to each thread count as the daemon sizes it (interpreter threads -> "
                   f"OpenCV threads: {', '.join(f'{k} -> {v}' for k, v in opencv.items())})" if opencv else
                   "OpenCV's thread pool was not limited in this run: its detector and whole-frame rows, the "
                   "1-thread ones included, ran OpenCV's resize and warp on its default pool (one thread per core)")
    memory_rows = data.get("memory", [])
    model_baseline = ("baseline: same process before loading, after importing "
                      + ", ".join(memory_rows[0]["baseline_imports"]) if memory_rows and "baseline_imports" in memory_rows[0]
                      else "baseline: same process before loading, after importing numpy, OpenCV, auedge.edge and "
                           "the interpreter's top-level package; LiteRT's native interpreter module was imported "
                           "after the baseline, so it counts in the peak")
    out = [f"### Latency: `{data['bundle']}` ({data['task']['name']})", "", bundle_line(data, notes), "",
           (f"{data['created']} - {_load(data)}; {settings['runs']} timed runs after "
           f"{settings['warmup']} warm-up, variants interleaved round by round. "
           f"Frame: {data['frame']}. {opencv_note}. Backends not installed here: "
           f"{', '.join(settings.get('backends_not_installed', [])) or 'none'}. Raw: `{path.name}`."), "",
           ("AU model alone (one aligned face; ms). `x fp32` = median / fp32 median on the same backend and threads; "
           "`CPU` = process CPU time per call (insensitive to waiting for a core on a loaded machine); memory = "
           f"VmHWM of a fresh process that loads only that variant ({model_baseline})."), "",
           model_table(data["models"], memory_rows), "",
           "Face detector alone (640x480 frame, letterbox + network + decoding + NMS; `network` = interpreter call only):",
           "", detector_table(data["detector"]), ""]
    if data.get("pipeline"):
        out += ["Whole per-frame pipeline (`Estimator.estimate`: detect + crop + AU model; stage medians):", "",
                pipeline_table(data["pipeline"]), ""]
    edge = data.get("edge_process") or {}
    if edge:
        if "peak_mb" in edge:
            baseline = (f"baseline before loading, after importing {', '.join(edge['baseline_imports'])}"
                        if "baseline_imports" in edge else
                        "baseline before loading, after importing numpy, OpenCV and auedge.edge (no interpreter "
                        "yet: importing it counts in the peak)")
            out += [(f"Edge Estimator process with the `{edge.get('default_model')}` model, {edge.get('frames')} frames: "
                    f"peak RSS **{edge['peak_mb']:.1f} MB** (target < {edge.get('target_mb', 150):.0f} MB: "
                    f"{'met' if edge.get('under_target') else 'NOT met'}); {baseline}: "
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


def int8_summary(accuracy: list[tuple[Path, dict[str, Any]]], names: dict[Path, str] | None = None) -> list[str]:
    """The acceptance view: int8 vs float per bundle and occlusion, with the 0.01 F1 budget
    (``names``: what to call each result's bundle, the model added where one name holds several)."""
    rows = []
    names = names or {}
    for path, data in accuracy:
        ref = data["reference"]["row"]
        for occlusion, per_row in data["results"].items():
            if "int8" not in per_row:
                continue
            for au in data["task"]["aus"]:
                f, r = per_row["int8"][au], per_row[ref][au]
                drop = f.get("drop_vs_float") or {}
                metric = drop.get("metric", "f1")
                rows.append([names.get(path, data["bundle"]), occlusion, au, metric, r.get(metric), f.get(metric),
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

    _, what, _ = result_key(data)
    out = [f"### Daemon end to end: `{what}` ({data['created']}; raw: `{path.name}`)", "",
           (f"{data.get('video')}; the real `au-edge daemon` loop (detector, crop, AU model, smoothing, JSON-lines "
            f"sink), uncapped, each thread count pinned to as many cores; flip averaging "
            f"`{data.get('flip_average', 'bundle')}`; {_load(data)}."), "",
           render(data["runs"]), ""]
    from auedge.benchmarks.pipeline import TARGET_FPS_ONE_CORE, one_core_verdict, tracking_lines, verdict_line

    if data.get("tracked_over_every_frame") or data.get("motion_case"):
        out += [*tracking_lines(data), ""]
    verdict = one_core_verdict(data["runs"], data.get("target_pipeline_fps_one_core", TARGET_FPS_ONE_CORE))
    if verdict:
        line = verdict_line(verdict)
        line = line[0].upper() + line[1:] + "."
        stored = data.get("one_core_meets_target")
        if "one_core_verdict" not in data and stored is not None and bool(stored) != verdict["meets"]:
            line += (f" (This JSON's own verdict, `one_core_meets_target: {str(bool(stored)).lower()}`, was judged on "
                     "the typical frame rate, which is not a throughput.)")
        out += [line, ""]
    return out


PIPELINE_INTRO = ("`measured fps` = (frames - 1) / seconds from the first finished frame to the last: the throughput, "
                  "on which the 200 fps verdict is judged; `typical fps` = 1000 / median(loop - wait): what a typical "
                  "frame costs, not a sustained rate.")


def memory_section(path: Path, data: dict[str, Any]) -> list[str]:
    settings = data.get("settings") or {}
    if data.get("probe") == "estimator":
        what = (f"Edge Estimator process with the `{data['model']}` model on {data['backend']}, "
                f"{data.get('frames')} frames, {data.get('faces_per_frame')} face(s) per frame")
    else:
        what = f"`{Path(str(settings.get('path'))).name}` alone on {data['backend']}, {settings.get('runs')} runs"
    imports = ", ".join(data.get("baseline_imports") or []) or "not recorded"
    line = (f"{what}: peak RSS **{data['peak_mb']:.1f} MB**; baseline before loading {data['baseline_mb']:.1f} MB "
            f"(after importing {imports}); bare interpreter {data.get('python_start_mb', 0):.1f} MB")
    if "tensorflow_imported" in data:
        line += f"; `tensorflow` in sys.modules: **{data['tensorflow_imported']}**"
    return [f"### Memory: `{data['bundle']}` ({data['created']}; raw: `{path.name}`)", "",
            f"`{data.get('command')}`; {_load_now(data)}.", "", line + ".", ""]


def _load_now(data: dict[str, Any]) -> str:
    env = data.get("environment") or {}
    return f"load average {env.get('load_average')} when the result was written, on {env.get('cpu_count')} cores"


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


def _section(kind: str, path: Path, render: Any, *args: Any) -> list[str]:
    """One section, or one clear error naming the file when the JSON lacks what its kind needs."""
    try:
        return render(*args)
    except KeyError as exc:
        raise BenchmarkError(f"{path.name}: not a complete {kind} result (missing field {exc}); "
                             f"move it out of {path.parent} or re-run the benchmark") from None
    except (TypeError, ValueError, IndexError, AttributeError, StopIteration) as exc:
        raise BenchmarkError(f"{path.name}: not a readable {kind} result ({type(exc).__name__}: {exc}); "
                             f"move it out of {path.parent} or re-run the benchmark") from None


def shared_names(results: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, list[tuple[Path, dict[str, Any]]]]]:
    """Bundle names whose results come from more than one identified model: name -> model key ->
    results (key ``""``: results that do not record their model)."""
    by_name: dict[str, dict[str, list[tuple[Path, dict[str, Any]]]]] = {}
    for path, data in results:
        identity = model_identity(data)
        by_name.setdefault(str(data.get("bundle")), {}).setdefault(identity[0] if identity else "", []).append((path, data))
    return {name: models for name, models in by_name.items() if len([m for m in models if m]) > 1}


def model_label(items: list[tuple[Path, dict[str, Any]]]) -> str:
    """The fullest label among results of one model (some record more about it than others)."""
    labels = [identity[1] for _, data in items if (identity := model_identity(data))]
    return max(labels, key=len) if labels else "model not recorded"


def shared_names_section(shared: dict[str, dict[str, list[tuple[Path, dict[str, Any]]]]]) -> list[str]:
    if not shared:
        return []
    lines = ["## One bundle name, different models", "",
             ("These bundle folders were re-exported from a different training run under the same name, so their "
              "results below come from different models; each of their sections names its model. Results written "
              "before bundle fingerprints were recorded are identified by the training threshold they carry (with the "
              "training test figures where recorded); those that carry none cannot be attributed from the JSON alone "
              "(their creation times are listed)."), ""]
    for name, models in sorted(shared.items()):
        lines.append(f"- `{name}`: {len([m for m in models if m])} different models.")
        for key, items in sorted(models.items(), key=lambda kv: (kv[0] == "", min(d.get("created", "") for _, d in kv[1]))):
            files = ", ".join(f"`{path.name}` ({data.get('created')})" for path, data in
                              sorted(items, key=lambda item: item[1].get("created", "")))
            lines.append(f"  - {model_label(items) if key else 'model not recorded'}: {files}")
    return lines + [""]


def build_report(folder: Path, notes: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> str:
    latest = {key: value for key, value in latest_results(folder).items() if key[1].split(" ")[0] not in skip
              and key[1] not in skip}
    notes = notes or {}
    env = environment()
    lines = ["# AU-Edge benchmark report", "",
             (f"Generated {utc_now().isoformat(timespec='seconds')} by `python benchmarks/report.py` from the newest "
             "result of each script, bundle and model in this folder."), "",
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
    shared = shared_names(list(latest.values()))
    model_of = {path: model_label(items) if key else "not recorded in this result"
                for models in shared.values() for key, items in models.items() for path, _ in items}
    short = {path: (key[:19] if key.startswith("sha256 ") else key) or "model not recorded"
             for models in shared.values() for key, items in models.items() for path, _ in items}
    names = {path: f"{data['bundle']} [{short[path]}]" for path, data in latest.values() if path in short}

    def tagged(section: list[str], path: Path) -> list[str]:
        """A section of a shared name, with the model it measured under its title."""
        if path not in model_of:
            return section
        return section[:2] + [(f"**Model:** {model_of[path]}. Results under this name come from different models "
                               "(*One bundle name, different models*)."), ""] + section[2:]

    lines += shared_names_section(shared)
    for path, data in by_kind["accuracy"]:
        _section("accuracy", path, int8_summary, [(path, data)])  # refuse an incomplete file before rendering
    lines += int8_summary(by_kind["accuracy"], names)
    sections = [
        ("latency", "## Latency and memory", lambda path, data: latency_section(path, data, notes)),
        ("pipeline", "## Whole pipeline (daemon on a video)\n\n" + PIPELINE_INTRO, pipeline_section),
        ("memory", "## Memory probes (memory_probe.py run by hand)", memory_section),
        ("detection", "## Face detection (bare, masked, near and far)", detection_section),
        ("end_to_end", "## Accuracy through the whole device path (detector keypoints)", end_to_end_section),
        ("accuracy", "## Accuracy (variants vs float and labels)", lambda path, data: accuracy_section(path, data, notes)),
        ("int8probe", "## Why int8 is not faster here", int8probe_section),
        ("peers", "## Peers", peers_section),
    ]
    for kind, title, render in sections:
        if by_kind[kind]:
            lines += [title, ""]
            for path, data in by_kind[kind]:
                lines += tagged(_section(kind, path, render, path, data), path)
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
    try:
        text = build_report(folder, notes, tuple(args.skip))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else folder / REPORT_NAME
    atomic_write_text(out, text)
    print(text)
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
