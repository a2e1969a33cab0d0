"""``au-edge``: run a bundle on images, inspect a bundle, or start the daemon.

    au-edge infer [--bundle B] [--model int8] [--backend auto] [--threads 1] [--max-pixels N] [--json] IMAGE...
    au-edge bundle-info [B]
    au-edge analyze [--out DIR] [--bundle B] [--threads 1] [--force] VIDEO_OR_FOLDER...
    au-edge daemon ...            (see ``au-edge daemon --help``)

With no bundle given, each runs the default bundle shipped in the package (or
``$AUEDGE_DEFAULT_BUNDLE``, see :mod:`auedge.edge.default_bundle`) and says so on stderr.

Exit codes: 0 success, 1 some images or inputs failed (the others are still reported), 2 unusable bundle,
model or arguments, 141 (128 + SIGPIPE, what ``cat`` or ``grep`` give) when the reader of the output
went away early, as in ``au-edge infer ... | head -1``: no traceback, the rest is not written;
130 when ``analyze`` was stopped with Ctrl-C before its inputs were done (the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE
EXIT_INTERRUPTED = 128 + 2  # SIGINT


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="au-edge", description="Facial Action Units on small devices.")
    sub = parser.add_subparsers(dest="command", required=True)

    infer = sub.add_parser("infer", help="estimate AUs on image files")
    _add_runtime_flags(infer)
    infer.add_argument("--max-pixels", type=int, default=None, metavar="N",
                       help="refuse images larger than N pixels, from their header, before decoding "
                            "(default 50000000; 0 = no limit)")
    infer.add_argument("--json", action="store_true", help="one JSON object per image and line")
    infer.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    _add_analyze_parser(sub)

    info = sub.add_parser("bundle-info", help="show a bundle's models and validation, verify hashes")
    info.add_argument("bundle", type=Path, nargs="?", default=None,
                      help="bundle folder (default: the bundle shipped in the package)")

    daemon = sub.add_parser("daemon", help="run the camera daemon (arguments go to the daemon)", add_help=False)
    daemon.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every command that runs the estimator takes (infer, analyze)."""
    parser.add_argument("--bundle", default=None, help="bundle folder (holds bundle.json); default: the bundle "
                        "shipped in the package")
    parser.add_argument("--model", default=None, help="model name in the bundle, or 'fastest' to time each here and "
                        "keep the quickest (default: the bundle's default)")
    parser.add_argument("--backend", default="auto", help="auto, litert, tflite-runtime, onnxruntime, tensorflow")
    parser.add_argument("--threads", type=int, default=1, help="interpreter and OpenCV threads (default 1)")
    parser.add_argument("--score-threshold", type=float, default=None, help="face detector score threshold")
    parser.add_argument("--max-faces", type=int, default=10)
    parser.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                        help="average with the mirrored crop (default: as the bundle was validated)")
    parser.add_argument("--detect-region", default="", metavar="X,Y,W,H",
                        help="search faces only there (fractions of the image, e.g. 0.25,0.1,0.5,0.6)")


def _add_analyze_parser(sub) -> None:
    analyze = sub.add_parser(
        "analyze", help="recorded videos -> a per-frame CSV, a timeline PNG and a summary per input",
        description="Analyse recordings: per input a CSV with one row per frame and face, a PNG timeline of each AU "
                    "and a summary JSON, in --out. Every frame is read, as fast as decoding allows; timestamps are "
                    "the recording's own. Inputs already done are skipped (--force redoes them).")
    _add_runtime_flags(analyze)
    analyze.add_argument("--out", type=Path, default=Path("au-edge-analysis"), metavar="DIR",
                         help="output folder (default ./au-edge-analysis)")
    analyze.add_argument("--force", action="store_true", help="analyse inputs whose outputs are already complete")
    analyze.add_argument("--max-frames", type=int, default=0, metavar="N",
                         help="stop each input after N frames (0 = all; a camera runs until Ctrl-C)")
    analyze.add_argument("--tracking", action=argparse.BooleanOptionalAction, default=True,
                         help="run the detector only when the picture changed, keeping face ids (default on, as "
                              "the daemon); --no-tracking detects every frame")
    analyze.add_argument("--smoothing", choices=("one_euro", "ema", "none"), default="one_euro",
                         help="how the *_smoothed columns are smoothed per face (default one_euro, as the daemon)")
    analyze.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                         help="show frames done and time left on stderr (in place on a terminal)")
    analyze.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER",
                         help="a video, a folder of videos (or of images: one frame sequence), or a daemon source "
                              "such as video:clip.mp4, images:frames/?fps=30, camera:0")


