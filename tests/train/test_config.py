import pytest
from auedge.train.config import ConfigError, Task, build_config


def test_task_parsing():
    assert Task.parse("au12-occurrence").aus == ("au12",)
    t = Task.parse("AU12+au4-intensity")
    assert t.aus == ("au12", "au4") and t.kind == "intensity" and t.au_names == ["AU12", "AU4"]
    for bad in ("au12", "smile-occurrence", "au12-strength", ""):
        with pytest.raises(ConfigError):
            Task.parse(bad)


def test_toml_then_flags_override(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('dataset = "synthetic"\nepochs = 3\n[optim]\nlr = 0.01\naugment = ["h", "b", "r"]\n')
    cfg = build_config(recipe, {"epochs": 5, "lr": None})
    assert cfg.epochs == 5 and cfg.lr == 0.01 and cfg.augment_set == {"h", "b", "r"}


def test_bad_settings_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="unknown arch"):
        build_config(None, {"arch": "vgg"})
    with pytest.raises(ConfigError, match="unknown augmentation"):
        build_config(None, {"augment": "h,q"})
    with pytest.raises(ConfigError, match="needs --data-dir"):
        build_config(None, {"dataset": "mtfl"})
    bad = tmp_path / "bad.toml"
    bad.write_text("epochz = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'epochz'"):
        build_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_config(broken)


def test_latest_run_skips_runs_still_training(tmp_path):
    import os

    from auedge.train.runs import RunError, find_latest_run

    done, busy = tmp_path / "done", tmp_path / "busy"
    for folder in (done, busy):
        folder.mkdir()
        (folder / "model.keras").write_bytes(b"x")
    (done / "config.json").write_text("{}")
    (done / "metrics.json").write_text("{}")
    (busy / "config.json").write_text("{}")  # an interrupted re-run into an old run's folder: no metrics.json
    os.utime(done / "model.keras", (1, 1))  # older than the busy run
    assert find_latest_run(tmp_path) == done
    (done / "config.json").unlink()
    with pytest.raises(RunError, match="python train/train.py"):
        find_latest_run(tmp_path)


def test_crop_method_reaches_the_crop_and_bad_ones_are_named():
    assert build_config(None, {"crop_method": "landmarks"}).crop_params().method == "landmarks"
    assert build_config(None, {}).crop_params().method == "eyes"
    with pytest.raises(ConfigError, match="crop method 'mesh' is not one of eyes, landmarks"):
        build_config(None, {"crop_method": "mesh"})


def test_keypoint_source_is_checked_and_refused_for_drawn_faces():
    assert build_config(None, {"dataset": "mtfl", "data_dir": "x", "task": "au12-occurrence",
                               "keypoints": "detector"}).keypoints == "detector"
    with pytest.raises(ConfigError, match="unknown keypoints 'eyes'"):
        build_config(None, {"keypoints": "eyes"})
    with pytest.raises(ConfigError, match="needs photos"):
        build_config(None, {"keypoints": "detector"})


def test_head_rows_name_the_task_au_and_map_to_output_indices(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('task = "au12+au4-occurrence"\n[model]\nhead_rows = { au4 = 5 }\n')
    assert build_config(recipe).output_rows() == {1: 5}
    with pytest.raises(ConfigError, match="head_rows names 'au9'"):
        build_config(None, {"task": "au12+au4-occurrence", "head_rows": {"au9": 5}})
    with pytest.raises(ConfigError, match="head_rows.au4 must be a whole number"):
        build_config(None, {"task": "au12+au4-occurrence", "head_rows": {"au4": "5"}})
    with pytest.raises(ConfigError, match="head_rows must be a table"):
        build_config(None, {"head_rows": 5})


def test_threshold_f1_within_names_task_aus_with_a_small_tolerance():
    cfg = build_config(None, {"task": "au12+au4-occurrence", "threshold_f1_within": {"AU4": 0.01}})
    assert cfg.f1_tolerances() == [0.0, 0.01]
    assert build_config(None, {"task": "au12+au4-occurrence"}).f1_tolerances() == [0.0, 0.0]
    with pytest.raises(ConfigError, match="threshold_f1_within names 'au9'"):
        build_config(None, {"task": "au12+au4-occurrence", "threshold_f1_within": {"au9": 0.01}})
    with pytest.raises(ConfigError, match=r"threshold_f1_within.au4 must be an F1 tolerance in \[0, 0.1\]"):
        build_config(None, {"task": "au12+au4-occurrence", "threshold_f1_within": {"au4": 0.5}})
    with pytest.raises(ConfigError, match="applies to occurrence tasks"):
        build_config(None, {"task": "au12+au4-intensity", "threshold_f1_within": {"au4": 0.01}})
