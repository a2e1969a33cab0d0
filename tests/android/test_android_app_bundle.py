"""The app's build defaults and README agree with the repository: the default bundle folder exists in a
fresh clone, and what the README says about occlusion-flag outputs is what the exporter writes."""

from __future__ import annotations

import re
from pathlib import Path

from auedge.convert.export import _outputs
from auedge.edge.bundle import OCCLUDED_SUFFIX

REPO = Path(__file__).resolve().parents[2]
ANDROID = REPO / "android-demo"


def gradle_property(name: str) -> str:
    for line in (ANDROID / "gradle.properties").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    raise AssertionError(f"{name} is not set in android-demo/gradle.properties")


def test_default_bundle_dir_is_the_shipped_bundle_in_every_clone():
    bundle_dir = gradle_property("bundleDir")
    assert (ANDROID / bundle_dir).resolve() == REPO / "edge" / "models" / "default"
    assert (ANDROID / bundle_dir / "__init__.py").is_file()  # tracked by git: there in a fresh clone
    fallback = re.search(r'gradleProperty\("bundleDir"\)\.getOrElse\("([^"]+)"\)',
                         (ANDROID / "app" / "build.gradle.kts").read_text(encoding="utf-8"))
    assert fallback and fallback.group(1) == bundle_dir


def test_readme_says_the_exporter_writes_occlusion_flags():
    outputs = _outputs("occurrence", ["AU12"], [0.5, 0.3], [f"AU12{OCCLUDED_SUFFIX}"])
    assert outputs[1].items() >= {"au": "AU12_occluded", "index": 1, "kind": "occurrence", "range": [0.0, 1.0],
                                  "threshold": 0.3}.items()
    kotlin = (ANDROID / "app" / "src" / "main" / "java" / "org" / "auedge" / "demo" / "AuPipeline.kt").read_text()
    assert f'OCCLUDED_SUFFIX = "{OCCLUDED_SUFFIX}"' in kotlin
    readme = " ".join((ANDROID / "README.md").read_text(encoding="utf-8").split())
    assert "does not write such an output" not in readme and "(all current ones)" not in readme
    assert "`convert/export.py` writes these outputs" in readme and "--occlusion-flags" in readme
    assert "../bundles/golden" not in readme
