"""One tiny real cell end to end: synthetic faces, 32 per split, 64 px, one epoch.

Checks what the fakes cannot: that the trainer's run folder is what the runner reads, and that
scoring a reloaded model (the T0/V1 path) reproduces the trainer's own test figure exactly.
"""

from __future__ import annotations

import json

import pytest
from auedge.train.research import experiments as ex
from auedge.train.research.experiment_tables import TABLES, Setting, TableDef


@pytest.fixture
def tiny_table(monkeypatch):
    table = TableDef("tiny", "AU12 intensity, one bare cell", "au12-intensity", "icc31", (),
                     (Setting("mobilenetv2", "adam", 1e-3, "flat", "h,b"),), report=((None, "none", "T0/V0", 0.78),))
    monkeypatch.setitem(TABLES, "tiny", table)
    return table


def test_one_real_cell_end_to_end(tmp_path, tiny_table):
    out = tmp_path / "grid"
    args = ["--table", "tiny", "--dataset", "synthetic", "--out", str(out), "--limit", "32", "--epochs", "1",
            "--seeds", "1", "--input-size", "64", "--batch-size", "16", "--cache-dir", str(tmp_path / "cache")]
    assert ex.main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["cells_done"] == 1 and results["synthetic"] is True
    (cell,) = results["cells"]
    folder = out / "cells" / cell["id"]
    assert {"model.keras", "metrics.json", "config.json", "evaluations.json"} <= {p.name for p in folder.iterdir()}
    assert cell["counts"] == {"train": 32, "val": 32, "test": 32}
    trained = json.loads((folder / "metrics.json").read_text())["test"]

    # The reload path scores the same model on the same faces as the trainer did.
    rescored = ex.evaluate_run(folder, ["none", "mask-full"])
    assert rescored["none"]["mae"] == pytest.approx(trained["mae"], abs=1e-5)
    assert rescored["none"]["n"] == trained["n"] == 32
    assert rescored["mask-full"]["mae"] != pytest.approx(trained["mae"], abs=1e-9)  # the mask changed the input

    row = results["rows"][0]
    assert row["n"] == 1 and row["values"][0] == pytest.approx(trained["icc31"], nan_ok=True)
    md = (out / "table.md").read_text()
    assert "| MobileNetV2 | Adam | 1e-3 | Flat | H/B | none | T0/V0 |" in md and "0.78 |" in md
    assert (out / "chart.png").stat().st_size > 1000


def test_score_run_cli_reproduces_the_trainer_and_merges(tmp_path, tiny_table, capsys):
    """train/research/score_run.py on a finished run: "none" equals the trainer's own test figure, a mask
    changes it, and a second call adds conditions to evaluations.json instead of replacing them."""
    from auedge.train.research import score_run

    out = tmp_path / "grid"
    assert ex.main(["--table", "tiny", "--dataset", "synthetic", "--out", str(out), "--limit", "32", "--epochs", "1",
                    "--seeds", "1", "--input-size", "64", "--batch-size", "16",
                    "--cache-dir", str(tmp_path / "cache")]) == 0
    (folder,) = (out / "cells").iterdir()
    (folder / "evaluations.json").unlink()
    trained = json.loads((folder / "metrics.json").read_text())["test"]
    assert score_run.main(["--run", str(folder), "--occlude", "none"]) == 0
    assert score_run.main(["--run", str(folder), "--occlude", "mask-full"]) == 0
    printed = capsys.readouterr().out
    assert "| mask-full | test |" in printed
    stored = json.loads((folder / "evaluations.json").read_text())
    assert set(stored) == {"none", "mask-full"}
    assert stored["none"]["mae"] == pytest.approx(trained["mae"], abs=1e-5)
    assert stored["mask-full"]["mae"] != pytest.approx(trained["mae"], abs=1e-9)


def test_score_run_refuses_bad_input_with_one_line(tmp_path, capsys):
    from auedge.train.research import score_run

    assert score_run.main(["--run", str(tmp_path), "--occlude", "scarf"]) == 2
    assert score_run.main(["--run", str(tmp_path / "nope"), "--occlude", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert "scarf" in err[0] and "config.json" in err[1]
    assert not (tmp_path / "evaluations.json").exists()
