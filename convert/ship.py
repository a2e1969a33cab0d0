"""``python -m auedge.convert.ship --bundle bundles/NAME``: make an exported bundle the package's default.

The default bundle is what a new user gets from ``pip install au-edge[edge]``: it must be small (the
int8 model, the fp32 model as its float reference, the detector, bundle.json; not the fp16, dynamic
and ONNX variants an exporter writes), it must say where it came from (bundle.json ``training``), and
it must be checkable on any machine without TensorFlow. So shipping:

1. copies the kept models and the detector with bundle.json listing only them (every sha256 as
   exported; the validation figures of each kept model stay);
2. runs the edge runtime (the device's whole path: detector, crop, model, flip averaging) on a few
   committed face images and records every output in ``reference_outputs.json``, with the
   tolerance each model is held to later (fp32 1e-4; int8 one output quantization step, since a
   different CPU's integer kernels may round one step apart);
3. writes all of it to a temporary folder beside the destination and renames it into place, so a
   failed step leaves the old default as it was.

``tests/core/test_default_bundle.py`` then checks the shipped bundle on every test run: hashes,
loading with TensorFlow blocked, and the recorded outputs.

When the runtime's own pixels change (e.g. the crop's sampling), the recorded outputs are re-recorded
in place, on the images they name, with nothing else touched::

    python -m auedge.convert.ship --rerecord            # edge/models/default/reference_outputs.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

KEEP_MODELS = ("int8", "fp32")
REFERENCE_FILE = "reference_outputs.json"
FP32_TOLERANCE = 1e-4
PACKAGE_DEFAULT = Path(__file__).resolve().parents[1] / "edge" / "models" / "default"
REFERENCE_IMAGES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "default_bundle"
MAX_BYTES = 1_572_864  # 1.5 MiB: the bound on the package data


class ShipError(ValueError):
    """A bundle that cannot become the default; the message says why and what to do."""


def slim_manifest(manifest: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """bundle.json with only the ``keep`` models (the default becomes the first kept one present)."""
    models = [m for m in manifest.get("models", []) if m.get("name") in keep]
    missing = [name for name in keep if name not in {m.get("name") for m in models}]
    if missing:
        raise ShipError(f"the bundle has no {missing[0]!r} model; export it with that format (convert/export.py)")
    if any(m.get("degraded") for m in models):
        raise ShipError("a kept model is marked degraded; a default bundle ships only models that passed validation")
    slim = dict(manifest)
    slim["models"] = models
    slim["default_model"] = keep[0]
    return slim


def tolerance_for(entry: Any) -> float:
    """How far a later run may differ from the recorded output: one quantization step for int8."""
    if entry.output_quant is not None and entry.precision == "int8":
        return float(entry.output_quant.scale) * 1.0001
    return FP32_TOLERANCE


def reference_outputs(bundle_dir: Path, images: list[Path]) -> dict[str, Any]:
    """Every kept model's outputs on ``images`` through the edge runtime, as JSON."""
    from auedge.edge.bundle import load_bundle
    from auedge.edge.estimator import Estimator, EstimatorOptions
    from auedge.edge.images_io import read_image_rgb

    bundle = load_bundle(bundle_dir)
    record: dict[str, Any] = {"images": [p.name for p in images], "flip_average": bundle.flip_average, "models": {}}
    for entry in bundle.models:
        estimator = Estimator.create_from_options(EstimatorOptions(bundle_path=bundle_dir, model=entry.name,
                                                                   num_threads=1))
        try:
            faces = []
            for path in images:
                result = estimator.estimate(read_image_rgb(path))
                faces.append([{"box": [round(float(v), 3) for v in f.box], "aus": {k: float(v) for k, v in f.aus.items()},
                               "observable": dict(f.observable)} for f in result.faces])
        finally:
            estimator.close()
        if not any(faces):
            raise ShipError(f"model {entry.name} found no face in {REFERENCE_IMAGES}; the reference would check nothing")
        record["models"][entry.name] = {"tolerance": tolerance_for(entry), "faces": faces}
    return record


def package_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def ship(source: Path, dest: Path, images_dir: Path = REFERENCE_IMAGES, keep: tuple[str, ...] = KEEP_MODELS,
         extra_files: tuple[Path, ...] = ()) -> Path:
    """Make ``source`` (an exported bundle) the bundle at ``dest``; returns ``dest``."""
    from auedge.edge.bundle import BundleError, load_bundle_with_detector

    try:
        bundle = load_bundle_with_detector(source)
    except BundleError as exc:
        raise ShipError(str(exc)) from exc
    images = sorted(p for p in images_dir.glob("*.png"))
    if not images:
        raise ShipError(f"no reference images (*.png) in {images_dir}")
    slim = slim_manifest(bundle.manifest, keep)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        stage.chmod(0o755)  # mkdtemp's 0700 would hide the package data from other users
        for entry in bundle.models:
            if entry.name in keep:
                shutil.copy2(entry.path, stage / entry.path.name)
        shutil.copy2(bundle.face_detector.path, stage / bundle.face_detector.path.name)
        (stage / "bundle.json").write_text(json.dumps(slim, indent=2) + "\n", encoding="utf-8")
        for extra in extra_files:
            shutil.copy2(extra, stage / extra.name)
        reference = reference_outputs(stage, images)
        (stage / REFERENCE_FILE).write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
        size = package_bytes(stage)
        if size > MAX_BYTES:
            raise ShipError(f"the default bundle would be {size / 2**20:.2f} MiB, over {MAX_BYTES / 2**20:.1f} MiB; "
                            "ship fewer models or a smaller architecture")
        keep_files = {"__init__.py"}
        old = dest.with_name(f".{dest.name}.old")
        if dest.exists():
            for name in keep_files & {p.name for p in dest.iterdir()}:
                shutil.copy2(dest / name, stage / name)
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        stage.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return dest


def rerecord(dest: Path, images_dir: Path = REFERENCE_IMAGES) -> Path:
    """Record ``dest``'s outputs again on the images its ``reference_outputs.json`` names; only that
    file changes (written beside it, then renamed). Returns its path."""
    target = dest / REFERENCE_FILE
    try:
        names = json.loads(target.read_text(encoding="utf-8"))["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ShipError(f"{target} has no readable image list ({exc}); ship the bundle again with --bundle") from None
    images = [images_dir / name for name in names]
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise ShipError(f"reference image {missing[0]} not found; pass --images to the folder that holds them")
    from auedge.edge.atomic_io import write_atomic

    return write_atomic(target, json.dumps(reference_outputs(dest, images), indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auedge.convert.ship", description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--bundle", type=Path, help="an exported bundle (convert/export.py --out)")
    what.add_argument("--rerecord", action="store_true",
                      help=f"only record --out's {REFERENCE_FILE} again, on the images it names")
    parser.add_argument("--out", type=Path, default=PACKAGE_DEFAULT, help=f"destination (default {PACKAGE_DEFAULT})")
    parser.add_argument("--images", type=Path, default=REFERENCE_IMAGES, help="reference face images (*.png)")
    parser.add_argument("--with", dest="extra", type=Path, action="append", default=[],
                        help="another file to ship beside the bundle (e.g. MODEL_CARD.md)")
    args = parser.parse_args(argv)
    try:
        if args.rerecord:
            print(f"recorded: {rerecord(args.out, args.images)}")
            return 0
        for extra in args.extra:
            if not extra.is_file():
                raise ShipError(f"{extra} not found")
        dest = ship(args.bundle, args.out, args.images, extra_files=tuple(args.extra))
    except (ShipError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"default bundle: {dest} ({package_bytes(dest) / 2**20:.2f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
