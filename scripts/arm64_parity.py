"""Judge one scripts/arm64-check.sh run: arm64 outputs against x86, the CLI, the daemon and picamera2 checks.

Reads only the run folder's JSON files (no OpenCV, no interpreter), prints the tables, writes report.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from arm64_check import CLI_ROUNDING, FACE_IOU, FP32_TOLERANCE


def iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def pair_faces(x86: list[dict], arm: list[dict]) -> list[tuple[dict, dict, float]]:
    """Each x86 face with the arm64 face of the highest IoU (greedy); unmatched faces are left out."""
    pairs, free = [], list(arm)
    for face in x86:
        if not free:
            break
        best = max(free, key=lambda other: iou(face["box"], other["box"]))
        pairs.append((face, best, iou(face["box"], best["box"])))
        free.remove(best)
    return pairs


def _max_au_diff(a: dict[str, float], b: dict[str, float]) -> float:
    if a.keys() != b.keys():
        return math.inf
    return max((abs(a[k] - b[k]) for k in a), default=0.0)


def model_parity(x86: dict, arm: dict) -> dict:
    """One row of the parity table: a model on every image, arm64 against x86.

    It holds when both find the same faces (count, boxes IoU >= FACE_IOU) and the AU values agree within 1e-4
    for a float model, one output quantization step for an integer one, both end to end (each machine's own
    detection, crop and model) and on the same crop (the x86 run's crops fed to both: the interpreter alone).
    Two columns, because OpenCV's resize and warp are not bit-identical across versions and SIMD paths (see
    edge/README-pi.md): when only the end-to-end column fails, the cause is upstream of the AU model.
    """
    integer = x86["output_step"] is not None
    tolerance = x86["output_step"] * (1 + 1e-6) if integer else FP32_TOLERANCE
    faces_x86 = faces_arm = 0
    max_au = max_crop = max_score = 0.0
    min_iou = 1.0
    problems = []
    for image_x86, image_arm in zip(x86["images"], arm["images"], strict=True):
        name, fx, fa = image_x86["image"], image_x86["faces"], image_arm["faces"]
        faces_x86, faces_arm = faces_x86 + len(fx), faces_arm + len(fa)
        if len(fx) != len(fa):
            problems.append(f"{name}: {len(fx)} faces on x86, {len(fa)} on arm64")
        for face_x86, face_arm, overlap in pair_faces(fx, fa):
            min_iou = min(min_iou, overlap)
            max_score = max(max_score, abs(face_x86["score"] - face_arm["score"]))
            diff = _max_au_diff(face_x86["aus"], face_arm["aus"])
            max_au = max(max_au, diff)
            if diff > tolerance:
                problems.append(f"{name}: end to end, AU values differ by {diff:.3g} > {tolerance:.3g}")
            if overlap < FACE_IOU:
                problems.append(f"{name}: a face's boxes overlap only {overlap:.3f} (IoU)")
        for values_x86, values_arm in zip(image_x86["same_crop"], image_arm["same_crop"], strict=True):
            diff = max((abs(a - b) for a, b in zip(values_x86, values_arm, strict=True)), default=0.0)
            max_crop = max(max_crop, diff)
            if diff > tolerance:
                problems.append(f"{name}: the AU model's values on the same crop differ by {diff:.3g} > {tolerance:.3g}")
    if not faces_x86:
        problems.append("no face found on any image on x86: nothing was compared (give --images with faces)")
    if x86["output_step"] != arm["output_step"]:
        problems.append(f"output quantization differs: {x86['output_step']} vs {arm['output_step']}")
    return {
        "model": x86["name"], "precision": x86["precision"], "format": x86["format"],
        "backend": f"{x86['backend']}/{arm['backend']}", "detector": f"{x86['detector_backend']}/{arm['detector_backend']}",
        "images": len(x86["images"]), "faces_x86": faces_x86, "faces_arm64": faces_arm,
        "same_crop_max_au_diff": max_crop, "tolerance": tolerance,
        "tolerance_rule": "1 output step" if integer else "1e-4", "end_to_end_max_au_diff": max_au,
        "min_iou": min_iou, "max_score_diff": max_score, "ok": not problems, "problems": problems,
    }


def cli_check(arm: dict, infer_lines: list[dict]) -> list[str]:
    """``au-edge infer --json`` on arm64 must say what the measured values say (to its 4-decimal rounding)."""
    problems = []
    by_name = {Path(line["path"]).name: line for line in infer_lines}
    for image in arm["images"]:
        line = by_name.get(image["image"])
        if line is None:
            problems.append(f"{arm['name']} {image['image']}: infer printed no line for it")
            continue
        if "error" in line:
            problems.append(f"{arm['name']} {image['image']}: infer error {line['error']}")
            continue
        if len(line["faces"]) != len(image["faces"]):
            problems.append(f"{arm['name']} {image['image']}: infer found {len(line['faces'])} faces, "
                            f"the API {len(image['faces'])}")
            continue
        for printed, measured in zip(line["faces"], image["faces"], strict=True):
            if _max_au_diff(printed["aus"], measured["aus"]) > CLI_ROUNDING:
                problems.append(f"{arm['name']} {image['image']}: infer AUs {printed['aus']} vs {measured['aus']}")
    return problems


def _matches(record_faces: list[dict], measured_faces: list[dict]) -> bool:
    if len(record_faces) != len(measured_faces):
        return False
    return all(_max_au_diff(r["aus"], m["aus"]) <= CLI_ROUNDING and iou(r["box"], m["box"]) >= FACE_IOU
               for r, m in zip(record_faces, measured_faces, strict=True))


def _run_basics(name: str, run: dict, frames: int, size: list[int]) -> list[str]:
    problems = []
    if run["exit"] != 0:
        problems.append(f"{name}: daemon exit {run['exit']}: " + " | ".join(run["log_tail"][-3:]))
    if len(run["records"]) != frames:
        problems.append(f"{name}: {len(run['records'])} records, expected {frames}")
    if any(r["image_size"] != size for r in run["records"]):
        problems.append(f"{name}: a record's image_size is not {size}")
    if not any(r["faces"] for r in run["records"]):
        problems.append(f"{name}: no face in any record")
    return problems


def daemon_checks(plan: dict, daemon: dict, arm_default: dict) -> dict[str, list[str]]:
    """The daemon on the video (JSONL + HTTP) and on the fake picamera2 (main RGB888 stream, lores YUV420)."""
    runs, frames = daemon["runs"], plan["daemon_frames"]
    video = _run_basics("video", runs["video"], frames, plan["camera_size"])
    http = runs["video"]["http"]
    if not isinstance(http.get("latest"), dict) or "faces" not in http["latest"]:
        video.append("video: /latest never answered with a record while the daemon ran")
    if http.get("healthz_status") != 200:
        video.append(f"video: /healthz answered {http.get('healthz_status')}")
    if not http.get("metrics_frames"):
        video.append("video: /metrics has no au_edge_frames line")

    main = _run_basics("picamera2", runs["picamera2"], frames, plan["camera_size"])
    measured = {img["image"]: img["faces"] for img in arm_default["images"] if img["image"] in plan["camera_images"]}
    seen = set()
    for record in runs["picamera2"]["records"]:
        hits = [name for name, faces in measured.items() if _matches(record["faces"], faces)]
        if not hits:
            main.append(f"picamera2: frame {record['frame']} matches no camera image as infer sees it "
                        "(frame format or colour order wrong?)")
        seen.update(hits)
    if len(seen) < 2:
        main.append(f"picamera2: records matched only {sorted(seen)}; expected several camera frames")
    main += _camera_calls("picamera2", runs["picamera2"]["camera_calls"], "main",
                          {"main": {"size": plan["camera_size"], "format": "RGB888"}, "controls": {"FrameRate": 10.0}})
    lores = _run_basics("picamera2_lores", runs["picamera2_lores"], frames, plan["lores_size"])
    lores += _camera_calls("picamera2_lores", runs["picamera2_lores"]["camera_calls"], "lores",
                           {"main": {"size": plan["camera_size"], "format": "RGB888"},
                            "lores": {"size": plan["lores_size"], "format": "YUV420"}})
    return {"video": video, "picamera2": main, "picamera2_lores": lores}


def _camera_calls(name: str, calls: list[dict], stream: str, expected: dict) -> list[str]:
    """What the source asked the fake camera for, and that it imported the system's picamera2."""
    problems = []
    if not calls:
        return [f"{name}: the fake picamera2 was never called"]
    if not calls[0]["module"].startswith("/usr/lib/python3/dist-packages/"):
        problems.append(f"{name}: picamera2 imported from {calls[0]['module']}, not the system's dist-packages")
    configured = [c["config"] for c in calls if c["call"] == "configure"]
    if not configured:
        return problems + [f"{name}: the camera was never configured"]
    for key, want in expected.items():
        got = configured[0].get(key) or {}
        for field, value in want.items():
            if got.get(field) != value:
                problems.append(f"{name}: configured {key}.{field} = {got.get(field)!r}, expected {value!r}")
    if not any(c["call"] == "capture_array" and c["stream"] == stream for c in calls):
        problems.append(f"{name}: no capture from the {stream} stream")
    return problems


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def packages(run: Path) -> dict:
    """Where each piece came from in the arm64 system: apt, a pip wheel (its file name), or built from source."""
    report = json.loads((run / "pip-report.json").read_text(encoding="utf-8"))
    from_pip = []
    for item in report["install"]:
        url = item["download_info"]["url"]
        meta = item["metadata"]
        from_pip.append({"name": meta["name"], "version": meta["version"], "file": url.rsplit("/", 1)[-1],
                         "built_from_source": not url.endswith(".whl")})
    listed = json.loads((run / "pip-list.json").read_text(encoding="utf-8"))
    system = sorted(f"{d['name']} {d['version']}" for d in listed if "/dist-packages" in d.get("location", ""))
    apt = (run / "apt-arm64.txt").read_text(encoding="utf-8").split("\n")
    return {"apt": [line for line in apt if line], "pip": from_pip, "system_site_used": system}


