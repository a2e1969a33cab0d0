"""The table runner without TensorFlow: cells from table definitions, resuming, and the written files.

Training is replaced by a fake ``fit`` that writes a run folder's ``metrics.json`` (what marks a
cell finished) and a fake scorer, so these tests check the bookkeeping, not the learning.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from auedge.train import trainer
from auedge.train.research import experiments as ex
from auedge.train.research.experiment_tables import MASKS, TABLES, TableError, cell_id, expand, get_table

BASE = {"dataset": "synthetic", "epochs": 2, "limit": 40}


def test_table_4_2_trains_each_configuration_once_per_seed():
    cells = expand(TABLES["4.2"], [0, 1], BASE)
    # none, mask-full, mask-half, mask-small, mix: for two heads and two seeds.
    assert len(cells) == 5 * 2 * 2
    assert len({c.id for c in cells}) == len(cells)
    assert [c.seed for c in cells] == [0] * 10 + [1] * 10  # seed-major, so a partial grid is a whole table
    for cell in cells:
        assert cell.config.occlude_train == cell.train_occluder == cell.config.occlude_val
        if cell.train_occluder == "none":  # the bare model serves T0/V0 and every T0/V1
            assert cell.evals == ("none", *MASKS)
        elif cell.train_occluder == "mix":
            assert set(cell.evals) == {"none", *MASKS}
        else:
            assert cell.evals == ("none", cell.train_occluder)


def test_every_row_of_a_table_is_served_by_exactly_one_cell_per_seed():
    table = TABLES["4.4"]
    cells = expand(table, [0], BASE)
    for row in table.rows():
        serving = [c for c in cells if c.setting == row.setting and c.train_occluder == row.train_occluder]
        assert len(serving) == 1 and row.eval_occluder in serving[0].evals, row.key


def test_rows_carry_the_reports_numbers():
    rows = TABLES["4.1"].rows()
    assert [r.report for r in rows] == [0.72, 0.70, 0.68, 0.72]
    assert [r.scenario for r in rows] == ["T0/V0"] * 4
    rows42 = TABLES["4.2"].rows()
    assert len(rows42) == 2 * (1 + 3 * 4 + 1)
    assert {r.report for r in rows42 if r.scenario == "T0/V0"} == {0.78}
    assert all(r.report is None for r in rows42 if r.scenario != "T0/V0")
    assert {r.report for r in TABLES["4.4"].rows() if r.scenario == "T0/V0"} == {0.30}


def test_cell_ids_depend_on_results_not_on_paths_or_threads():
    one = expand(TABLES["4.1"], [0], BASE)
    again = expand(TABLES["4.1"], [0], {**BASE, "threads": 2, "cache_dir": "/elsewhere"})
    longer = expand(TABLES["4.1"], [0], {**BASE, "epochs": 3})
    assert [c.id for c in one] == [c.id for c in again]
    assert not {c.id for c in one} & {c.id for c in longer}
    cfg = one[0].config
    cfg.out = "/some/where"
    assert cell_id(cfg) == one[0].id


def test_cells_that_paste_occluders_are_retrained_when_the_occluders_change(monkeypatch):
    from auedge.train.research import experiment_tables

    before = expand(TABLES["4.2"], [0], BASE)
    plain = expand(TABLES["4.1"], [0], BASE)
    monkeypatch.setattr(experiment_tables, "OCCLUDER_GEOMETRY", 99)
    after = expand(TABLES["4.2"], [0], BASE)
    assert not {c.id for c in before} & {c.id for c in after}  # T0 too: it is scored under masks
    assert [c.id for c in expand(TABLES["4.1"], [0], BASE)] == [c.id for c in plain]


def test_intensity_tables_are_refused_on_mtfl_with_the_fix():
    with pytest.raises(TableError, match="4.2-occurrence"):
        get_table("4.2", "mtfl")
    assert get_table("4.2-occurrence", "mtfl").metric == "f1"
    assert get_table("4.1", "mtfl").task == "au12-occurrence"


class FakeTraining:
    """Counts trainings and scorings; figures depend on the cell so averages can be checked."""

    def __init__(self, interrupt_at: int | None = None):
        self.fits: list[str] = []
        self.scored: list[tuple[str, tuple[str, ...]]] = []
        self.interrupt_at = interrupt_at

    def fit(self, cfg, out: Path):
        if self.interrupt_at is not None and len(self.fits) == self.interrupt_at:
            raise KeyboardInterrupt
        self.fits.append(cfg.occlude_train)
        out.mkdir(parents=True, exist_ok=True)
        value = 0.5 + 0.1 * cfg.seed + (0.05 if cfg.occlude_train == "mix" else 0.0)
        metrics = {"test": {"icc31": value, "groups": {}}, "seconds": 1.0, "best_epoch": 1,
                   "data": {"counts": {"train": 40, "val": 40, "test": 40}}}
        if cfg.occlude_val != "none":
            metrics["test_bare"] = {"icc31": value + 0.01}
        (out / "metrics.json").write_text(json.dumps(metrics))

    def evaluate(self, folder: Path, conditions: list[str]):
        self.scored.append((folder.name, tuple(conditions)))
        return {c: {"icc31": 0.3, "split": "test"} for c in conditions}


def grid_args(out: Path, *extra: str) -> list[str]:
    return ["--table", "4.2", "--dataset", "synthetic", "--out", str(out), "--epochs", "1", "--limit", "40",
            "--seeds", "2", "--heads", "flat", *extra]


def use_fake(monkeypatch, fake: FakeTraining) -> None:
    monkeypatch.setattr(trainer, "fit", fake.fit)
    monkeypatch.setattr(ex, "evaluate_run", fake.evaluate)


def test_second_invocation_trains_and_scores_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    first = FakeTraining()
    use_fake(monkeypatch, first)
    assert ex.main(grid_args(out)) == 0
    assert len(first.fits) == 5 * 2
    # Only the bare model needs reloading, for the occluders it was not validated on; mix for the masks.
    assert sorted(conds for _, conds in first.scored) == sorted([("mask-full", "mask-half", "mask-small")] * 4)

    second = FakeTraining()
    use_fake(monkeypatch, second)
    capsys.readouterr()
    assert ex.main([*grid_args(out), "--dry-run"]) == 0
    listing = capsys.readouterr().out.strip().splitlines()
    assert len(listing) == 10 and all(line.endswith("[finished]") for line in listing)
    assert ex.main(grid_args(out)) == 0
    assert second.fits == [] and second.scored == []
    results = json.loads((out / "results.json").read_text())
    assert results["cells_done"] == results["cells_total"] == 10


def test_an_interrupted_grid_resumes_with_the_missing_cells_only(tmp_path, monkeypatch):
    out = tmp_path / "grid"
    broken = FakeTraining(interrupt_at=3)
    use_fake(monkeypatch, broken)
    assert ex.main(grid_args(out)) == 130
    assert len(broken.fits) == 3
    assert "Partial:** 3 of 10" in (out / "table.md").read_text()

    resumed = FakeTraining()
    use_fake(monkeypatch, resumed)
    assert ex.main(grid_args(out)) == 0
    assert len(resumed.fits) == 10 - 3
    # A cell whose metrics.json vanished (killed mid-run) is trained again, and only it.
    victim = next((out / "cells").iterdir())
    (victim / "metrics.json").unlink()
    (victim / ex.EVALS_FILE).unlink()
    again = FakeTraining()
    use_fake(monkeypatch, again)
    assert ex.main(grid_args(out)) == 0
    assert len(again.fits) == 1


def test_markdown_json_and_chart_from_fake_results(tmp_path, monkeypatch):
    out = tmp_path / "grid"
    use_fake(monkeypatch, FakeTraining())
    assert ex.main(grid_args(out)) == 0
    md = (out / "table.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert "Synthetic faces" in md and "Smoke scale" in md
    assert f"python -m auedge.train.research.experiments {' '.join(grid_args(out))}" in md
    assert "--out " + str(out) + "-full" in md  # the full version goes to a folder of its own
    rows = {(r["head"], r["occluder"], r["scenario"]): r for r in results["rows"]}
    bare = rows[("Flat", "none", "T0/V0")]
    assert bare["values"] == [0.5, 0.6] and bare["seeds"] == [0, 1]
    assert bare["mean"] == pytest.approx(0.55) and bare["sd"] == pytest.approx(0.0707107, abs=1e-6)
    assert "| none | T0/V0 | 0.550 ± 0.071 | 2 | 0.78 |" in md
    assert rows[("Flat", "mask-full", "T0/V1")]["mean"] == pytest.approx(0.3)  # scored by reloading
    assert rows[("Flat", "mask-full", "T1/V0")]["mean"] == pytest.approx(0.56)  # the trainer's test_bare
    assert "| mask-half | T1/V1 | 0.550 ± 0.071 | 2 | n/a |" in md
    assert "T-mix against the per-occluder models" in md
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".gitignore"]
    assert (out / ".gitignore").read_text() == "cells/\n"


def test_real_data_tables_carry_no_synthetic_label(tmp_path, monkeypatch):
    res = {
        "table": "4.1", "title": "t", "task": "au12-occurrence", "metric": "f1", "metric_label": "F1",
        "dataset": "mtfl", "synthetic": False, "data_dir": "../shared/data/mtfl", "command": "cmd",
        "full_command": "full", "date": "d", "cells_total": 1, "cells_done": 1, "train_seconds": 60,
        "scale": {"smoke": False, "epochs": 12, "limit": None, "seeds": [0, 1, 2], "counts": None},
        "report_note": "", "settings_note": "", "comparison": [],
        "rows": [{"arch": "ResNet50", "optimizer": "Adam", "lr": 1e-4, "head": "Flat", "augment": "H/V/B",
                  "occluder": "none", "scenario": "T0/V0", "values": [0.7, 0.74, 0.78], "n": 3, "mean": 0.74,
                  "sd": 0.04, "report": 0.72, "setting": "s"}],
    }
    md = ex.render_markdown(res)
    assert "Synthetic" not in md and "Smoke" not in md and "Nothing learned" not in md
    assert "| ResNet50 | Adam | 1e-4 | Flat | H/V/B | none | T0/V0 | 0.740 ± 0.040 | 3 | 0.72 |" in md
    assert "Floor" not in md  # no figure, no line
    md = ex.render_markdown({**res, "all_positive_f1": 0.7054})
    assert "scores F1 0.705 on these faces" in md  # an F1 of 0.72 means little next to 0.705


def test_the_all_positive_floor_comes_from_the_cells():
    table = get_table("4.1", "mtfl")
    options = ex.options_from_args(ex.parse_args(["--table", "4.1", "--dataset", "mtfl", "--out", "x"]), [])
    records = [{"setting": "s", "train_occluder": "none", "seed": 0, "seconds": 1, "counts": None,
                "evaluations": {"none": {"f1": 0.74, "all_positive_f1": 0.7054}}}]
    assert ex.summarize(table, options, [], records)["all_positive_f1"] == pytest.approx(0.7054)
    assert ex.summarize(table, options, [], [])["all_positive_f1"] is None


def test_mix_verdict_checks_every_occluder_and_the_bare_loss():
    def comp(deltas, bare):
        return ([{"against": "T1/V1", "delta": d} for d in deltas] + [{"against": "T0/V0", "delta": bare}])

    assert "holds" in ex.mix_verdict(comp([0.1, 0.02, 0.01], -0.01)) and "NOT" not in ex.mix_verdict(
        comp([0.1, 0.02, 0.01], -0.01))
    assert "NOT" in ex.mix_verdict(comp([0.1, -0.01, 0.01], 0.0))
    assert "NOT" in ex.mix_verdict(comp([0.1, 0.1, 0.1], -0.03))


def test_bad_invocations_are_one_line_errors(tmp_path, capsys):
    assert ex.main(["--table", "4.2", "--dataset", "mtfl", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "4.2-occurrence" in err[0]
    assert ex.main(["--table", "4.2", "--out", str(tmp_path / "x"), "--seeds", "0"]) == 2
    assert ex.main(["--table", "4.2", "--out", str(tmp_path / "x"), "--heads", "round"]) == 2
    assert "round" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ex.main(["--table", "9.9", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_a_table_of_models_that_learned_nothing_says_so():
    rows = [{"scenario": "T0/V0", "mean": 0.003}, {"scenario": "T0/V1", "mean": 0.2}, {"scenario": "T0/V0", "mean": None}]
    assert ex.not_learned(rows)
    assert not ex.not_learned([{"scenario": "T0/V0", "mean": 0.4}, {"scenario": "T0/V0", "mean": 0.01}])
    assert not ex.not_learned([{"scenario": "T0/V0", "mean": None}])


def test_committed_results_stand_in_for_cell_folders_so_more_seeds_train_only_the_new_ones(tmp_path, monkeypatch,
                                                                                          capsys):
    out = tmp_path / "grid"
    one_seed = [a if a != "2" else "1" for a in grid_args(out)]  # --seeds 1
    use_fake(monkeypatch, FakeTraining())
    assert ex.main(one_seed) == 0
    first = json.loads((out / "results.json").read_text())
    shutil.rmtree(out / "cells")  # what a clone of the repository holds: results.json, no models

    more = FakeTraining()
    use_fake(monkeypatch, more)
    capsys.readouterr()
    assert ex.main([*grid_args(out), "--dry-run"]) == 0
    states = [line.rsplit("[", 1)[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert states.count("kept in results.json]") == 5 and states.count("to train]") == 5
    assert ex.main(grid_args(out)) == 0
    assert len(more.fits) == 5 and set(more.fits) == {"none", "mix", *MASKS}
    res = json.loads((out / "results.json").read_text())
    assert res["cells_done"] == 10 and sum(bool(c.get("kept")) for c in res["cells"]) == 5
    kept_values = {c["id"]: c["evaluations"] for c in res["cells"] if c.get("kept")}
    assert kept_values == {c["id"]: c["evaluations"] for c in first["cells"]}
    assert all(r["n"] == 2 for r in res["rows"])  # each row: the kept seed 0 and the new seed 1

    # A kept record lacking a condition the cell now needs is not enough: that cell is trained.
    res["cells"] = [c | {"evaluations": {}} if c.get("kept") and c["train_occluder"] == "none" else c
                    for c in res["cells"]]
    (out / "results.json").write_text(json.dumps(res))
    shutil.rmtree(out / "cells")
    again = FakeTraining()
    use_fake(monkeypatch, again)
    assert ex.main(grid_args(out)) == 0
    assert again.fits == ["none"]
