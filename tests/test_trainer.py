"""Training engine: exact resume, checkpoints, VisualDL steps, validation, NaN stop, config/checkpoint mismatch."""
import errno
import json
import os
import shutil

import numpy as np
import paddle
import pytest
from visualdl import LogReader

import synthetic
from ppix2pix.checkpoint_files import _link_or_copy
from ppix2pix.config import load_config
from ppix2pix.errors import CheckpointError, ConfigError, DataError, TrainingError
from ppix2pix.trainer import Trainer
from ppix2pix.schedulers import linear_decay_factor
from ppix2pix.weights import load_checkpoint


@pytest.fixture
def data_dirs(tmp_path):
    train, test = tmp_path / "train", tmp_path / "test"
    synthetic.write_ab_folder(str(train), 10, seed=0)
    synthetic.write_ab_folder(str(test), 3, seed=9)
    return str(train), str(test)


def _config(tmp_path, data_dirs, tiny_overrides, *extra, name="run"):
    train, test = data_dirs
    return load_config(None, tiny_overrides + [
        f"dataset.train.dataroot={train}", f"dataset.test.dataroot={test}", "dataset.train.load_size=72",
        "dataset.train.crop_size=64", "dataset.test.crop_size=64", "dataset.train.batch_size=2",
        "model.direction=BtoA", "log_config.interval=2", "log_config.visiual_interval=3", "snapshot_config.interval=1",
        f"output_dir={tmp_path / name}", "seed=7", *extra])


def _weights(path, key="netG"):
    return {name: np.asarray(value) for name, value in load_checkpoint(path)[key].items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_resume_mid_epoch_continues_exactly(tmp_path, data_dirs, tiny_overrides):
    """7 steps + resume + 7 steps gives the same weights as 14 steps in one run (5 steps per epoch)."""
    straight = _config(tmp_path, data_dirs, tiny_overrides, "total_iters=14", name="straight")
    Trainer(straight).train()
    first = _config(tmp_path, data_dirs, tiny_overrides, "total_iters=7", "snapshot_config.interval_iters=7",
                    name="resumed")
    Trainer(first).train()
    second = _config(tmp_path, data_dirs, tiny_overrides, "total_iters=14", name="resumed")
    trainer = Trainer(second, resume="auto")
    assert (trainer.epoch, trainer.iteration) == (1, 7)
    trainer.train()
    for key in ("netG", "netD"):
        _assert_same_weights(_weights(str(tmp_path / "straight/checkpoints/latest.pdparams"), key),
                             _weights(str(tmp_path / "resumed/checkpoints/latest.pdparams"), key))
    a = load_checkpoint(str(tmp_path / "straight/checkpoints/latest.pdparams"))
    b = load_checkpoint(str(tmp_path / "resumed/checkpoints/latest.pdparams"))
    # after epochs 1 and 2 and at the end (iteration 14); the resumed run also validated where its first part ended
    assert [record["iteration"] for record in a["history"]] == [5, 10, 14]
    assert [record["iteration"] for record in b["history"]] == [5, 7, 10, 14]
    assert a["history"] == [record for record in b["history"] if record["iteration"] != 7]
    for name, value in a["optimG"].items():
        if hasattr(value, "shape"):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(b["optimG"][name]), err_msg=name)