def print_packages(found: dict) -> None:
    print("\nInstalled in the arm64 system")
    print("  apt:  " + ", ".join(found["apt"]))
    print("  system dist-packages seen by the venv: " + ", ".join(found["system_site_used"]))
    for item in found["pip"]:
        how = "BUILT FROM SOURCE" if item["built_from_source"] else "wheel"
        print(f"  pip:  {item['name']} {item['version']}  ({how}: {item['file']})")


def print_tables(rows: list[dict], times: list[tuple[str, float]], arm_platform: dict) -> None:
    cpu = f"emulated {arm_platform['qemu_cpu']}, " if arm_platform.get("qemu_cpu") else ""
    print(f"\nParity, arm64 ({cpu}{arm_platform['machine']}, Python {arm_platform['python']}, {arm_platform['libc']}, "
          f"numpy {arm_platform['numpy']}) against this x86_64 host")
    head = f"{'model':<11} {'prec':<5} {'AU backend x86/arm64':<24} {'faces x86/arm':>14} {'min IoU':>8} " \
           f"{'|dscore|':>9} {'|dAU| crop':>10} {'bound':>8} {'|dAU| e2e':>10}  ok"
    print(head)
    print("-" * len(head))
    for r in rows:
        faces = f"{r['faces_x86']}/{r['faces_arm64']} in {r['images']}"
        print(f"{r['model']:<11} {r['precision']:<5} {r['backend']:<24} {faces:>14} {r['min_iou']:>8.4f} "
              f"{r['max_score_diff']:>9.2g} {r['same_crop_max_au_diff']:>10.2g} {r['tolerance']:>8.2g} "
              f"{r['end_to_end_max_au_diff']:>10.2g}  {'yes' if r['ok'] else 'NO'}")
    print("  |dAU| crop: the AU model on the x86 run's crops (the interpreter alone); |dAU| e2e: each machine's own\n"
          "  detection, crop and AU model. Both are held to the bound.")
    print("\nWall time per step (under qemu emulation and a busy host: not performance figures)")
    for name, seconds in times:
        print(f"  {name:<12} {seconds:>8.1f} s")


