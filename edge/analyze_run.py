"""``au-edge analyze``'s run: which inputs, which are done, and each input through :func:`stream`.

Inputs are what the daemon reads (``video:PATH``, ``images:DIR``, ``camera:N``, ``picamera2``)
or plain paths: a video file; a folder of videos (each, in name order); a folder with no video
but images (one frame sequence, as ``images:DIR``). Each input gives ``NAME.csv``, ``NAME.png``
and ``NAME.summary.json`` in the output folder, each written whole or not at all, the summary
last: an input counts as done only when its summary says so and names the same input (size and
modification time) and settings, so a run stopped half-way resumes where it stopped and a
changed file or setting is analysed again. Frames are never written.

An input that cannot be read is one line on stderr naming it, and the others go on; the exit
code then says that something failed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from auedge.edge.analyze import TableWriter, panel_note, summarize, summary_lines, write_summary
from auedge.edge.atomic_io import atomic_writer, write_atomic
from auedge.edge.smoothing import SmoothingOptions
from auedge.edge.sources import SourceError, parse_source_uri
from auedge.edge.sources.images_source import IMAGE_SUFFIXES
from auedge.edge.streaming import StreamOptions, open_stream_source, stream

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".mjpeg", ".mjpg",
                  ".3gp", ".ts", ".mts"}
SUMMARY_SUFFIX = ".summary.json"
SCHEMA = 1


@dataclass
class Input:
    """One thing to analyse: its source URI, the name its outputs take, and what makes it the same input."""

    uri: str
    name: str
    live: bool = False
    error: str = ""  # set when the argument itself is unusable (the line to print)

    def fingerprint(self) -> dict[str, Any] | None:
        """Size and modification time of the file (of each file, for a folder); None for a camera."""
        if self.live:
            return None
        _, target, _ = parse_source_uri(self.uri)
        path = Path(target)
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        stats = [p.stat() for p in files if p.exists()]
        return {"path": str(path.resolve()), "files": len(stats), "bytes": sum(s.st_size for s in stats),
                "mtime_ns": max((s.st_mtime_ns for s in stats), default=0)}


def _name(scheme: str, target: str) -> str:
    if scheme in ("camera", "picamera2"):
        return f"{scheme}{target}"
    path = Path(target.rstrip("/"))
    return (path.name if scheme == "images" else path.stem) or scheme


def expand(argument: str) -> list[Input]:
    """The inputs one command-line argument stands for (see the module's docstring)."""
    path = Path(argument)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        if videos:
            return [Input(f"video:{p}", p.stem) for p in videos]
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
            return [Input(f"images:{path}", _name("images", str(path)))]
        return [Input("", path.name, error=f"{path}: no video or image file in this folder (looked for "
                      f"{' '.join(sorted(VIDEO_SUFFIXES))})")]
    if path.exists() or ":" not in argument:
        return [Input(f"video:{path}", path.stem)]  # a missing file fails at open, with the source's words
    try:
        scheme, target, query = parse_source_uri(argument)
    except ValueError as exc:
        return [Input("", argument, error=str(exc))]
    if query.get("loop", "0").strip().lower() not in {"0", "false", "no", "off", ""}:
        return [Input("", argument, error=f"{argument}: loop= would make the input endless; analyze reads it once "
                      "(drop loop=)")]
    return [Input(argument, _name(scheme, target), live=scheme in ("camera", "picamera2"))]


def plan(arguments: list[str]) -> list[Input]:
    """Every input in order; a second input whose outputs would take an earlier one's name is refused."""
    inputs, owners = [], {}
    for argument in arguments:
        for item in expand(argument):
            if not item.error and item.name in owners:
                item.error = (f"{item.uri}: its outputs would overwrite those of {owners[item.name]} ({item.name}.csv): "
                              "analyse it into another --out folder")
            owners.setdefault(item.name, item.uri)
            inputs.append(item)
    return inputs


@dataclass
class AnalyzeOptions:
    out_dir: Path
    force: bool = False
    max_frames: int = 0
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    settings: dict[str, Any] = field(default_factory=dict)  # what a done input must have been made with
    run_info: dict[str, Any] = field(default_factory=dict)  # how it ran (threads, backend): reported only
    progress: bool = True


def outputs(out_dir: Path, name: str) -> dict[str, Path]:
    return {"csv": out_dir / f"{name}.csv", "png": out_dir / f"{name}.png", "summary": out_dir / f"{name}{SUMMARY_SUFFIX}"}


def done_already(item: Input, options: AnalyzeOptions) -> str:
    """Why ``item`` need not run again ("" when it must): complete outputs of the same input and settings."""
    if options.force or item.live:
        return ""
    paths = outputs(options.out_dir, item.name)
    try:
        summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not (paths["csv"].is_file() and paths["png"].is_file()) or summary.get("schema") != SCHEMA:
        return ""
    if summary.get("input", {}).get("fingerprint") != item.fingerprint() or summary.get("settings") != options.settings:
        return ""
    return f"{item.name}: done already ({paths['summary']}); --force analyses it again"


class Progress:
    """Frames done, rate and time left on stderr: redrawn in place on a terminal, a line a minute otherwise."""

    def __init__(self, name: str, total: int | None, enabled: bool, err: TextIO) -> None:
        self.name, self.total, self.err = name, total, err
        self.tty = enabled and err.isatty()
        self.enabled = enabled
        self.start = self.last = time.monotonic()
        self.interval = 0.5 if self.tty else 60.0

    def update(self, frames: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < self.interval:
            return
        self.last = now
        rate = frames / max(now - self.start, 1e-9)
        of = f"/{self.total} ({100 * frames / self.total:.0f} %)" if self.total else ""
        left = f", {(self.total - frames) / rate / 60:.1f} min left" if self.total and rate > 0 else ""
        line = f"{self.name}: {frames}{of} frames, {rate:.1f} fps{left}"
        print(f"\r{line}\033[K" if self.tty else line, end="" if self.tty else "\n", file=self.err, flush=True)

    def close(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=self.err, flush=True)


def analyze_input(item: Input, estimator: Any, options: AnalyzeOptions, err: TextIO) -> dict[str, Any]:
    """Analyse one input into its three files; returns the summary. Raises SourceError (and
    KeyboardInterrupt) with nothing written; a camera stopped by Ctrl-C is finished first."""
    from auedge.edge.timeline import draw_timeline, encode_png

    paths = outputs(options.out_dir, item.name)
    fingerprint = item.fingerprint()  # before reading: a file still growing is not taken for its later self
    source = open_stream_source(item.uri, pace=False)  # SourceError: the caller prints one line
    au_names = tuple(estimator.bundle.reported_aus)
    progress = Progress(item.name, source.frame_count, options.progress, err)
    started, cpu_started = time.perf_counter(), time.process_time()
    ended = "end of input"
    try:
        with atomic_writer(paths["csv"]) as handle:
            table = TableWriter(handle, au_names)
            results = stream(source, StreamOptions(smoothing=options.smoothing, max_frames=options.max_frames),
                             estimator=estimator)
            try:
                for count, result in enumerate(results, 1):
                    table.add(result)
                    progress.update(count)
            except KeyboardInterrupt:
                if not item.live:
                    raise
                ended = "stopped (Ctrl-C)"
            finally:
                results.close()
            if table.frames == 0:  # inside the block: the empty CSV is removed, never renamed into place
                raise SourceError(f"{item.uri}: no frame could be read")
    finally:
        progress.close()
        source.close()
    wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    rec = table.recording()
    bundle = estimator.bundle
    thresholds = {au: bundle.threshold(au) for au in au_names}
    summary = {"schema": SCHEMA, "input": {"uri": item.uri, "fingerprint": fingerprint, "ended": ended,
                                           "container_frames": source.frame_count},
               "settings": options.settings, **summarize(rec, thresholds)}
    summary["processing"] = {**options.run_info, "wall_s": round(wall_s, 3),
                             "fps": round(rec.frames / wall_s, 2) if wall_s > 0 else None,
                             # CPU seconds of this process: the cost, whatever else shares the cores
                             "cpu_s": round(cpu_s, 3), "frames_per_cpu_s": round(rec.frames / cpu_s, 2) if cpu_s > 0 else None,
                             "detector_share": round(table.detector_runs / rec.frames, 4)}
    summary["outputs"] = {key: path.name for key, path in paths.items()}
    picture = draw_timeline(rec, thresholds, {o.au: o.range for o in bundle.outputs},
                            title=f"{item.name}: {rec.frames} frames, {summary['duration_s']:.1f} s ({item.uri})",
                            notes={au: panel_note(stats) for au, stats in summary["aus"].items()})
    write_atomic(paths["png"], encode_png(picture))
    write_summary(paths["summary"], summary)  # last: its presence means the input is done
    return summary


@dataclass
class Outcome:
    """What a run did: inputs that failed, that are done (now or before), and whether Ctrl-C ended it
    (``interrupted``: an input was left unfinished; ``left``: inputs not started)."""

    failed: int = 0
    done: int = 0
    interrupted: bool = False
    left: int = 0


def run_all(arguments: list[str], estimator: Any, options: AnalyzeOptions, out: TextIO, err: TextIO) -> Outcome:
    """Analyse every input in order, one line per failure, a few lines of summary per success.

    Ctrl-C ends the run: a file being analysed is left with no output (the next run redoes it); a
    camera being analysed is finished (that is how its recording ends) and the run stops there."""
    outcome = Outcome()
    inputs = plan(arguments)
    for position, item in enumerate(inputs):
        if item.error:
            print(f"au-edge analyze: error: {item.error}", file=err, flush=True)
            outcome.failed += 1
            continue
        reason = done_already(item, options)
        if reason:
            print(reason, file=out, flush=True)
            outcome.done += 1
            continue
        try:
            summary = analyze_input(item, estimator, options, err)
        except KeyboardInterrupt:
            print(f"au-edge analyze: interrupted: {item.name} not finished, nothing written for it; the same "
                  "command resumes", file=err, flush=True)
            outcome.interrupted, outcome.left = True, len(inputs) - position - 1
            return outcome
        except (SourceError, OSError, ValueError) as exc:
            print(f"au-edge analyze: error: {exc}", file=err, flush=True)
            outcome.failed += 1
            continue
        outcome.done += 1
        processing = summary["processing"]
        for line in summary_lines(item.name, summary):
            print(line, file=out)
        names = ", ".join(summary["outputs"].values())
        print(f"  {processing['wall_s']:.1f} s wall, {processing['fps']} fps ({processing['cpu_s']:.1f} s CPU, "
              f"{processing['frames_per_cpu_s']} frames per CPU second) -> {options.out_dir}/: {names}",
              file=out, flush=True)
        if summary["input"]["ended"] != "end of input":  # a camera stopped with Ctrl-C: stop the run too
            outcome.left = len(inputs) - position - 1
            return outcome
    return outcome
