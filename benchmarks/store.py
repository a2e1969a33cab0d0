"""Where results go and what every result records about the machine it was measured on.

Why: a latency figure means nothing without the CPU, the package versions and how busy the
(shared) machine was, so every JSON carries an ``environment`` block, and every file is written
to a temporary name and renamed, so an interrupted run never leaves a half-written result.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auedge.edge.atomic_io import write_atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "au-edge", "numpy", "opencv-python-headless", "pillow", "ai-edge-litert", "tflite-runtime", "onnxruntime",
    "onnx", "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "matplotlib",
)


class BenchmarkError(RuntimeError):
    """A benchmark that cannot run; the message names the thing and the fix (CLI: one line, exit 2)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """File-name timestamp: sortable, no colons."""
    return moment.strftime("%Y%m%d-%H%M%S")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The SIMD flags that decide which model variant is fastest (int8 gains most from VNNI; dot product on Arm).
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm")


def cpu_flags() -> list[str]:
    """Which of :data:`SIMD_FLAGS` this CPU has (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            present = set(value.split())
            return [flag for flag in SIMD_FLAGS if flag in present]
    return []


def package_versions() -> dict[str, str]:
    """Installed versions read from metadata (nothing imported); absent packages are left out."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict[str, Any]:
    """The machine facts a reader needs to judge the numbers (load average read now)."""
    return {
        "cpu_model": cpu_model(),
        "cpu_simd_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": package_versions(),
        "load_average": load_average(),
    }


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """A result file whole or not at all (:func:`auedge.edge.atomic_io.write_atomic`)."""
    return write_atomic(path, data)


def atomic_write_text(path: Path, text: str) -> Path:
    return write_atomic(path, text)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    """numpy scalars and Paths in result dictionaries become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save_figure(figure: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG via a temporary file, then close it."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no screen on the machines that run benchmarks)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bundle_fingerprint(root: str | Path) -> dict[str, Any]:
    """Which exact bundle a result measured: the sha256 of its ``bundle.json`` (which lists every
    model file's sha256) and the ``created`` time it records; None values when it cannot be read.

    Why: a bundle folder keeps its name when it is re-exported from a retrained run, so the name
    alone can put two different models' results side by side as if they were one."""
    path = Path(root) / "bundle.json"
    try:
        raw = path.read_bytes()
    except OSError:
        return {"bundle_sha256": None, "bundle_created": None}
    try:
        manifest = json.loads(raw)
        created = manifest.get("created") if isinstance(manifest, dict) else None
    except ValueError:
        created = None
    return {"bundle_sha256": hashlib.sha256(raw).hexdigest(), "bundle_created": created}


class ResultFiles:
    """Names of one run's outputs: ``<dir>/<kind>-<bundle>-<stamp>.json`` and ``...-<what>.png``.

    ``bundle_root``: the bundle folder measured; its fingerprint (see :func:`bundle_fingerprint`)
    goes into the header of the result."""

    def __init__(self, kind: str, bundle_name: str, out_dir: str | Path | None = None,
                 moment: datetime | None = None, bundle_root: str | Path | None = None) -> None:
        self.kind = kind
        self.bundle_name = bundle_name
        self.bundle_root = Path(bundle_root) if bundle_root is not None else None
        self.moment = moment or utc_now()
        self.out_dir = Path(out_dir) if out_dir else RESULTS_DIR
        self.base = f"{kind}-{bundle_name}-{stamp(self.moment)}"

    @property
    def json_path(self) -> Path:
        return self.out_dir / f"{self.base}.json"

    def plot_path(self, what: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in what)
        return self.out_dir / f"{self.base}-{safe}.png"

    def header(self, **extra: Any) -> dict[str, Any]:
        """The common head of every result JSON (with the bundle's fingerprint when its folder is known)."""
        fingerprint = bundle_fingerprint(self.bundle_root) if self.bundle_root is not None else {}
        return {
            "kind": self.kind,
            "bundle": self.bundle_name,
            **fingerprint,
            "created": self.moment.isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "environment": environment(),
            **extra,
        }


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in text]
    return "\n".join(lines)


def load_bundle_with_detector(path: str | Path) -> Any:
    """:func:`auedge.edge.bundle.load_bundle_with_detector`, its refusal as a BenchmarkError."""
    from auedge.edge.bundle import BundleError, load_bundle_with_detector

    try:
        return load_bundle_with_detector(path)
    except BundleError as exc:
        raise BenchmarkError(str(exc)) from exc


def options_from_args(cls: type, args: Any) -> Any:
    """An options dataclass from an argparse namespace (flags that are not fields are left out)."""
    return cls(**{k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__})
