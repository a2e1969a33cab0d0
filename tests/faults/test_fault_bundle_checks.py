"""Issue 36 item 7: a ``schema_version`` that is not an integer is named as such."""

from __future__ import annotations

import json

import pytest
from auedge.edge.cli import main


def _rewrite(bundle, change) -> None:
    path = bundle / "bundle.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("au-edge: ")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("version", ["1", 1.0, True])
def test_schema_version_must_be_an_integer(write_tiny_bundle, capsys, version):
    bundle = write_tiny_bundle()
    _rewrite(bundle, lambda manifest: manifest.__setitem__("schema_version", version))
    assert main(["bundle-info", str(bundle)]) == 2
    line = _error_line(capsys)
    assert "schema_version must be an integer" in line and "reads 1" not in line
