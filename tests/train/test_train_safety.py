"""Refusals and run-folder safety of the training stage: bad recipe values are one ConfigError naming
the key; data problems are DataErrors (one line from train.py); an intensity task on 0/1 codes is
refused; a forced re-run never leaves a new model next to the old run's config; occurrence targets
do not depend on the split; the trainer does not hold the whole crop set next to its splits.

The trainer is driven with a fake ``load_crops`` and, where it gets that far, a tiny model, so no
test here trains a real backbone.
"""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import numpy as np
import pytest
from auedge.train import trainer
from auedge.train.config import ConfigError, TrainConfig, build_config
from auedge.train.data import CropSet, DataError
from auedge.train.train import main as train_main

# ---------------------------------------------------------------- recipes


@pytest.mark.parametrize(("text", "key", "hint"), [
    ("brightness = 0.5\n", "brightness", "[0.5, 1.5]"),
    ('flip_average = "false"\n', "flip_average", "flip_average = false"),
    ('epochs = "12"\n', "epochs", "epochs = 12"),
    ('input_size = "96"\n', "input_size", "input_size = 96"),
    ("limit = 0\n", "limit", "at least 1"),
    ("rotation = -3.0\n", "rotation", "[0, 0.5]"),
    ("zoom = 5.0\n", "zoom", "[0, 1)"),
    ("brightness = [1.5, -2.0]\n", "brightness", "0 < low <= high"),
    ('occlude_val = "hat"\n', "occlude_val", "mask-full"),
    ("synthetic_sizes = [10, 0, 0]\n", "synthetic_sizes", "1 validation face"),
    ("seed = -1\n", "seed", "0 or more"),
    ("occlusion_flags = 1\n", "occlusion_flags", "true or false"),
    ("lr = nan\n", "lr", "finite number"),
    ("batch_size = 0\n", "batch_size", "at least 1"),
    ('data_dir = 3\n', "data_dir", "path string"),
])
def test_a_bad_recipe_value_is_one_config_error_naming_the_key(tmp_path, text, key, hint):
    recipe = tmp_path / "r.toml"
    recipe.write_text(text)
    with pytest.raises(ConfigError) as info:
        build_config(recipe)
    message = str(info.value)
    assert message.startswith(key) and hint in message and "\n" not in message


def test_every_setting_has_a_checked_type():
    from dataclasses import fields

    from auedge.train import config as c

    checked = {*c.STR_FIELDS, *c.OPTIONAL_STR_FIELDS, *c.FLOAT_FIELDS, *c.INT_FIELDS, *c.OPTIONAL_INT_FIELDS,
               *c.BOOL_FIELDS, "brightness", "synthetic_sizes", "extra", "downsample_size", "jpeg_quality",
               "source_weights", "emotion_aus", "head_rows", "threshold_f1_within"}
    assert checked == {f.name for f in fields(TrainConfig)}
    # A table-valued setting at a recipe's top level is read as that setting, not as a section.
    assert c.TABLE_SETTINGS == {f.name for f in fields(TrainConfig) if str(f.type).startswith("dict")}
    build_config(None, {})  # the defaults pass their own checks


