"""The arm64 side of scripts/arm64-check.sh: runs inside the emulated Pi system (and on the host for the reference).

Stdlib plus the installed ``auedge`` only, because it runs with the venv that README-pi.md makes.

    python arm64_device.py measure --stage DIR --out FILE   # every model of the bundle on the staged images
    python arm64_device.py daemon  --stage DIR --out DIR    # au-edge daemon on the video and on picamera2

``measure`` keeps full float precision (``au-edge infer --json`` rounds to 4 decimals, too coarse for a
1e-4 parity bound); the check also holds the CLI's own output against these values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on now (the arm64 system shares the host's network)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _platform() -> dict[str, str]:
    import numpy

    import auedge

    return {"machine": platform.machine(), "python": platform.python_version(), "libc": "-".join(platform.libc_ver()),
            "numpy": numpy.__version__, "numpy_from": numpy.__file__, "auedge": auedge.__version__,
            "qemu_cpu": os.environ.get("QEMU_CPU", "")}


def measure(stage: Path, out: Path, reference: Path | None) -> None:
    """Each model of the staged bundle on each staged image: faces with unrounded box, score and AU values.

    ``same_crop``: the AU model's values on the very crops the reference (x86) run cut, shipped beside its
    JSON as ``<out>.crops.npz``; without ``reference`` this run writes them. They isolate the interpreter's
    numerics from OpenCV's (whose versions and SIMD paths differ between the machines).
    """
    import numpy as np
    from auedge.edge.align import align_points
    from auedge.edge.estimator import Estimator, check_model
    from auedge.edge.images_io import read_image_rgb

    plan = json.loads((stage / "stage.json").read_text(encoding="utf-8"))
    crops_file = Path(f"{reference or out}.crops.npz")
    ref_crops = dict(np.load(crops_file)) if reference else {}
    own_crops = {}
    results = {"platform": _platform(), "models": []}
    for model in plan["models"]:
        est = Estimator.from_bundle(stage / "bundle", model=model["name"], backend="auto", num_threads=1)
        _, output_quant = check_model(est.bundle, est.model, est.backend)
        images = []
        for name in plan["images"]:
            image = read_image_rgb(stage / "images" / name)
            result = est.estimate(image)
            faces = [{"box": [float(v) for v in f.box], "score": float(f.score), "keypoints": f.keypoints,
                      "aus": {k: float(v) for k, v in f.aus.items()}} for f in result.faces]
            key = f"{model['name']}/{name}"
            if reference:
                crops = ref_crops[key]
            else:
                crops = np.stack([align_points(image, f["keypoints"], est.bundle.crop)[0] for f in faces]) \
                    if faces else np.zeros((0, *est.bundle.input_size, 3), np.uint8)
                own_crops[key] = crops
            same_crop = est.estimate_aligned(crops).tolist()
            images.append({"image": name, "faces": faces, "same_crop": same_crop})
        results["models"].append({
            "name": model["name"], "precision": est.model.precision, "format": est.model.format,
            "backend": est.backend.name, "detector_backend": est.detector.backend.name if est.detector else None,
            "output_step": float(output_quant.scale) if output_quant is not None else None, "images": images,
        })
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not reference:
        np.savez(crops_file, **own_crops)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def _run_daemon(args: list[str], env: dict[str, str], http_port: int | None, timeout_s: float) -> dict:
    """Run ``au-edge daemon``; while it runs, read /healthz, /latest and /metrics once each has something."""
    exe = str(Path(sys.executable).with_name("au-edge"))
    start = time.monotonic()
    proc = subprocess.Popen([exe, "daemon", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    http: dict[str, object] = {}
    base = f"http://127.0.0.1:{http_port}"
    while http_port and proc.poll() is None and time.monotonic() - start < timeout_s:
        if "latest" not in http:
            status, body = _get(base + "/latest")
            if status == 200:
                http["latest"] = json.loads(body)
                http["healthz_status"], http["healthz"] = _get(base + "/healthz")
                metrics = _get(base + "/metrics")[1]
                http["metrics_frames"] = [line for line in metrics.splitlines()
                                          if line.startswith("au_edge_frames")]
                break
        time.sleep(0.1)
    try:
        output, _ = proc.communicate(timeout=max(1.0, timeout_s - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        return {"exit": "timeout", "log_tail": output.splitlines()[-15:], "http": http}
    return {"exit": proc.returncode, "seconds": round(time.monotonic() - start, 1),
            "log_tail": output.splitlines()[-15:], "http": http}


def daemon(stage: Path, out: Path) -> None:
    """The daemon on the video (JSONL + HTTP), then on the fake picamera2 (main RGB888 stream, then lores YUV420)."""
    plan = json.loads((stage / "stage.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    frames = plan["daemon_frames"]
    common = ["--bundle", str(stage / "bundle"), "--debug-max-frames", str(frames), "--target-fps", "0",
              "--threads", "1", "--log-level", "INFO"]
    env = dict(os.environ)
    runs = {}
    width, height = plan["camera_size"]
    lores_w, lores_h = plan["lores_size"]
    cases = {
        "video": (f"video:{stage / plan['video']}?loop=1&fps=5", True),
        "picamera2": (f"picamera2:0?size={width}x{height}&fps=10", False),
        "picamera2_lores": (f"picamera2?lores=1&size={lores_w}x{lores_h}&main_size={width}x{height}", False),
    }
    for name, (source, http) in cases.items():
        jsonl = out / f"daemon-{name}.jsonl"
        jsonl.unlink(missing_ok=True)
        env["AU_EDGE_FAKE_PICAMERA2_LOG"] = str(out / f"picamera2-calls-{name}.jsonl")
        flags = ["--source", source, "--jsonl-path", str(jsonl), "--device", f"arm64-check-{name}"]
        port = free_port() if http else None
        flags += ["--http-enabled", "--http-port", str(port)] if http else ["--no-http-enabled"]
        run = _run_daemon(common + flags, env, http_port=port, timeout_s=plan["daemon_timeout_s"])
        run["records"] = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()] \
            if jsonl.is_file() else []
        calls = Path(env["AU_EDGE_FAKE_PICAMERA2_LOG"])
        run["camera_calls"] = [json.loads(line) for line in calls.read_text().splitlines()] if calls.is_file() else []
        runs[name] = run
    (out / "daemon.json").write_text(json.dumps({"platform": _platform(), "runs": runs}, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["measure", "daemon"])
    parser.add_argument("--stage", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=None, help="measure: the x86 run's JSON (its keypoints)")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args.stage, args.out, args.reference)
    else:
        daemon(args.stage, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