def _human_size(num_bytes: int) -> str:
    if num_bytes < 1024:
        return f"{num_bytes} B"
    if num_bytes < 1024 * 1024:
        return f"{num_bytes / 1024:.0f} KiB"
    return f"{num_bytes / 1024 / 1024:.1f} MiB"


def _format_face_row(path: str, index: int, face: dict[str, Any]) -> str:
    x, y, w, h = face["box"]
    aus = "  ".join(
        f"{name}={value:.3f}" + ("*" if face.get("present", {}).get(name) else "") for name, value in face["aus"].items()
    )
    return f"{path}  face {index}  score {face['score']:.2f}  box {x:.0f},{y:.0f},{w:.0f}x{h:.0f}  {aus}"


def _load_estimator(args: argparse.Namespace, tracking: Any = None, what: str = "real photos") -> Any:
    """The estimator the runtime flags ask for (BundleError, BackendError or ValueError when it cannot be
    made); says on stderr which bundle answers."""
    from auedge.edge.bundle import BundleError
    from auedge.edge.default_bundle import choose_bundle
    from auedge.edge.estimator import Estimator, EstimatorOptions, size_opencv_threads
    from auedge.edge.face_detector import parse_region
    from auedge.edge.provenance import warn_if_synthetic_only

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1 (got {args.threads})")
    size_opencv_threads(args.threads)
    choice = choose_bundle(args.bundle)
    estimator = Estimator.create_from_options(
        EstimatorOptions(
            detect_region=parse_region(args.detect_region),
            bundle_path=choice.path,
            model=args.model,
            backend=args.backend,
            num_threads=args.threads,
            score_threshold=args.score_threshold,
            max_faces=args.max_faces,
            flip_average=args.flip_average,
            tracking=tracking,
        )
    )
    if estimator.detector is None:
        estimator.close()
        raise BundleError(f"bundle {choice.path} has no face detector; re-export it with one")
    print(f"au-edge: {choice.describe(estimator.bundle)}", file=sys.stderr)
    warn_if_synthetic_only(estimator.bundle.manifest, str(estimator.bundle.root), what)
    return estimator