def test_checkpoint_contents_and_retention(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=4", "snapshot_config.keep_last=2")
    Trainer(cfg).train()
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(os.listdir(folder)) == ["epoch_3.pdparams", "epoch_4.pdparams", "latest.pdparams"]
    state = load_checkpoint(str(folder / "latest.pdparams"))
    assert {"netG", "netD", "optimG", "optimD", "epoch", "iteration", "config", "rng", "format"} <= set(state)
    assert (state["epoch"], state["iteration"]) == (4, 20)
    assert state["config"] == cfg
    assert os.path.samefile(folder / "latest.pdparams", folder / "epoch_4.pdparams")
    weights = load_checkpoint(str(tmp_path / "run" / "netG.pdparams"))
    assert set(weights) >= {"netG", "config"} and "optimG" not in weights
    assert os.path.isfile(tmp_path / "run" / "best_netG.pdparams")
    assert os.path.isfile(tmp_path / "run" / "config.yaml") and os.path.isfile(tmp_path / "run" / "train.log")
    assert not [name for name in os.listdir(folder) if "tmp" in name]


def _no_links(*_):
    raise OSError(errno.EPERM, "hard links not supported here")


@pytest.fixture
def synced(monkeypatch):
    """The inode numbers of the files and folders fsynced from now on."""
    inodes, fsync = [], os.fsync
    monkeypatch.setattr(os, "fsync", lambda descriptor: (inodes.append(os.fstat(descriptor).st_ino),
                                                         fsync(descriptor))[1])
    return inodes


@pytest.mark.parametrize("links", [True, False])
def test_latest_is_replaced_durably_by_a_link_or_a_synced_copy(tmp_path, monkeypatch, synced, links):
    source, latest = tmp_path / "epoch_2.pdparams", tmp_path / "latest.pdparams"
    source.write_bytes(b"new")
    latest.write_bytes(b"old")
    (tmp_path / "latest.pdparams.tmp").write_bytes(b"left by a crash")
    if not links:
        monkeypatch.setattr(os, "link", _no_links)
    _link_or_copy(str(source), str(latest))
    assert latest.read_bytes() == b"new" and os.path.samefile(source, latest) == links
    assert sorted(os.listdir(tmp_path)) == ["epoch_2.pdparams", "latest.pdparams"]
    assert os.stat(tmp_path).st_ino in synced  # the folder holding the new name
    assert links or os.stat(latest).st_ino in synced  # the copy's data


def test_a_failed_copy_of_latest_keeps_the_old_one_and_leaves_no_temporary(tmp_path, monkeypatch):
    source, latest = tmp_path / "epoch_2.pdparams", tmp_path / "latest.pdparams"
    source.write_bytes(b"new")
    latest.write_bytes(b"old")

    def disk_full(_, target):
        with open(target, "wb") as handle:
            handle.write(b"ne")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", _no_links)
    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space"):
        _link_or_copy(str(source), str(latest))
    assert latest.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["epoch_2.pdparams", "latest.pdparams"]


def _read_vdl(folder):
    logs = [name for name in os.listdir(folder) if name.startswith("vdlrecords")]
    return LogReader(file_path=os.path.join(folder, logs[0]))


def test_visualdl_records_use_the_global_step(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2")
    Trainer(cfg).train()
    reader = _read_vdl(str(tmp_path / "run" / "vdl"))
    assert [record.id for record in reader.get_data("scalar", "train/G_L1")] == [2, 4, 5, 6, 8, 10]
    assert [record.id for record in reader.get_data("scalar", "val/psnr")] == [5, 10]
    assert [record.id for record in reader.get_data("image", "train/input_output_target")] == [3, 6, 9]
    lrs = [record.value for record in reader.get_data("scalar", "train/lr")]
    assert lrs and all(value == pytest.approx(2e-4) for value in lrs)


def test_intervals_of_0_switch_periodic_work_off_and_keep_the_final_checkpoint(tmp_path, data_dirs,
                                                                               tiny_overrides):
    """0 once raised ZeroDivisionError mid-training (for snapshot_config.interval after the epoch was counted, so the
    epoch was lost); now log lines come once per epoch and the only checkpoint is the final one."""
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2", "log_config.interval=0",
                  "log_config.visiual_interval=0", "snapshot_config.interval=0", "snapshot_config.interval_iters=0",
                  "validate.interval=0")
    Trainer(cfg).train()
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["epoch_2.pdparams", "latest.pdparams"]
    reader = _read_vdl(str(tmp_path / "run" / "vdl"))
    assert [record.id for record in reader.get_data("scalar", "train/G_L1")] == [5, 10]
    assert "train/input_output_target" not in reader.get_tags().get("image", [])


def test_validation_history_best_and_images(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2", "validate.best_metric=l1",
                  "validate.save_img=true")
    trainer = Trainer(cfg)
    history = trainer.train()
    assert [record["epoch"] for record in history] == [1, 2]
    assert all(set(record) >= {"l1", "psnr", "ssim", "iteration"} for record in history)
    with open(tmp_path / "run" / "metrics.json") as handle:
        assert json.load(handle) == history
    assert trainer.best["l1"] == min(record["l1"] for record in history)
    best = load_checkpoint(str(tmp_path / "run" / "best_netG.pdparams"))
    assert best["iteration"] == trainer.best["iteration"]
    images = sorted(os.listdir(tmp_path / "run" / "validation" / "epoch_2"))
    assert images == ["000.png", "001.png", "002.png"]
    from ppix2pix.data import read_image
    assert read_image(str(tmp_path / "run" / "validation" / "epoch_2" / "000.png")).shape == (64, 192, 3)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=3", "snapshot_config.interval_iters=2",
                  "log_config.interval=1")
    trainer = Trainer(cfg)
    real_step = trainer.model.train_step

    def poisoned_step(real_input, real_target):
        losses = real_step(real_input, real_target)
        if trainer.iteration >= 2:
            losses["G_L1"] = losses["G_L1"] * float("nan")
        return losses

    trainer.model.train_step = poisoned_step
    with pytest.raises(TrainingError, match="G_L1 became NaN/inf at iteration 3.*iter_2|latest"):
        trainer.train()
    state = load_checkpoint(str(tmp_path / "run" / "checkpoints" / "latest.pdparams"))
    assert state["iteration"] == 2
    assert all(np.isfinite(np.asarray(v)).all() for v in state["netG"].values())


