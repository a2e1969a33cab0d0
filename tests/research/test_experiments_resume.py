"""The table runner's reuse of earlier cells, without TensorFlow: when a finished or kept cell still
stands (same full settings, same label reading) and when it is trained again; records of cells
outside a narrower run's plan survive in results.json; intensity runs with flags are scored."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from auedge.train import config as config_module
from auedge.train.data import loader
from auedge.train.research import experiment_tables as et
from auedge.train.research import experiments as ex


class Fake:
    """A fit that writes only metrics.json (what marks a cell finished) and a scorer; both count calls."""

    def __init__(self):
        self.trained: list[tuple[int, str, str]] = []

    def fit(self, cfg, folder: Path):
        self.trained.append((cfg.seed, cfg.head, cfg.occlude_train))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metrics.json").write_text(json.dumps({"test": {"icc31": 0.5}, "seconds": 1}))

    @staticmethod
    def evaluate(folder: Path, conditions):
        return {c: {"icc31": 0.4} for c in conditions}


@pytest.fixture(autouse=True)
def no_chart(monkeypatch):
    monkeypatch.setattr(ex, "write_chart", lambda res, path: None)  # matplotlib is not what is tested here


def run(out: Path, **options) -> tuple[Fake, dict]:
    fake = Fake()
    ex.run_table(ex.GridOptions(table="4.2", out=out, epochs=1, **options), fit_fn=fake.fit, eval_fn=fake.evaluate)
    return fake, json.loads((out / ex.RESULTS_FILE).read_text())


def changed_default(monkeypatch, **defaults) -> None:
    """TrainConfig as it would be after someone changes its defaults (the reviewer's cellid.py)."""
    new = dataclasses.make_dataclass("TrainConfig", [(k, type(v), v) for k, v in defaults.items()],
                                     bases=(config_module.TrainConfig,))
    monkeypatch.setattr(config_module, "TrainConfig", new)
    monkeypatch.setattr(et, "TrainConfig", new)


FLAT = {"seeds": 1, "heads": ("flat",)}


def test_a_changed_default_keeps_the_cell_id_but_retrains_finished_and_kept_cells(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    first, res = run(out, **FLAT)
    assert len(first.trained) == 5
    assert all(c["settings"]["val_fraction"] == 0.15 and c["label_version"] == 1 for c in res["cells"])
    ids = [c["id"] for c in res["cells"]]

    changed_default(monkeypatch, val_fraction=0.25)
    capsys.readouterr()
    again, res = run(out, **FLAT)  # cell folders still there: each is finished, but under the old default
    assert [c["id"] for c in res["cells"]] == ids  # the id cannot tell (only non-default settings are hashed)
    assert len(again.trained) == 5
    err = capsys.readouterr().err
    assert err.count("trained again") == 5 and "val_fraction 0.15 -> 0.25" in err
    assert all(c["settings"]["val_fraction"] == 0.25 for c in res["cells"])

    monkeypatch.setitem(loader.LABEL_VERSIONS, "synthetic", 2)  # a fixed label reader
    shutil.rmtree(out / "cells")  # kept records only, as in a clone of the repository
    third, res = run(out, **FLAT)
    assert len(third.trained) == 5
    assert all(c["label_version"] == 2 and not c.get("kept") for c in res["cells"])
    fourth, _ = run(out, **FLAT)
    assert fourth.trained == []  # nothing changed since: reused


def test_a_retrained_folder_loses_the_old_models_scores(tmp_path, monkeypatch):
    out = tmp_path / "grid"
    run(out, **FLAT)
    folder = next(p for p in (out / "cells").iterdir() if (p / ex.EVALS_FILE).is_file())
    (folder / ex.EVALS_FILE).write_text(json.dumps({c: {"icc31": -9.0} for c in ("none", "mask-full")}))
    changed_default(monkeypatch, rotation=0.05)
    _, res = run(out, **FLAT)
    assert all(ev["icc31"] != -9.0 for c in res["cells"] for ev in c["evaluations"].values())


def test_records_from_before_stored_settings_are_reused_with_a_note(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    run(out, **FLAT)
    for cell_json in (out / "cells").glob(f"*/{ex.CELL_FILE}"):  # as older cell folders hold them
        record = json.loads(cell_json.read_text())
        cell_json.write_text(json.dumps({k: v for k, v in record.items() if k not in ex.PROVENANCE_KEYS}))
    changed_default(monkeypatch, val_fraction=0.25)
    capsys.readouterr()
    folders, res = run(out, **FLAT)
    assert folders.trained == []
    assert capsys.readouterr().err.count("predates stored settings") == 5
    assert not any("settings" in c for c in res["cells"])  # not laundered into "checked" records

    shutil.rmtree(out / "cells")
    kept, res = run(out, **FLAT)  # the same from results.json records
    assert kept.trained == [] and all(c.get("kept") for c in res["cells"])
    assert capsys.readouterr().err.count("predates stored settings") == 5


def test_a_narrower_run_keeps_the_other_cells_records_for_a_wider_one(tmp_path):
    out = tmp_path / "grid"
    full, res = run(out, seeds=2)
    assert len(full.trained) == 20
    shutil.rmtree(out / "cells")  # cell folders are not committed
    narrow, res = run(out, seeds=1, heads=("flat",))
    assert narrow.trained == []
    assert len(res["cells"]) == res["cells_done"] == 5 and len(res["other_cells"]) == 15
    assert {r["head"] for r in res["rows"]} == {"Flat"} and all(r["n"] == 1 for r in res["rows"])
    assert "Max" not in (out / ex.TABLE_FILE).read_text().split("| Arch |")[1].split("\n\n")[0]
    wide, res = run(out, seeds=2)
    assert wide.trained == []
    assert len(res["cells"]) == 20 and res["other_cells"] == [] and all(r["n"] == 2 for r in res["rows"])


def test_dry_run_names_a_cell_to_train_again(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    run(out, **FLAT)
    changed_default(monkeypatch, zoom=0.2)
    capsys.readouterr()
    args = ["--table", "4.2", "--out", str(out), "--epochs", "1", "--seeds", "1", "--heads", "flat", "--dry-run"]
    assert ex.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(line.endswith("[to train again: settings or labels changed]") for line in lines)


def test_thresholds_are_read_only_for_occurrence_outputs():
    assert ex.run_thresholds({"thresholds": {"AU12_occluded": 0.5}}, "intensity", ["AU12"]) is None
    assert ex.run_thresholds({"thresholds": None}, "occurrence", ["AU12"]) is None
    both = {"thresholds": {"AU12": 0.4, "AU12_occluded": 0.5}}
    assert ex.run_thresholds(both, "occurrence", ["AU12"]) == [0.4]
    assert ex.run_thresholds(both, "occurrence", ["AU12", "AU4"]) is None


def test_scoring_an_intensity_run_with_occlusion_flags(tmp_path, monkeypatch, capsys):
    """The reviewer's keyerr.py: metrics.json's thresholds hold only the flag's; no KeyError."""
    keras = pytest.importorskip("keras")
    from auedge.train.config import build_config
    from auedge.train.research.score_run import main

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = build_config(None, {"task": "au12-intensity", "occlude_train": "mix", "occlude_val": "mix",
                              "occlusion_flags": True, "input_size": 32, "limit": 4, "synthetic_sizes": (4, 4, 4),
                              "cache_dir": str(tmp_path / "cache")})
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict() | {"crop": cfg.crop_params().to_dict()}))
    (run_dir / "metrics.json").write_text(json.dumps({"threshold": None, "thresholds": {"AU12_occluded": 0.5}}))

    def model(x, training=False):  # AU12 intensity and its flag
        return np.stack([np.linspace(0, 3, len(x)), np.full(len(x), 0.2)], axis=1).astype(np.float32)

    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: model)
    assert main(["--run", str(run_dir), "--occlude", "none,mask-full"]) == 0
    scores = json.loads((run_dir / "evaluations.json").read_text())
    assert set(scores) == {"none", "mask-full"} and "icc31" in scores["none"]