def _infer(args: argparse.Namespace, out: TextIO) -> int:
    from auedge.edge.backends import BackendError
    from auedge.edge.bundle import BundleError
    from auedge.edge.images_io import DEFAULT_MAX_PIXELS, ImageReadError, read_image_rgb

    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels
    if max_pixels < 0:
        return _error(f"--max-pixels must be >= 0 (got {max_pixels}); 0 means no limit")
    try:
        estimator = _load_estimator(args)
    except (BundleError, BackendError, ValueError) as exc:
        return _error(str(exc))

    failed = 0
    if not args.json:
        print(f"# model {estimator.model.name} ({estimator.model.format}, {estimator.model.precision}) "
              f"on {estimator.backend.name}; * = present", file=out)
        if estimator.bundle.task_kind == "occurrence":
            print("# values: the probability that each AU is present (occurrence), not a FACS intensity", file=out)
        if estimator.model_choice is not None:
            print(f"# {estimator.model_choice.summary()}", file=out)
    for path in args.images:
        try:
            result = estimator.estimate(read_image_rgb(path, max_pixels, "--max-pixels"))
        except (ImageReadError, ValueError) as exc:
            failed += 1
            if args.json:
                print(json.dumps({"path": str(path), "error": str(exc)}), file=out, flush=True)
            else:
                print(f"{path}  error: {exc}", file=out, flush=True)
            continue
        record = {"path": str(path), **result.to_dict()}
        if args.json:
            print(json.dumps(record), file=out, flush=True)
        elif not record["faces"]:
            print(f"{path}  no face found  ({record['timings_ms']['total']:.1f} ms)", file=out, flush=True)
        else:
            for i, face in enumerate(record["faces"]):
                print(_format_face_row(str(path), i, face), file=out, flush=True)
    if failed:
        print(f"error: {failed} of {len(args.images)} images could not be read", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _analyze(args: argparse.Namespace, out: TextIO) -> int:
    """Each input through the daemon's pipeline into its CSV, PNG and summary (auedge.edge.analyze_run)."""
    from auedge.edge.analyze_run import AnalyzeOptions, run_all
    from auedge.edge.backends import BackendError
    from auedge.edge.bundle import BundleError, sha256_file
    from auedge.edge.smoothing import SmoothingOptions
    from auedge.edge.tracking import TrackingOptions

    if args.max_frames < 0:
        return _error(f"--max-frames must be >= 0 (got {args.max_frames}); 0 means every frame")
    try:
        estimator = _load_estimator(args, TrackingOptions(enabled=args.tracking), "recordings")
    except (BundleError, BackendError, ValueError) as exc:
        return _error(str(exc))
    bundle = estimator.bundle
    # What an input's outputs were made with: a done input made otherwise is analysed again.
    settings = {"bundle": bundle.manifest.get("name") or bundle.root.name,
                "bundle_sha256": sha256_file(bundle.root / "bundle.json"), "model": estimator.model.name,
                "flip_average": estimator.flip_average, "tracking": args.tracking, "smoothing": args.smoothing,
                "score_threshold": args.score_threshold, "max_faces": args.max_faces,
                "detect_region": args.detect_region, "max_frames": args.max_frames}
    options = AnalyzeOptions(out_dir=args.out, force=args.force, max_frames=args.max_frames,
                             smoothing=SmoothingOptions(method=args.smoothing), settings=settings,
                             run_info={"threads": args.threads, "backend": estimator.backend.name}, progress=args.progress)
    print(f"au-edge: model {estimator.model.name} on {estimator.backend.name}, {args.threads} thread(s); "
          f"outputs in {args.out}", file=sys.stderr)
    try:
        outcome = run_all(args.inputs, estimator, options, out, sys.stderr)
    except KeyboardInterrupt:  # between inputs (an input's own Ctrl-C is handled by run_all)
        print("au-edge analyze: interrupted; the same command resumes", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        estimator.close()
    if outcome.interrupted or outcome.left:
        print(f"au-edge analyze: stopped by Ctrl-C; {outcome.left} input(s) not started", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.failed:
        print(f"au-edge analyze: error: {outcome.failed} of {outcome.failed + outcome.done} input(s) failed "
              "(each named above)", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _bundle_info(args: argparse.Namespace, out: TextIO) -> int:
    from auedge.edge.bundle import BundleError, load_bundle
    from auedge.edge.default_bundle import choose_bundle
    from auedge.edge.provenance import Provenance

    try:
        choice = choose_bundle(args.bundle)
        bundle = load_bundle(choice.path, check_hash=True)
    except BundleError as exc:
        return _error(str(exc))
    if choice.is_default:
        print(f"au-edge: {choice.describe(bundle)}", file=sys.stderr)
    manifest = bundle.manifest
    print(f"bundle   {manifest.get('name') or bundle.root.name} at {bundle.root}  (schema {manifest.get('schema_version')}, "
          f"created {manifest.get('created', '?')})", file=out)
    print(f"task     {bundle.task_name or '?'} ({bundle.task_kind}): {', '.join(bundle.au_names)}", file=out)
    print(f"trained  on {Provenance.from_manifest(manifest).summary()}", file=out)
    for spec in bundle.outputs:
        extra = f" threshold {spec.threshold:.4g}" if spec.threshold is not None else ""
        print(f"  output {spec.index}: {spec.au} {spec.kind} range {list(spec.range)}{extra}: {spec.value_meaning}",
              file=out)
    norm = bundle.normalization
    print(f"input    {bundle.input_size[0]}x{bundle.input_size[1]} {norm.color} {norm.pixel_range[0]}-{norm.pixel_range[1]}, "
          f"mean {list(norm.mean)} std {list(norm.std)}, crop {bundle.crop.to_dict()}", file=out)
    if bundle.face_detector:
        det = bundle.face_detector
        print(f"detector {det.path.name} ({det.kind}, {_human_size(det.path.stat().st_size)}, "
              f"score >= {det.score_threshold}, nms iou {det.nms_iou})", file=out)
        try:
            print(f"      loads: {_check_detector_here(bundle)}", file=out)
        except BundleError as exc:
            return _error(str(exc))
    else:
        print("detector none (infer and daemon need one)", file=out)
    print("models", file=out)
    for model in bundle.models:
        default = " (default)" if model.name == bundle.default_model else ""
        degraded = " DEGRADED" if model.degraded else ""
        size = _human_size(model.path.stat().st_size)
        print(f"  {model.name}{default}: {model.path.name} {model.format} {model.precision} {size}{degraded}",
              file=out)
        for key, value in model.validation.items():
            shown = f"{value:.4g}" if isinstance(value, float) else json.dumps(value)
            print(f"      {key}: {shown}", file=out)
        try:
            print(f"      loads: {_check_model_here(bundle, model)}", file=out)
        except BundleError as exc:
            return _error(str(exc))
    print("hashes   ok (every file matches its sha256)", file=out)
    return EXIT_OK


def _check_model_here(bundle: Any, model: Any) -> str:
    """Load ``model`` with the interpreter ``auto`` picks and run the Estimator's load checks.

    A bad output index or quantization dtype is an error here too, not first at a face. A model
    that no installed interpreter runs is only noted: bundles carry formats for other devices.
    """
    from auedge.edge.backends import BackendError, create_backend, missing_interpreter
    from auedge.edge.bundle import BundleError
    from auedge.edge.estimator import check_model

    missing = missing_interpreter(model.path)
    if missing:
        return f"not checked here ({missing})"
    try:  # the interpreter is installed: a file it refuses would make infer and the daemon refuse too
        backend = create_backend(model.path, "auto", 1)
    except BackendError as exc:
        raise BundleError(f"model {model.name}: {exc}") from None
    try:
        check_model(bundle, model, backend)
    finally:
        backend.close()
    return f"ok on {backend.name} (input, output indices and quantization match bundle.json)"


def _check_detector_here(bundle: Any) -> str:
    """Create the face detector as ``infer`` and the daemon do (kind, file, output shapes), or say why not here."""
    from auedge.edge.backends import BackendError, missing_interpreter
    from auedge.edge.bundle import BundleError
    from auedge.edge.estimator import Estimator, EstimatorOptions

    missing = missing_interpreter(bundle.face_detector.path)
    if missing:
        return f"not checked here ({missing})"
    try:
        detector = Estimator._create_detector(EstimatorOptions(bundle_path=bundle.root), bundle)  # the runtime's own set-up
    except (BackendError, ValueError) as exc:
        raise BundleError(f"face detector: {exc}") from None
    detector.backend.close()
    return f"ok on {detector.backend.name} (input and outputs of a {detector.kind} BlazeFace)"


def _daemon(argv: list[str]) -> int:
    try:
        from auedge.edge.daemon import main as daemon_main
    except ImportError as exc:
        return _error(f"the daemon is not available in this installation ({exc}); update au-edge")
    return int(daemon_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "daemon":
        return _daemon(argv[1:])  # the daemon parses its own flags, --help included
    args = _build_parser().parse_args(argv)
    # Warnings (a synthetic-only bundle on photos) as one prefixed line; a no-op where logging is set up.
    logging.basicConfig(level=logging.WARNING, format="au-edge: %(levelname)s: %(message)s")
    commands = {"infer": _infer, "analyze": _analyze, "bundle-info": _bundle_info}
    if args.command not in commands:
        return _error(f"unknown command {args.command}")
    try:
        code = commands[args.command](args, sys.stdout)
        sys.stdout.flush()  # here, so that a closed pipe shows up inside this try
    except BrokenPipeError:
        return _stdout_gone()
    return code


def _stdout_gone() -> int:
    """The reader of stdout has gone (``| head -1``): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so that Python's own flush at exit cannot raise again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file behind sys.stdout (tests, embedding): nothing to redirect
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
