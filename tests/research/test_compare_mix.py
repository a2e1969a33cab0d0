"""train/research/compare_mix.py: T-mix against specialists from stored evaluations (no training, no TensorFlow)."""

from __future__ import annotations

import json
import shutil

import pytest
from auedge.train.research import compare_mix, score_run


def _run(tmp_path, name: str, f1: dict[str, float]):
    folder = tmp_path / name
    folder.mkdir()
    evals = {c: {"f1": v, "roc_auc": v + 0.05, "all_positive_f1": 0.705} for c, v in f1.items()}
    (folder / "evaluations.json").write_text(json.dumps(evals), encoding="utf-8")
    return folder


def _args(tmp_path, t0, tmix, t1):
    return ["--t0", str(t0), "--tmix", str(tmix), "--t1", f"mask-full={t1}", "--out", str(tmp_path / "out")]


def test_verdict_holds_only_when_mix_beats_the_specialist_and_keeps_bare(tmp_path, capsys):
    t0 = _run(tmp_path, "t0", {"none": 0.84, "mask-full": 0.55})
    t1 = _run(tmp_path, "t1", {"none": 0.80, "mask-full": 0.70})
    good = _run(tmp_path, "good", {"none": 0.83, "mask-full": 0.72})
    assert compare_mix.main(_args(tmp_path, t0, good, t1)) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "Claim holds" in res["verdict"]
    deltas = {c["against"]: round(c["delta"], 3) for c in res["comparison"]}
    assert deltas == {"T0/V0": -0.01, "T1/V1": 0.02}
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| mask-full | T1/V1 | 0.700 |" in table and "+0.020" in table and "F1 0.705" in table

    bare_loss = _run(tmp_path, "bare_loss", {"none": 0.80, "mask-full": 0.75})  # -0.04 on bare faces
    assert compare_mix.main(_args(tmp_path, t0, bare_loss, t1)) == 0
    assert "does NOT hold" in json.loads((tmp_path / "out" / "results.json").read_text())["verdict"]
    capsys.readouterr()


