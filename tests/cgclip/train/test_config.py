"""Training config: presets, overrides, and errors for keys that do not exist."""

from __future__ import annotations

import pytest

from cgclip.errors import UserError
from cgclip.train.config import TrainConfig, load_train_config
from tests.support import REPO_ROOT

PRESETS = sorted((REPO_ROOT / "configs" / "train").glob("*.yaml"))


def test_all_presets_exist_and_validate():
    names = {p.stem for p in PRESETS}
    assert {"mars", "ilidsvid", "lsvid", "sportsvreid", "dancevreid", "synthetic"} <= names
    for path in PRESETS:
        cfg = load_train_config(path)
        assert cfg.data.dataset == path.stem


def test_presets_follow_table_s7():
    mars = load_train_config(REPO_ROOT / "configs/train/mars.yaml")
    assert mars.model.overrides["tfe_queries"] == 50
    assert (mars.optim.epochs, mars.optim.milestones) == (80, (30, 50, 70))
    sports = load_train_config(REPO_ROOT / "configs/train/sportsvreid.yaml")
    assert sports.optim.weight_decay == 2.5e-4 and sports.optim.epochs == 60
    ilids = load_train_config(REPO_ROOT / "configs/train/ilidsvid.yaml")
    assert ilids.optim.weight_decay == 1e-4 and ilids.model.overrides["tfe_queries"] == 15
    for cfg in (mars, sports, ilids):
        assert (cfg.sampler.ids_per_batch, cfg.sampler.tracklets_per_id) == (8, 4)
        assert (cfg.optim.lr, cfg.optim.warmup_lr, cfg.optim.warmup_epochs) == (5e-6, 5e-7, 10)
        assert (cfg.loss.ce_weight, cfg.loss.triplet_weight, cfg.loss.v2rm_weight) == (0.25, 1, 1)


def test_overrides_are_parsed_and_coerced():
    cfg = load_train_config(
        None,
        [
            "optim.lr=1e-4",  # YAML reads this as a string; coerced to float
            "optim.milestones=[5, 8]",
            "model.overrides.tfe_keys=cls",
            "data.options.split=3",
            "run.resume=false",
        ],
    )
    assert cfg.optim.lr == 1e-4 and cfg.optim.milestones == (5, 8)
    assert cfg.model.overrides == {"tfe_keys": "cls"}
    assert cfg.data.options == {"split": 3}
    assert cfg.run.resume is False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.learning_rate=1", r"unknown setting\(s\) optim.learning_rate"),
        ("optimizer.lr=1", r"unknown setting\(s\) optimizer"),
        ("model.overrides.tfe_querys=3", r"model config: unknown setting\(s\) tfe_querys"),
        ("optim.epochs=many", "optim.epochs must be a whole number"),
        ("run.resume=maybe", "run.resume must be true or false"),
        ("data.text=poem", "data.text"),
        ("loss.parts=[f, q]", "loss.parts"),
        ("model.overrides.num_classes=3", "set from the dataset"),
        ("sampler.ids_per_batch=1", "ids_per_batch"),
        ("run.amp=fp8", "run.amp"),
        ("data.val_carve=teams", "data.val_carve"),
        ("data.generate=huge", "not a synthetic preset"),
        ("data.dataset=mars", "only applies to data.dataset=synthetic"),
        ("optim.lr", "expected section.key=value"),
    ],
)
def test_bad_keys_and_values_are_user_errors(override, message):
    with pytest.raises(UserError, match=message):
        load_train_config(None, ["data.generate=test", override])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UserError, match="training config not found"):
        load_train_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [unclosed")
    with pytest.raises(UserError, match="not valid YAML"):
        load_train_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="mapping"):
        load_train_config(listy)


def test_round_trip_through_dict():
    cfg = load_train_config(REPO_ROOT / "configs/train/mars.yaml")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-0.1", r"optim.lr must be a finite number in \(0, inf\), got -0.1"),
        ("optim.lr=.nan", r"optim.lr must be a finite number in \(0, inf\), got nan"),
        ("optim.lr=nan", r"optim.lr must be a finite number"),
        ("optim.lr=0", r"optim.lr must be a finite number in \(0, inf\)"),
        ("optim.weight_decay=.inf", "optim.weight_decay must be a finite number"),
        ("augment.flip_prob=2", r"augment.flip_prob must be a finite number in \[0, 1\]"),
        ("augment.erase_area=[0.5, 0.1]", "augment.erase_area"),
        ("model.overrides.memory_momentum=.nan", "memory_momentum must be a finite number"),
    ],
)
def test_numbers_that_make_no_sense_name_the_field(override, message):
    with pytest.raises(UserError, match=message) as err:
        load_train_config(None, ["data.generate=test", override])
    assert "\n" not in str(err.value)


def test_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("optim:\n  lr: -1\n")
    with pytest.raises(UserError, match=rf"^{path}: optim.lr must be a finite number"):
        load_train_config(path)
