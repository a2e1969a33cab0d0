"""``python -m auedge.convert.set_threshold``: give one occurrence output of a bundle a threshold chosen
by a stated rule, with the rule recorded in bundle.json.

A threshold is normally chosen by the trainer on the run's validation split and carried into the bundle
by the exporter (``train/threshold.py`` re-chooses it for a finished run). This is for a bundle whose run
can no longer give its validation predictions back (its training crops were cut by an older runtime):
the threshold then comes from the device's own path on validation faces
(``experiments/au12_au4_mtfl_fer/scripts/au4_threshold.py``), and bundle.json says so in
``training.threshold_rule`` ({f1_within, f1_best, chosen, applied_by}), which the model card reads.
Only that output's threshold and that record change; the models and their sha256 are untouched, and the
file is replaced whole (temporary file, then rename).

    python -m auedge.convert.set_threshold --bundle edge/models/default --au AU4 --threshold 0.35 \\
        --f1-best 0.30 --f1-within 0.01 --source "device path, FER2013 validation, int8"
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


class ThresholdError(ValueError):
    """A threshold that cannot be set; the message names the thing and the fix."""


def set_threshold(bundle_dir: Path, au: str, threshold: float, f1_best: float, f1_within: float, source: str) -> Path:
    """Set ``au``'s threshold in ``bundle_dir/bundle.json`` and record the rule; returns the file."""
    from auedge.edge.atomic_io import write_atomic

    path = Path(bundle_dir) / "bundle.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ThresholdError(f"{path} not found; pass --bundle a bundle folder (edge/models/default)") from exc
    except json.JSONDecodeError as exc:
        raise ThresholdError(f"{path} is not valid JSON ({exc}); export the bundle again") from exc
    for name, value in (("--threshold", threshold), ("--f1-best", f1_best)):
        if not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ThresholdError(f"{name} must be a probability between 0 and 1, got {value}")
    if not (math.isfinite(f1_within) and 0.0 <= f1_within <= 0.1):
        raise ThresholdError(f"--f1-within must be an F1 tolerance in [0, 0.1], got {f1_within}")
    outputs = manifest.get("outputs") or []
    match = [o for o in outputs if str(o.get("au", "")).upper() == au.upper()]
    if not match:
        raise ThresholdError(f"{path} has no output {au!r} (it has {', '.join(str(o.get('au')) for o in outputs)})")
    output = match[0]
    if output.get("kind") != "occurrence":
        raise ThresholdError(f"{output['au']} is an {output.get('kind')} output; only occurrence outputs have a threshold")
    name = output["au"]
    output["threshold"] = float(threshold)
    training = manifest.setdefault("training", {})
    rule = dict(training.get("threshold_rule") or {})
    for key, value in (("f1_within", f1_within), ("f1_best", f1_best), ("chosen", threshold)):
        rule[key] = dict(rule.get(key) or {}) | {name: float(value)}
    rule["applied_by"] = f"convert/set_threshold.py: {source}"
    training["threshold_rule"] = rule
    write_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m auedge.convert.set_threshold", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, required=True, help="bundle folder holding bundle.json")
    p.add_argument("--au", required=True, help="the occurrence output, e.g. AU4")
    p.add_argument("--threshold", type=float, required=True, help="the new threshold, chosen on validation faces")
    p.add_argument("--f1-best", type=float, required=True, help="the F1-best threshold on the same faces")
    p.add_argument("--f1-within", type=float, required=True, help="the rule's F1 tolerance (0.01)")
    p.add_argument("--source", required=True, help="which faces and path the rule was applied on")
    args = p.parse_args(argv)
    try:
        path = set_threshold(args.bundle, args.au, args.threshold, args.f1_best, args.f1_within, args.source)
    except (ThresholdError, OSError) as exc:
        print(f"set_threshold: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {args.au} threshold {args.threshold:.2f} (F1-best {args.f1_best:.2f}, within {args.f1_within} F1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