def test_resume_with_another_architecture_is_refused(tmp_path, data_dirs, tiny_overrides):
    Trainer(_config(tmp_path, data_dirs, tiny_overrides, "total_iters=2")).train()
    other = _config(tmp_path, data_dirs, tiny_overrides, "model.generator.ngf=8", "total_iters=4")
    with pytest.raises(CheckpointError, match="model.generator.ngf: checkpoint 16 vs config 8"):
        Trainer(other, resume="auto")


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path, data_dirs, tiny_overrides):
    trainer = Trainer(_config(tmp_path, data_dirs, tiny_overrides, "total_iters=1"), resume="auto")
    assert trainer.iteration == 0


def test_missing_data_folder_fails_before_anything_is_written(tmp_path, tiny_overrides):
    cfg = load_config(None, tiny_overrides + [f"dataset.train.dataroot={tmp_path / 'nope'}",
                                              f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(ConfigError, match="dataset.train.dataroot: folder .* does not exist"):
        Trainer(cfg)
    assert not os.path.exists(tmp_path / "out")


def test_linear_decay_matches_the_reference_rule():
    factors = [linear_decay_factor(epoch, 100, 100) for epoch in range(200)]
    assert factors[:100] == [1.0] * 100
    assert factors[100] == pytest.approx(1 - 1 / 101) and factors[199] == pytest.approx(1 / 101)
    assert all(a > b for a, b in zip(factors[99:], factors[100:]))


@pytest.mark.parametrize("policy,expected", [
    ("LinearDecay", [2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3]),
    ("StepDecay", [2e-4, 2e-4, 2e-5, 2e-5]),
    ("CosineAnnealingDecay", [2e-4, 2e-4 * (1 + np.cos(np.pi / 4)) / 2, 1e-4, 2e-4 * (1 + np.cos(3 * np.pi / 4)) / 2]),
])
def test_lr_policies_per_epoch(tmp_path, data_dirs, tiny_overrides, policy, expected):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=4", f"lr_scheduler.name={policy}",
                  "lr_scheduler.start_epoch=2", "lr_scheduler.decay_epochs=2", "lr_scheduler.step_size=2",
                  "validate.interval=0")
    trainer = Trainer(cfg)
    seen = []
    real_end = trainer._end_epoch

    def record_then_end():
        seen.append(trainer.model.optimizers["optimG"].get_lr())
        assert trainer.model.optimizers["optimD"].get_lr() == seen[-1]
        real_end()

    trainer._end_epoch = record_then_end
    trainer.train()
    assert seen == pytest.approx(expected)


def test_plateau_policy_lowers_lr_when_validation_stalls(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=3", "lr_scheduler.name=ReduceOnPlateau",
                  "lr_scheduler.patience=0")
    trainer = Trainer(cfg)
    trainer.validate = lambda: {"l1": 0.5, "psnr": 20.0, "ssim": 0.5, "count": 3}  # a stalled metric
    trainer.train()
    # epoch 1 sets the best; epochs 2 and 3 do not improve, each drop multiplies lr by factor 0.2
    assert trainer.model.optimizers["optimG"].get_lr() == pytest.approx(2e-4 * 0.2 ** 2)
    assert trainer.model.optimizers["optimD"].get_lr() == pytest.approx(2e-4 * 0.2 ** 2)


def test_amp_on_cpu_warns_and_trains_in_float32(tmp_path, data_dirs, tiny_overrides, capsys):
    trainer = Trainer(_config(tmp_path, data_dirs, tiny_overrides, "total_iters=1", "amp=true"))
    trainer.train()
    assert not trainer.model.amp
    assert "amp is ignored on CPU" in capsys.readouterr().out


def test_a_short_run_validates_at_its_end_whatever_the_interval(tmp_path, data_dirs, tiny_overrides):
    """3 epochs with validate.interval 5 once wrote no metrics.json and no best_netG.pdparams."""
    trainer = Trainer(_config(tmp_path, data_dirs, tiny_overrides, "epochs=3", "validate.interval=2"))
    history = trainer.train()
    assert [(record["epoch"], record["iteration"]) for record in history] == [(2, 10), (3, 15)]
    with open(tmp_path / "run" / "metrics.json") as handle:
        assert json.load(handle) == history
    assert load_checkpoint(str(tmp_path / "run" / "best_netG.pdparams"))["iteration"] == trainer.best["iteration"]
    assert load_checkpoint(str(tmp_path / "run" / "checkpoints" / "latest.pdparams"))["history"] == history


def _poison_after(trainer, iteration, path):
    """Make ``path`` unreadable once ``iteration`` steps are done (as a file replaced on disk during training)."""
    real_step = trainer.model.train_step

    def step(real_input, real_target):
        losses = real_step(real_input, real_target)
        if trainer.iteration + 1 == iteration:
            with open(path, "wb") as handle:
                handle.write(b"\xff\xd8 not a jpeg any more")
        return losses

    trainer.model.train_step = step


@pytest.mark.parametrize("workers", [0, 1])
def test_a_file_gone_bad_during_training_stops_it_with_a_checkpoint(tmp_path, data_dirs, tiny_overrides, workers):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2", "validate.interval=0", "log_config.interval=1",
                  f"dataset.train.num_workers={workers}")
    trainer = Trainer(cfg)
    bad = os.path.join(data_dirs[0], "004.png")
    _poison_after(trainer, 1, bad)
    with pytest.raises(DataError, match="004.png.*training stopped at iteration") as error:
        trainer.train()
    message = str(error.value)
    assert "\n" not in message and "bad_files: skip" in message and "--resume auto" in message
    stopped = int(message.split("training stopped at iteration ")[1].split(";")[0])
    assert stopped >= 1 and load_checkpoint(str(tmp_path / "run" / "checkpoints" / "latest.pdparams"))[
        "iteration"] == stopped
    assert message in (tmp_path / "run" / "train.log").read_text()