def judge(run: Path) -> int:
    plan = json.loads((run / "stage" / "stage.json").read_text(encoding="utf-8"))
    x86 = json.loads((run / "host.json").read_text(encoding="utf-8"))
    arm = json.loads((run / "arm64.json").read_text(encoding="utf-8"))
    rows = [model_parity(mx, ma) for mx, ma in zip(x86["models"], arm["models"], strict=True)]
    checks: dict[str, list[str]] = {"platform": [] if arm["platform"]["machine"] == "aarch64"
                                    else [f"the 'arm64' run reports machine {arm['platform']['machine']}"]}
    checks["parity"] = [f"{r['model']}: {p}" for r in rows for p in r["problems"]]
    checks["cli_infer"] = [p for model in arm["models"]
                           for p in cli_check(model, _read_jsonl(run / f"infer-{model['name']}.jsonl"))]
    info = (run / "bundle-info.txt").read_text(encoding="utf-8")
    checks["bundle_info"] = [] if "hashes   ok" in info else ["bundle-info did not report its hashes ok"]
    default = next(m for m in arm["models"] if m["name"] == plan["default_model"])
    checks.update(daemon_checks(plan, json.loads((run / "daemon" / "daemon.json").read_text(encoding="utf-8")), default))
    times = [(name, float(sec)) for name, sec in (line.split("\t") for line in
                                                   (run / "times.tsv").read_text().splitlines() if line)]
    print_tables(rows, times, arm["platform"])
    found = packages(run)
    print_packages(found)
    checks["wheels"] = [f"{p['name']} {p['version']} was built from source ({p['file']}): no aarch64 wheel"
                        for p in found["pip"] if p["built_from_source"]]
    failed = {name: problems for name, problems in checks.items() if problems}
    print("\nChecks: " + ", ".join(f"{name} {'FAIL' if problems else 'ok'}" for name, problems in checks.items()))
    for name, problems in failed.items():
        for problem in problems:
            print(f"  FAIL {name}: {problem}")
    report = {"stage": plan, "x86_platform": x86["platform"], "arm64_platform": arm["platform"], "parity": rows,
              "packages": found,
              "checks": checks, "times_s": dict(times), "ok": not failed}
    tmp = run / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    tmp.rename(run / "report.json")
    return 1 if failed else 0
