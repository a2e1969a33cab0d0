"""The main job on the embedded default: train, export, run on the edge runtime, compare float and int8.

``python -m auedge.demo`` runs the same commands a user would type, one after the other, on the
procedural synthetic faces (no data needed), and prints what each stage measured. Every figure it
prints is on synthetic faces and says so. It ends with where the bundle it made is and the next
three commands to run, spelled so that they work in this shell (the venv's full path to
``au-edge`` when the venv is not activated).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def run_stage(title: str, args: list[str]) -> None:
    print(f"\n== {title}\n$ {' '.join(args)}", flush=True)
    start = time.time()
    result = subprocess.run([sys.executable, *args], check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: stage '{title}' failed with exit code {result.returncode}; see the lines above")
    print(f"({title}: {time.time() - start:.0f} s)", flush=True)


def edge_table(bundle: Path, faces_dir: Path, n: int, seed: int) -> list[dict]:
    """Run the int8 model through the edge runtime on fresh synthetic faces with known intensities."""
    import numpy as np

    from auedge.edge.align import points_from_landmarks
    from auedge.edge.estimator import Estimator
    from auedge.train.data.synthetic import generate

    faces = generate(n, seed=seed)
    estimator = Estimator.from_bundle(bundle)
    rows = []
    for i in range(n):
        image = faces.images[i]
        result = estimator.estimate(image)
        how = "detector"
        if result.faces:
            face = max(result.faces, key=lambda f: f.score)
        else:
            # The detector may miss a drawn face; the landmarks the generator drew are then used.
            eyes_nose_mouth = points_from_landmarks(faces.landmarks[i])
            face = estimator.estimate_with_landmarks(image, *eyes_nose_mouth)
            how = "landmarks"
        rows.append({"face": i, "found_by": how, "AU12_true": float(faces.au12[i]), "AU4_true": float(faces.au4[i]),
                     **{f"{k}_int8": float(v) for k, v in face.aus.items()},
                     "ms": float(face.timings_ms.get("au_model", float("nan")))})
    faces_dir.mkdir(parents=True, exist_ok=True)
    (faces_dir / "edge_results.json").write_text(json.dumps(rows, indent=2))
    errors = {au: np.mean([abs(r[f"{au}_int8"] - r[f"{au}_true"]) for r in rows if f"{au}_int8" in r])
              for au in ("AU12", "AU4")}
    print(f"{'face':>4} {'found by':>9} {'AU12 true':>9} {'AU12 int8':>9} {'AU4 true':>8} {'AU4 int8':>8}")
    for r in rows:
        print(f"{r['face']:>4} {r['found_by']:>9} {r['AU12_true']:>9.2f} {r.get('AU12_int8', float('nan')):>9.2f} "
              f"{r['AU4_true']:>8.2f} {r.get('AU4_int8', float('nan')):>8.2f}")
    print("mean absolute error on these synthetic faces: "
          + ", ".join(f"{au} {v:.2f}" for au, v in errors.items()))
    detected = sum(r["found_by"] == "detector" for r in rows)
    print(f"BlazeFace found {detected}/{n} synthetic faces")
    return rows


def float_vs_int8(bundle: Path) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    print(f"{'variant':<10} {'size KB':>8} {'max |diff|':>10} {'ICC vs float':>12} {'ICC vs labels':>13}")
    for m in manifest["models"]:
        v = m.get("validation", {})
        print(f"{m['name']:<10} {m['size_bytes'] / 1024:>8.1f} {v.get('max_abs_diff', float('nan')):>10.2e} "
              f"{v.get('icc_vs_float', v.get('agreement', float('nan'))):>12.4f} "
              f"{v.get('icc_vs_labels', v.get('f1', float('nan'))):>13.4f}")
    print("(validation on held-out synthetic faces)")


def default_recipe() -> Path:
    """The embedded default's recipe, shipped as package data of ``auedge.train``.

    Found through the installed package rather than this file's folder, so a wheel install (where
    ``train/`` is not beside ``auedge/``) trains with the same recipe as a source checkout.
    """
    spec = importlib.util.find_spec("auedge.train")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: auedge.train is not installed; run: pip install 'au-edge[train]'")
    recipe = Path(next(iter(spec.submodule_search_locations))) / "configs" / "synthetic_default.toml"
    if not recipe.is_file():
        raise SystemExit(f"error: {recipe} is missing from the install; reinstall au-edge")
    return recipe


def au_edge_command() -> str:
    """``au-edge`` when this shell finds this venv's script by that name, else the script's path
    (relative to here when below it): a venv that is not activated has it only in ``.venv/bin``."""
    script = Path(sys.executable).parent / "au-edge"
    found = shutil.which("au-edge")
    if found and Path(found).resolve() == script.resolve():
        return "au-edge"
    if not script.exists():
        return "au-edge"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)


def next_steps(bundle: Path, command: str, default_installed: bool) -> list[str]:
    """The closing summary: where the demo's bundle is, and the next three commands to run.

    With a default (real-face) bundle installed, ``infer`` and ``daemon`` run it, not the demo's
    synthetic one; without, they are pointed at the demo's bundle.
    """
    lines = [f"bundle made by this demo: {bundle.resolve()}  (trained on synthetic faces only)"]
    given = ""
    if default_installed:
        lines.append("  on real photos use the real-face bundle shipped in the package: au-edge runs it when given no --bundle")
    else:
        given = f" --bundle {bundle}"
        lines.append("  no real-face bundle is installed in the package here, so the commands below run the demo's one")
    lines += ["next:",
              f"  {command} bundle-info {bundle}    # what it holds and was trained on; verifies every sha256",
              f"  {command} infer{given} face.jpg    # the AUs of each face in your photo",
              f"  {command} daemon{given} --source camera:0    # live from the webcam (or video:clip.mp4); "
              + "open the page URL it prints"]
    if command != "au-edge":
        lines.append(f"  (or first `. {Path(command).parent / 'activate'}`, then type just au-edge)")
    return lines


def default_bundle_installed() -> bool:
    from auedge.edge.default_bundle import NoDefaultBundle, choose_bundle

    try:
        choose_bundle(None)
    except NoDefaultBundle:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m auedge.demo", description=__doc__.splitlines()[0])
    p.add_argument("--name", default="demo-synthetic")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    p.add_argument("--retrain", action="store_true", help="train again even if the run exists")
    p.add_argument("--faces", type=int, default=8, help="synthetic faces to run through the edge runtime")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads for training (0: all cores)")
    args = p.parse_args(argv)

    run, bundle = Path("runs") / args.name, Path("bundles") / args.name
    if args.retrain or not (run / "metrics.json").is_file():
        train = ["-m", "auedge.train.train", "--out", str(run), "--force", "--config", str(default_recipe())]
        if args.epochs:
            train += ["--epochs", str(args.epochs)]
        if args.threads:
            train += ["--threads", str(args.threads)]
        run_stage("train AU12+AU4 intensity on synthetic faces", train)
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics.get("test", {})
    per_au = test.get("per_au", {})
    print("test ICC(3,1) on held-out synthetic faces: "
          + ", ".join(f"{au.upper()} {m['icc31']:.3f}" for au, m in per_au.items()))

    run_stage("export TFLite and ONNX variants, validated against the Keras model",
              ["-m", "auedge.convert.export", "--run", str(run), "--out", str(bundle), "--force"])
    print("\n== float vs int8 (from bundle.json)")
    float_vs_int8(bundle)
    print(f"\n== edge runtime (int8, no TensorFlow) on {args.faces} new synthetic faces")
    edge_table(bundle, run / "edge", args.faces, seed=977)
    print("\n== summary")
    print("\n".join(next_steps(bundle, au_edge_command(), default_bundle_installed())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