def test_a_file_gone_bad_during_training_is_skipped_under_skip(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2", "validate.interval=0",
                  "dataset.train.bad_files=skip")
    trainer = Trainer(cfg)
    bad = os.path.join(data_dirs[0], "004.png")
    _poison_after(trainer, 1, bad)
    trainer.train()
    assert trainer.iteration == 10
    log = (tmp_path / "run" / "train.log").read_text()
    assert log.count("skipped a pair that cannot be read (bad_files: skip): image " + bad) == 1


def test_runs_are_separated_in_train_log_and_the_data_check_is_cached(tmp_path, data_dirs, tiny_overrides):
    Trainer(_config(tmp_path, data_dirs, tiny_overrides, "total_iters=1")).train()
    Trainer(_config(tmp_path, data_dirs, tiny_overrides, "total_iters=2"), resume="auto").train()
    lines = (tmp_path / "run" / "train.log").read_text().splitlines()
    separators = [line for line in lines if "==== run started" in line]
    assert len(separators) == 2 and separators[0].endswith("new run ====")
    assert separators[1].endswith("resume from auto ====")
    checks = [line for line in lines if "data check (fast) of dataset.train" in line]
    assert "(10 checked, 0 unchanged" in checks[0] and "(0 checked, 10 unchanged" in checks[1]


def test_weights_only_snapshots_keep_latest_resumable(tmp_path, data_dirs, tiny_overrides):
    cfg = _config(tmp_path, data_dirs, tiny_overrides, "epochs=2", "validate.interval=0",
                  "snapshot_config.weights_only=true")
    Trainer(cfg).train()
    folder = tmp_path / "run" / "checkpoints"
    snapshot, latest = load_checkpoint(str(folder / "epoch_2.pdparams")), load_checkpoint(str(folder / "latest.pdparams"))
    assert {"netG", "netD", "config", "iteration"} <= set(snapshot) and "optimG" not in snapshot
    assert {"optimG", "optimD", "rng"} <= set(latest) and latest["iteration"] == 10
    _assert_same_weights(_weights(str(folder / "epoch_2.pdparams")), _weights(str(folder / "latest.pdparams")))
    assert os.path.getsize(folder / "epoch_2.pdparams") < os.path.getsize(folder / "latest.pdparams") / 2
    resumed = Trainer(_config(tmp_path, data_dirs, tiny_overrides, "epochs=3", "validate.interval=0",
                              "snapshot_config.weights_only=true"), resume="auto")
    assert resumed.iteration == 10