def test_missing_conditions_are_scored_and_stored(tmp_path, monkeypatch, capsys):
    t0 = _run(tmp_path, "t0", {"none": 0.84})
    t1 = _run(tmp_path, "t1", {"none": 0.80, "mask-full": 0.70})
    tmix = _run(tmp_path, "tmix", {"none": 0.83, "mask-full": 0.66})
    asked = []

    def fake_evaluate(run, conditions, split="test"):
        asked.append((run.name, tuple(conditions)))
        return {c: {"f1": 0.5, "roc_auc": 0.6} for c in conditions}

    monkeypatch.setattr(score_run, "evaluate_run", fake_evaluate)
    assert compare_mix.main(_args(tmp_path, t0, tmix, t1)) == 0
    assert asked == [("t0", ("mask-full",))]
    stored = json.loads((t0 / "evaluations.json").read_text())
    assert set(stored) == {"none", "mask-full"} and stored["none"]["f1"] == 0.84
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["mask-full", "scarf=runs/x"])
def test_a_bad_t1_is_one_error_line(tmp_path, bad, capsys):
    code = compare_mix.main(["--t0", "a", "--tmix", "b", "--t1", bad, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "OCCLUDER=RUN" in err
    assert not (tmp_path / "o").exists()


def test_seeds_give_mean_sd_and_paired_deltas(tmp_path, capsys):
    t0 = [_run(tmp_path, f"t0_{s}", {"none": v, "mask-full": 0.55}) for s, v in ((2, 0.83), (3, 0.85))]
    t1 = [_run(tmp_path, f"t1_{s}", {"none": 0.80, "mask-full": v}) for s, v in ((2, 0.70), (3, 0.72))]
    mix = [_run(tmp_path, f"mix_{s}", {"none": 0.83, "mask-full": v}) for s, v in ((2, 0.71), (3, 0.70))]
    argv = ["--out", str(tmp_path / "out")]
    for a, b, c in zip(t0, mix, t1, strict=True):
        argv += ["--t0", str(a), "--tmix", str(b), "--t1", f"mask-full={c}"]
    assert compare_mix.main(argv) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    row = next(r for r in res["rows"] if r["scenario"] == "T1/V1")
    assert row["n"] == 2 and row["mean"] == pytest.approx(0.71) and row["sd"] == pytest.approx(0.0141421, abs=1e-6)
    occluded = next(c for c in res["comparison"] if c["against"] == "T1/V1")
    assert [round(d, 3) for d in occluded["deltas"]] == [0.01, -0.02]
    assert "wins 1 of 2 seeds" in res["seed_verdict"] and "does NOT hold" in res["verdict"]  # mean -0.005
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| mask-full | T1/V1 | 0.710 ± 0.014 | 2 | 0.700, 0.720 |" in table and "+0.010, -0.020" in table
    capsys.readouterr()


def test_kept_scores_stand_in_for_runs_no_longer_on_disk(tmp_path, capsys):
    old = {"metric": "f1", "rows": [  # the one-run-per-row layout of the first results.json
        {"run": "runs/gone_t0", "eval_occluder": "none", "mean": 0.83, "roc_auc": 0.9, "all_positive_f1": 0.705},
        {"run": "runs/gone_t0", "eval_occluder": "mask-full", "mean": 0.65, "roc_auc": 0.58},
        {"run": "runs/gone_mix", "eval_occluder": "none", "mean": 0.82, "roc_auc": 0.89},
        {"run": "runs/gone_mix", "eval_occluder": "mask-full", "mean": 0.69, "roc_auc": 0.66},
        {"run": "runs/gone_t1", "eval_occluder": "none", "mean": 0.68, "roc_auc": 0.69},
        {"run": "runs/gone_t1", "eval_occluder": "mask-full", "mean": 0.70, "roc_auc": 0.69}]}
    kept = tmp_path / "old.json"
    kept.write_text(json.dumps(old))
    t0 = _run(tmp_path, "t0", {"none": 0.85, "mask-full": 0.60})
    t1 = _run(tmp_path, "t1", {"none": 0.70, "mask-full": 0.72})
    mix = _run(tmp_path, "mix", {"none": 0.84, "mask-full": 0.73})
    out = tmp_path / "out"
    argv = ["--t0", "runs/gone_t0", "--t0", str(t0), "--tmix", "runs/gone_mix", "--tmix", str(mix),
            "--t1", "mask-full=runs/gone_t1", "--t1", f"mask-full={t1}", "--scores-from", str(kept), "--out", str(out)]
    assert compare_mix.main(argv) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["sources"]["runs/gone_t0"].startswith("kept") and res["sources"][str(t0)] == "run folder"
    bare = next(r for r in res["rows"] if r["scenario"] == "T0/V0")
    assert bare["values"] == [0.83, 0.85]
    # The new results.json keeps every run's scores, so it stands in for all six once the folders are gone too.
    for folder in (t0, t1, mix):
        shutil.rmtree(folder)
    assert compare_mix.main([*argv[:-4], "--scores-from", str(out / "results.json"), "--out", str(tmp_path / "o2")]) == 0
    again = json.loads((tmp_path / "o2" / "results.json").read_text())
    assert again["rows"] == res["rows"] and set(again["sources"].values()) == {"kept scores (--scores-from)"}
    capsys.readouterr()


def test_a_missing_run_without_kept_scores_is_one_error_line(tmp_path, capsys):
    t1 = _run(tmp_path, "t1", {"none": 0.70, "mask-full": 0.72})
    code = compare_mix.main(["--t0", str(tmp_path / "nowhere"), "--tmix", str(t1), "--t1", f"mask-full={t1}",
                             "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nowhere" in err and "--scores-from" in err
    assert not (tmp_path / "o").exists()


def test_the_trainers_own_test_scores_are_used_not_recomputed(tmp_path, monkeypatch, capsys):
    t0 = _run(tmp_path, "t0", {"none": 0.84, "mask-full": 0.55})
    tmix = _run(tmp_path, "tmix", {"none": 0.83, "mask-full": 0.66})
    t1 = tmp_path / "t1"  # a fresh run: the trainer tested it under its own occluder and bare, nothing else
    t1.mkdir()
    (t1 / "config.json").write_text(json.dumps({"occlude_val": "mask-full"}))
    (t1 / "metrics.json").write_text(json.dumps({"test": {"f1": 0.70, "roc_auc": 0.69, "groups": {}},
                                                 "test_bare": {"f1": 0.67, "roc_auc": 0.68}}))
    monkeypatch.setattr(score_run, "evaluate_run", lambda run, conds, split="test": pytest.fail(f"scored {run} again"))
    assert compare_mix.main(_args(tmp_path, t0, tmix, t1)) == 0
    rows = {r["scenario"]: r["values"] for r in json.loads((tmp_path / "out" / "results.json").read_text())["rows"]}
    assert rows["T1/V1"] == [0.70] and rows["T1/V0"] == [0.67]
    capsys.readouterr()


def test_validation_split_uses_val_files_and_refuses_test_scores(tmp_path, monkeypatch, capsys):
    """--split val never reads or writes a run's testing scores, and kept testing scores cannot stand in."""
    t0 = _run(tmp_path, "t0", {"none": 0.84, "mask-full": 0.55})  # evaluations.json: testing, must stay unused
    tmix = _run(tmp_path, "tmix", {"none": 0.83, "mask-full": 0.66})
    t1 = tmp_path / "t1"
    t1.mkdir()
    (t1 / "config.json").write_text(json.dumps({"occlude_val": "mask-full"}))
    (t1 / "metrics.json").write_text(json.dumps({"val": {"f1": 0.74, "roc_auc": 0.7, "groups": {}},
                                                 "test": {"f1": 0.70}, "test_bare": {"f1": 0.67}}))
    asked = []

    def fake_evaluate(run, conditions, split="test"):
        assert split == "val"
        asked.append((run.name, tuple(conditions)))
        return {c: {"f1": {"t0": 0.8, "tmix": 0.77, "t1": 0.6}[run.name], "split": "val"} for c in conditions}

    monkeypatch.setattr(score_run, "evaluate_run", fake_evaluate)
    assert compare_mix.main([*_args(tmp_path, t0, tmix, t1), "--split", "val"]) == 0
    assert asked == [("t0", ("none", "mask-full")), ("tmix", ("none", "mask-full")), ("t1", ("none",))]
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    rows = {r["scenario"]: r["values"] for r in res["rows"] if r["occluder"] == "mask-full"}
    assert res["split"] == "val" and rows["T1/V1"] == [0.74] and rows["T-mix/V1"] == [0.77]  # the trainer's val
    assert set(json.loads((t0 / "evaluations_val.json").read_text())) == {"none", "mask-full"}
    assert json.loads((t0 / "evaluations.json").read_text())["none"]["f1"] == 0.84
    assert "| mask-full | T1/V1 | 0.740 |" in (tmp_path / "out" / "table.md").read_text()
    assert "val f1" in (tmp_path / "out" / "table.md").read_text() and "occluded val sets" in res["verdict"]

    test_res = tmp_path / "test_res.json"
    test_res.write_text(json.dumps({"metric": "f1", "scores": {}}))
    code = compare_mix.main([*_args(tmp_path, t0, tmix, t1), "--split", "val", "--scores-from", str(test_res)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--split val" in err
