"""train/compare_mix.py: T-mix against specialists from stored evaluations (no training, no TensorFlow)."""

from __future__ import annotations

import json

import pytest
from auedge.train import compare_mix, score_run


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

    def fake_evaluate(run, conditions):
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