def test_a_setting_given_in_two_tables_is_refused(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text("seed = 0\n[data]\nseed = 1\n[optim]\nlr = 0.01\n")
    with pytest.raises(ConfigError, match=r"'seed' is given in the top level and in \[data\]; keep one"):
        build_config(recipe)
    recipe.write_text("[data]\nseed = 1\n[optim]\nseed = 2\n")
    with pytest.raises(ConfigError, match=r"'seed' is given in \[data\] and in \[optim\]"):
        build_config(recipe)


def test_good_recipes_still_load(tmp_path):
    from importlib.resources import files

    recipes = sorted(p.name for p in files("auedge.train.configs").iterdir() if p.name.endswith(".toml"))
    assert {"mtfl_au12.toml", "mtfl_au12_tmix.toml", "synthetic_default.toml"} <= set(recipes)
    for name in recipes:
        cfg = build_config(files("auedge.train.configs") / name, {"data_dir": "x"})
        assert cfg.brightness == (0.5, 1.5)
    assert build_config(None, {"occlude_train": "Mask-Full"}).occlude_train == "mask-full"


def test_limit_zero_on_the_command_line_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(trainer, "fit", lambda cfg, out: pytest.fail("must not train"))
    assert train_main(["--limit", "0", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: limit must be at least 1")


def test_intensity_tasks_are_refused_on_mtfl_in_the_config():
    with pytest.raises(ConfigError, match="use --task au12-occurrence"):
        build_config(None, {"dataset": "mtfl", "data_dir": "x", "task": "au12-intensity"})
    assert build_config(None, {"dataset": "mtfl", "data_dir": "x", "task": "au12-occurrence"}).dataset == "mtfl"


# ---------------------------------------------------------------- the trainer on fake data

SIZE = 32


def crop_set(labels, splits) -> CropSet:
    labels = np.asarray(labels, np.float32).reshape(len(splits), -1)
    n = len(splits)
    rng = np.random.default_rng(0)
    return CropSet(images=rng.integers(0, 255, (n, SIZE, SIZE, 3), dtype=np.uint8),
                   landmarks=np.tile(np.array([[10, 12], [22, 12], [16, 18], [11, 24], [21, 24]], np.float32),
                                     (n, 1, 1)),
                   labels=labels, aus=["au12"], split=np.array(splits), subjects=np.array([f"s{i}" for i in range(n)]),
                   paths=np.array([f"p{i}" for i in range(n)]))


class Stop(Exception):
    """Raised by the fake build_model: the trainer got past its data checks."""


@pytest.fixture
def fake_data(monkeypatch):
    """Point the trainer at a fake load_crops; returns a setter for what it gives."""
    import auedge.train.data as data_module

    monkeypatch.setattr(trainer, "keep_freed_memory", lambda: False)
    given = {}

    def load_crops(*args, **kwargs):
        return given.pop("set")

    monkeypatch.setattr(data_module, "load_crops", load_crops)

    def give(labels, splits):
        given["set"] = crop_set(labels, splits)
        return given["set"]

    return give


def stop_at_model(monkeypatch, loaded: weakref.ref) -> list[bool]:
    """build_model raises Stop; the list records whether the loaded CropSet was still alive then."""
    alive: list[bool] = []

    def build_model(*args, **kwargs):
        gc.collect()
        alive.append(loaded() is not None)
        raise Stop

    monkeypatch.setattr(trainer, "build_model", build_model)
    return alive


def cfg(**overrides) -> TrainConfig:
    return build_config(None, {"input_size": SIZE, "epochs": 1, "batch_size": 4, "augment": "none", **overrides})


def test_an_empty_validation_split_is_a_data_error_and_one_line(tmp_path, fake_data, capsys):
    fake_data([0, 1], ["train", "train"])
    with pytest.raises(DataError, match="2 training and 0 validation images"):
        trainer.fit(cfg(task="au12-occurrence"), tmp_path / "run")
    fake_data([0, 1], ["train", "train"])
    assert train_main(["--task", "au12-occurrence", "--input-size", str(SIZE), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("error:")] == err[-1:] and "0 validation" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_an_unlabelled_au_is_a_data_error(tmp_path, fake_data):
    fake_data([np.nan, np.nan, 1.0], ["train", "train", "val"])
    with pytest.raises(DataError, match="no training face has a label for au12"):
        trainer.fit(cfg(task="au12-occurrence"), tmp_path / "run")


def test_an_intensity_task_on_occurrence_codes_is_refused(tmp_path, fake_data):
    fake_data([0, 1, 1, 0, np.nan, 1], ["train"] * 4 + ["val"] * 2)
    with pytest.raises(DataError, match="0 or 1.*--task au12-occurrence"):
        trainer.fit(cfg(task="au12-intensity"), tmp_path / "run")


def test_real_intensities_train_and_the_whole_crop_set_is_not_held(tmp_path, fake_data, monkeypatch):
    alive = stop_at_model(monkeypatch, weakref.ref(fake_data([0, 1, 2.5, 0.4, 3, 1], ["train"] * 4 + ["val"] * 2)))
    with pytest.raises(Stop):  # past the label checks: the intensities are real
        trainer.fit(cfg(task="au12-intensity"), tmp_path / "run")
    assert alive == [False], "fit still holds the full CropSet next to its train/val/test copies"


def test_synthetic_intensities_pass_the_label_check():
    from auedge.train.data import synthetic

    faces = synthetic.generate(12, seed=1, image_size=64)
    trainer.check_intensity_labels(np.stack([faces.au12, faces.au4], axis=1), "au12+au4-intensity", "synthetic")


def tiny_model(*args, outputs=1, input_size=SIZE, **kwargs):
    import keras

    return keras.Sequential([keras.Input((input_size, input_size, 3)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(outputs, activation="sigmoid")])


def test_a_forced_rerun_interrupted_after_its_first_checkpoint_is_not_a_finished_run(tmp_path, fake_data,
                                                                                     monkeypatch):
    from auedge.train.runs import RunError, find_latest_run, read_run

    pytest.importorskip("keras")
    monkeypatch.setattr(trainer, "build_model", tiny_model)
    labels, splits = [0, 1, 1, 0, 1, 0, 1, 0, 1, 0], ["train"] * 4 + ["val"] * 2 + ["test"] * 4
    runs = tmp_path / "runs"
    run = runs / "old"
    fake_data(labels, splits)
    trainer.fit(cfg(task="au12-occurrence"), run)  # a whole run: both markers, found as the latest
    assert find_latest_run(runs) == run and json.loads((run / "metrics.json").read_text())["best_epoch"] == 1

    real_save = trainer.save_model_atomic

    def save_then_interrupt(model, path):
        real_save(model, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_model_atomic", save_then_interrupt)
    fake_data(labels, splits)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(cfg(task="au12-occurrence", seed=1), run)  # train.py --force into the same folder
    assert (run / "model.keras").is_file()  # the new, partial model...
    assert not (run / "config.json").exists() and not (run / "metrics.json").exists()  # ...and no old markers
    with pytest.raises(RunError):
        find_latest_run(runs)
    with pytest.raises(RunError, match="config.json not found"):
        read_run(run)


# ---------------------------------------------------------------- targets


def test_occurrence_targets_do_not_depend_on_the_split():
    small = np.array([[0.6], [0.9], [np.nan], [0.0]], np.float32)
    wide = np.array([[0.6], [2.0], [1.0]], np.float32)
    assert np.array_equal(trainer.task_targets(small, "occurrence"), [[0], [0], [np.nan], [0]], equal_nan=True)
    assert np.array_equal(trainer.task_targets(wide, "occurrence"), [[0], [1], [1]])
    codes = np.array([[0.0], [1.0]], np.float32)
    assert np.array_equal(trainer.task_targets(codes, "occurrence"), codes)
    assert np.array_equal(trainer.task_targets(small, "intensity"), small, equal_nan=True)


def test_the_interrupt_message_says_the_folder_is_unfinished(tmp_path, monkeypatch, capsys):
    def interrupted(cfg, out, recipe=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "fit", interrupted)
    assert train_main(["--out", str(tmp_path / "run")]) == 130
    assert "unfinished" in capsys.readouterr().err


def test_find_latest_run_needs_both_markers(tmp_path):
    from auedge.train.runs import find_latest_run

    for name, files in (("a", ("model.keras", "config.json", "metrics.json")), ("b", ("model.keras", "config.json"))):
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f).write_text("{}")
    assert find_latest_run(tmp_path) == Path(tmp_path / "a")


def test_the_tmix_recipe_is_the_bare_recipe_plus_what_experiments_mtfl_tmix_e36_trained():
    """The shipped occlusion-aware recipe must stay the one whose figures its comment quotes."""
    import dataclasses
    from importlib.resources import files

    recipes = files("auedge.train.configs")
    tmix = build_config(recipes / "mtfl_au12_tmix.toml", {"data_dir": "x"})
    bare = build_config(recipes / "mtfl_au12.toml", {"data_dir": "x", "occlude_train": "mix", "occlude_val": "mix",
                                                     "occlusion_flags": True, "epochs": 36})
    assert dataclasses.asdict(tmix) == dataclasses.asdict(bare)
