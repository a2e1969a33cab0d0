"""The au-edge command line: infer (table and JSON lines), bundle-info, daemon delegation, errors.

The default bundle (run when none is given) is pointed at the fixture bundle through
``$AUEDGE_DEFAULT_BUNDLE``: the shipped bundle, when one is installed, is never needed here.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from auedge.edge.cli import main
from auedge.edge.default_bundle import ENV_VAR, NoDefaultBundle, choose_bundle, default_bundle_dir
from edge_runtime_helpers import detector_file, write_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("bundle"), detector_file())


@pytest.fixture()
def blank_png(tmp_path):
    import cv2

    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 90, dtype=np.uint8))
    return path


@pytest.mark.realdata
def test_infer_json_lines_and_unreadable_image(bundle_dir, mtfl_dir, tmp_path, capsys):
    face = mtfl_dir / "lfw_5590" / "Aaron_Eckhart_0001.jpg"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code = main(["infer", "--bundle", str(bundle_dir), "--model", "onnx-fp32", "--json", str(broken), str(face)])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "1 of 2 images could not be read" in err
    assert lines[0]["path"] == str(broken) and "broken.jpg" in lines[0]["error"]
    assert lines[1]["path"] == str(face) and len(lines[1]["faces"]) == 1
    found = lines[1]["faces"][0]
    assert set(found["aus"]) == {"AU12", "AU4"} and len(found["box"]) == 4 and len(found["keypoints"]) == 6
    assert 0.0 <= found["aus"]["AU12"] <= 1.0 and found["score"] >= 0.5
    assert set(found["timings_ms"]) == {"align", "au_model"}
    assert set(lines[1]["timings_ms"]) == {"detect", "align", "au_model", "total"}


def test_infer_table_and_exit_zero(bundle_dir, blank_png, capsys):
    assert main(["infer", "--bundle", str(bundle_dir), str(blank_png)]) == 0
    out = capsys.readouterr().out
    assert "onnx-int8" in out and f"{blank_png}  no face found" in out


def test_missing_image_fails_but_reports(bundle_dir, blank_png, tmp_path, capsys):
    code = main(["infer", "--bundle", str(bundle_dir), "--json", str(tmp_path / "absent.jpg"), str(blank_png)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1 and "absent.jpg" in lines[0]["error"] and lines[1]["faces"] == []


def test_bad_bundle_is_one_error_line(tmp_path, blank_png, capsys):
    assert main(["infer", "--bundle", str(tmp_path), str(blank_png)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "bundle.json" in err[0]
    assert main(["bundle-info", str(tmp_path)]) == 2


def test_unknown_model_and_backend(bundle_dir, blank_png, capsys):
    assert main(["infer", "--bundle", str(bundle_dir), "--model", "fp16", str(blank_png)]) == 2
    assert "no model 'fp16'" in capsys.readouterr().err
    assert main(["infer", "--bundle", str(bundle_dir), "--backend", "coreml", str(blank_png)]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_bundle_info_lists_models_and_verifies(bundle_dir, tmp_path, capsys):
    assert main(["bundle-info", str(bundle_dir)]) == 0
    out = capsys.readouterr().out
    assert "onnx-int8 (default)" in out and "onnx-fp32" in out and "f1_au12: 0.81" in out
    assert "hashes   ok" in out and "AU12" in out
    broken = write_bundle(tmp_path / "b", detector=None, with_int8=False)
    (broken / "au_fp32.onnx").write_bytes(b"tampered")
    assert main(["bundle-info", str(broken)]) == 2
    assert "sha256" in capsys.readouterr().err


def test_daemon_subcommand_delegates(monkeypatch):
    seen = []
    fake = types.ModuleType("auedge.edge.daemon")
    fake.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, "auedge.edge.daemon", fake)
    assert main(["daemon", "--config", "x.toml", "--help"]) == 3
    assert seen == [["--config", "x.toml", "--help"]]


def test_daemon_missing_is_a_clear_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "auedge.edge.daemon", None)  # import raises ImportError
    assert main(["daemon"]) == 2
    assert capsys.readouterr().err.startswith("error: the daemon is not available")


def test_the_default_is_the_package_folder_unless_the_variable_says(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_bundle_dir() == REPO / "edge" / "models" / "default"
    assert default_bundle_dir({ENV_VAR: str(tmp_path)}) == tmp_path
    assert choose_bundle("given/dir", {ENV_VAR: str(tmp_path)}).path == Path("given/dir")


def test_infer_without_bundle_runs_the_default_and_says_so(monkeypatch, bundle_dir, blank_png, capsys):
    monkeypatch.setenv(ENV_VAR, str(bundle_dir))
    assert main(["infer", str(blank_png)]) == 0
    out, err = capsys.readouterr()
    assert f"{blank_png}  no face found" in out
    assert f"bundle tiny-test at {bundle_dir} (the default bundle" in err


def test_infer_names_a_given_bundle_too(monkeypatch, bundle_dir, blank_png, capsys):
    monkeypatch.setenv(ENV_VAR, str(bundle_dir.parent / "absent"))
    assert main(["infer", "--bundle", str(bundle_dir), "--json", str(blank_png)]) == 0
    assert f"bundle tiny-test at {bundle_dir} (given by --bundle)" in capsys.readouterr().err


def test_bundle_info_without_bundle_shows_the_default(monkeypatch, bundle_dir, capsys):
    monkeypatch.setenv(ENV_VAR, str(bundle_dir))
    assert main(["bundle-info"]) == 0
    out, err = capsys.readouterr()
    assert str(bundle_dir) in out and "hashes   ok" in out
    assert "the default bundle" in err


@pytest.mark.parametrize("argv", [["infer", "face.jpg"], ["bundle-info"]])
def test_no_default_installed_is_one_line_and_exit_2(monkeypatch, tmp_path, argv, capsys):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no default bundle is installed")
    assert "--bundle" in err[0] and ENV_VAR in err[0]


def test_no_default_in_the_package_folder_names_it(monkeypatch, tmp_path):
    from auedge.edge import default_bundle

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(default_bundle, "default_bundle_dir", lambda env=None: tmp_path)
    with pytest.raises(NoDefaultBundle, match=f"no default bundle is installed \\({tmp_path} holds no bundle.json\\)"):
        choose_bundle(None)


def with_training(bundle_dir: Path, target: Path, training: dict) -> Path:
    """A copy of ``bundle_dir`` whose bundle.json says ``training`` (bundle.json itself carries no hash)."""
    import shutil

    shutil.copytree(bundle_dir, target)
    manifest = json.loads((target / "bundle.json").read_text())
    (target / "bundle.json").write_text(json.dumps({**manifest, "training": training}))
    return target


def test_bundle_info_says_what_the_bundle_was_trained_on(bundle_dir, tmp_path, capsys):
    real = with_training(bundle_dir, tmp_path / "real", {"dataset": "mtfl", "datasets": ["mtfl", "fer2013"],
                                                          "synthetic": False, "seed": 3, "recipe": "mtfl_au12.toml",
                                                          "commit": "6695beb"})
    assert main(["bundle-info", str(real)]) == 0
    out = capsys.readouterr().out
    assert "trained  on mtfl, fer2013 (real faces); recipe mtfl_au12.toml, seed 3, commit 6695beb" in out
    old = with_training(bundle_dir, tmp_path / "old", {"dataset": "synthetic", "run": "demo"})
    assert main(["bundle-info", str(old)]) == 0
    assert "trained  on synthetic faces only" in capsys.readouterr().out
    assert main(["bundle-info", str(bundle_dir)]) == 0
    assert "trained  on an unknown dataset" in capsys.readouterr().out


def test_infer_warns_once_when_a_synthetic_bundle_meets_photos(monkeypatch, bundle_dir, blank_png, tmp_path, caplog):
    from auedge.edge import provenance

    monkeypatch.setattr(provenance, "_warned", set())
    synthetic = with_training(bundle_dir, tmp_path / "synthetic", {"dataset": "synthetic"})
    real = with_training(bundle_dir, tmp_path / "real", {"dataset": "mtfl"})
    with caplog.at_level("WARNING", logger="auedge.edge.provenance"):
        assert main(["infer", "--bundle", str(real), str(blank_png)]) == 0
        assert not caplog.records
        for _ in range(2):
            assert main(["infer", "--bundle", str(synthetic), str(blank_png), str(blank_png)]) == 0
    (record,) = caplog.records
    assert "synthetic faces only" in record.getMessage() and "real photos" in record.getMessage()
