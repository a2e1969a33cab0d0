"""MODEL_CARD.md: every figure comes from the files it cites, and the card can be checked against them."""

from __future__ import annotations

import json

import pytest
from auedge.convert.model_card import render, rerender, sources_of


def write(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def sources(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    write(bundle / "bundle.json", {
        "name": "au12_au4_s1", "input": {"size": [160, 160]}, "face_detector": {"file": "fd.tflite"},
        "outputs": [{"au": "AU4", "kind": "occurrence", "threshold": 0.41, "meaning": "probability that AU4 is present"}],
        "training": {"arch": "mobilenetv2", "head": "flat", "parameters": 253316, "commit": "abc", "recipe": "r.toml",
                     "seed": 1, "run": "au12_au4_s1", "datasets": ["mtfl", "fer2013"], "epochs": 10}})
    metrics = write(tmp_path / "metrics.json", {"seconds": 600, "data": {"counts_by_dataset": {"test": {"fer2013": 3534}}},
                                               "test_grey48": {"aus": ["au12"], "colour": {"f1": 0.84, "roc_auc": 0.9},
                                                               "grey48": {"f1": 0.8, "roc_auc": 0.88}}})
    e2e = write(tmp_path / "e2e.json", {"dataset": "fer2013", "rows": [{"occluder": "none", "found_rate": 0.93, "outputs": {
        "AU4": {"device": {"f1": 0.612, "roc_auc": 0.811, "all_positive_f1": 0.55, "ci95": {"f1": [0.6, 0.63],
                                                                                             "roc_auc": [0.8, 0.82]}}}}}],
        "flag_f1": [{"occluder": "glasses-big", "flag": "AU4_occluded", "covered": True, "f1": 0.97,
                     "flagged_share": 0.95, "bare_flagged_share": 0.01}]})
    acc = write(tmp_path / "acc.json", {"dataset": {"name": "fer2013"}, "reference": {"row": "fp32"}, "results": {
        "none": {"fp32": {"AU4": {"f1": 0.61}}, "int8": {"AU4": {"f1": 0.609, "agreement_vs_float": 0.99,
                                                                "drop_vs_float": {"estimate": 0.001, "low": -0.002,
                                                                                  "high": 0.004}}}}}})
    return bundle, metrics, e2e, acc


def test_the_card_quotes_the_cited_figures_and_says_what_values_mean(sources):
    bundle, metrics, e2e, acc = sources
    card = render(bundle, metrics, [e2e], [acc])
    assert "| fer2013 | none | AU4 | 93.0% | 0.612 [0.600, 0.630] | 0.811 [0.800, 0.820] | 0.550 |" in card
    assert "| fer2013 | glasses-big | AU4_occluded | yes | 0.970 |" in card
    assert "0.0010 [-0.0020, 0.0040]" in card and "| grey48 | AU12 | 0.800 | 0.880 |" in card
    assert "probability that AU4 is present" in card and "Not a medical device" in card
    assert "commit `abc`" in card and "seed 1" in card
    assert sources_of(card)["end_to_end"] == [str(e2e)]


def test_a_card_whose_files_changed_no_longer_matches(sources):
    bundle, metrics, e2e, acc = sources
    card = render(bundle, metrics, [e2e], [acc])
    assert rerender(card) == card
    data = json.loads(e2e.read_text())
    data["rows"][0]["outputs"]["AU4"]["device"]["f1"] = 0.7
    e2e.write_text(json.dumps(data))
    assert rerender(card) != card
    with pytest.raises(ValueError, match="not a generated model card"):
        sources_of("# hand-written card")
