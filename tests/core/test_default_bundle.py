"""The bundle shipped in the package (auedge.edge.models.default): intact, TensorFlow-free, reproducible.

``python -m auedge.convert.ship`` recorded every kept model's outputs on the committed images in
``tests/fixtures/default_bundle`` through the edge runtime; here the same runtime, with TensorFlow
blocked, must give them again within each model's tolerance (fp32 1e-4, int8 one quantization step).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "edge" / "models" / "default"
IMAGES = ROOT / "tests" / "fixtures" / "default_bundle"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_no_tensorflow import run_blocked


def test_the_default_bundle_is_shipped_and_its_hashes_verify():
    from auedge.edge.bundle import load_bundle

    assert (SHIPPED / "bundle.json").is_file(), "no default bundle: python -m auedge.convert.ship --bundle B"
    bundle = load_bundle(SHIPPED, check_hash=True)
    assert {m.name for m in bundle.models} == {"int8", "fp32"} and bundle.default_model == "int8"
    assert bundle.face_detector is not None
    size = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    assert size <= 1.5 * 2**20, f"default bundle {size} bytes is over 1.5 MiB"


def test_the_default_bundle_says_it_saw_real_faces_and_what_its_values_mean():
    manifest = json.loads((SHIPPED / "bundle.json").read_text())
    training = manifest["training"]
    assert training["synthetic"] is False and training["datasets"]
    assert training["commit"] and training["seed"] is not None and training["recipe"]
    for output in manifest["outputs"]:
        assert "probability" in output["meaning"]
    assert (SHIPPED / "MODEL_CARD.md").is_file()


def test_the_default_bundle_reproduces_its_recorded_outputs_without_tensorflow():
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from auedge.edge.estimator import Estimator, EstimatorOptions
        from auedge.edge.images_io import read_image_rgb

        shipped, images = Path({str(SHIPPED)!r}), Path({str(IMAGES)!r})
        reference = json.loads((shipped / "reference_outputs.json").read_text())
        worst = {{}}
        for name, recorded in reference["models"].items():
            est = Estimator.create_from_options(EstimatorOptions(bundle_path=shipped, model=name, num_threads=1))
            for image, faces in zip(reference["images"], recorded["faces"]):
                got = est.estimate(read_image_rgb(images / image)).faces
                assert len(got) == len(faces), (name, image, len(got), len(faces))
                for face, want in zip(got, faces):
                    assert max(abs(a - b) for a, b in zip(face.box, want["box"])) < 0.5, (name, image, face.box)
                    for au, value in want["aus"].items():
                        diff = abs(face.aus[au] - value)
                        worst[name] = max(worst.get(name, 0.0), diff / recorded["tolerance"])
                        assert diff <= recorded["tolerance"], (name, image, au, face.aus[au], value)
                    assert face.observable == want["observable"], (name, image)
            est.close()
        assert not any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules)
        print(json.dumps(worst))
        """
    )
    result = run_blocked(code)
    assert result.returncode == 0, result.stderr[-2000:]
    worst = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(worst) == {"int8", "fp32"}


def test_shipping_refuses_a_bundle_without_the_kept_models(tmp_path):
    from auedge.convert.ship import ShipError, slim_manifest

    with pytest.raises(ShipError, match="no 'int8' model"):
        slim_manifest({"models": [{"name": "fp32"}]}, ("int8", "fp32"))
    with pytest.raises(ShipError, match="degraded"):
        slim_manifest({"models": [{"name": "int8", "degraded": True}, {"name": "fp32"}]}, ("int8", "fp32"))
    slim = slim_manifest({"models": [{"name": "fp16"}, {"name": "int8"}, {"name": "fp32"}], "default_model": "fp16"},
                         ("int8", "fp32"))
    assert [m["name"] for m in slim["models"]] == ["int8", "fp32"] and slim["default_model"] == "int8"


def test_a_failed_ship_leaves_the_old_default_untouched(tmp_path):
    from auedge.convert.ship import ShipError, ship

    dest = tmp_path / "default"
    dest.mkdir()
    (dest / "bundle.json").write_text("{}")
    with pytest.raises(ShipError):
        ship(tmp_path / "no-such-bundle", dest)
    assert (dest / "bundle.json").read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["default"]


def test_shipping_refuses_a_bundle_without_a_face_detector(tmp_path):
    """The default bundle serves `au-edge infer IMAGE` and the daemon: both need the detector."""
    import shutil

    from auedge.convert.ship import ShipError, ship

    source = tmp_path / "no-detector"
    shutil.copytree(SHIPPED, source)
    manifest = json.loads((source / "bundle.json").read_text())
    del manifest["face_detector"]
    (source / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ShipError, match="has no face detector"):
        ship(source, tmp_path / "default")
    assert not (tmp_path / "default").exists()


def test_rerecording_rewrites_only_the_reference_outputs_on_the_images_they_name(tmp_path):
    """``python -m auedge.convert.ship --rerecord``: one command after a change of the runtime's pixels."""
    import shutil

    from auedge.convert.ship import REFERENCE_FILE, ShipError, main, rerecord

    dest = tmp_path / "default"
    shutil.copytree(SHIPPED, dest, ignore=shutil.ignore_patterns("__pycache__"))
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    recorded = json.loads(before[REFERENCE_FILE])
    (dest / REFERENCE_FILE).write_text(json.dumps({**recorded, "models": {}}))
    assert main(["--rerecord", "--out", str(dest), "--images", str(IMAGES)]) == 0
    after = {p.name: p.read_bytes() for p in dest.iterdir()}
    assert {name for name in after if after[name] != before[name]} <= {REFERENCE_FILE}
    again = json.loads(after[REFERENCE_FILE])
    assert again["images"] == recorded["images"] and set(again["models"]) == set(recorded["models"])
    for name, model in recorded["models"].items():
        for faces, faces_again in zip(model["faces"], again["models"][name]["faces"]):
            assert [f["observable"] for f in faces] == [f["observable"] for f in faces_again]
            for face, face_again in zip(faces, faces_again):
                assert all(abs(face["aus"][au] - face_again["aus"][au]) <= model["tolerance"] for au in face["aus"])
    with pytest.raises(ShipError, match="face0.png not found"):
        rerecord(dest, tmp_path)
    assert json.loads((dest / REFERENCE_FILE).read_text()) == again


def test_the_model_card_matches_the_files_it_cites(monkeypatch):
    """Every figure of MODEL_CARD.md is rendered from the committed metrics and benchmark files its
    first line names; rendering it again from them must give the same card."""
    from auedge.convert.model_card import rerender, sources_of

    card = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    monkeypatch.chdir(ROOT)
    sources = sources_of(card)
    for path in [sources["metrics"], *sources["end_to_end"], *sources["accuracy"]]:
        assert (ROOT / path).is_file() and not Path(path).is_absolute(), path
    assert rerender(card) == card
