"""tools/train.py end to end in subprocesses: user errors, Ctrl-C save + resume, CPU data-parallel training."""
import os
import signal
import subprocess
import sys
import time

import pytest

import synthetic
from ppix2pix.weights import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "tools", "train.py")


@pytest.fixture
def train_args(tmp_path, tiny_overrides):
    train = tmp_path / "train"
    synthetic.write_ab_folder(str(train), 8)
    return ["-o", *tiny_overrides, f"dataset.train.dataroot={train}", "dataset.train.load_size=72",
            "dataset.train.crop_size=64", "model.direction=BtoA", "log_config.interval=1", "validate.interval=0",
            f"output_dir={tmp_path / 'out'}"]


def _env():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("OMP_NUM_THREADS", None)
    return env


def _run(args, **kwargs):
    return subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=600, **kwargs)


def test_unknown_config_key_exits_2_with_a_hint(tmp_path):
    result = _run(["-c", os.path.join(ROOT, "configs", "facades.yaml"), "-o", "model.generator.ngff=8"])
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "did you mean 'model.generator.ngf'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = _run(["-c", str(tmp_path / "missing.yaml")])
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path, train_args):
    config = os.path.join(ROOT, "configs", "facades.yaml")
    process = subprocess.Popen([sys.executable, TRAIN, "-c", config, *train_args, "total_iters=1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    deadline = time.time() + 300
    for line in process.stdout:
        if "iter 3/" in line or time.time() > deadline:
            break
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=300)
    assert process.returncode == 130, errors
    assert "interrupted at iteration" in output and "--resume auto" in output
    latest = load_checkpoint(str(tmp_path / "out" / "checkpoints" / "latest.pdparams"))
    stopped_at = latest["iteration"]
    assert 3 <= stopped_at < 1000

    resumed = _run(["-c", config, *train_args, f"total_iters={stopped_at + 2}", "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"from iteration {stopped_at}" in resumed.stdout
    assert load_checkpoint(str(tmp_path / "out" / "checkpoints" / "latest.pdparams"))["iteration"] == stopped_at + 2


def test_two_cpu_processes_train_in_step(tmp_path, train_args):
    """paddle.distributed.launch --nproc_per_node 2 on CPU: the ranks end with identical weights."""
    log_dir = tmp_path / "launch_logs"
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(log_dir),
               TRAIN, "-c", os.path.join(ROOT, "configs", "facades.yaml"), *train_args, "total_iters=6",
               "dataset.train.batch_size=2"]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=600)
    rank0 = (log_dir / "workerlog.0").read_text()
    assert result.returncode == 0, rank0[-3000:] + result.stderr[-2000:]
    assert "data parallel on 2 processes: global batch 4" in rank0
    assert "weights identical on all 2 ranks" in rank0
    assert "training 6 iterations (3 epochs x 2)" in rank0  # 8 pairs, 2 ranks, batch 2
    assert load_checkpoint(str(tmp_path / "out" / "netG.pdparams"))["iteration"] == 6


def _jpeg_pairs_with_a_truncated_last_file(folder, count=8):
    """``count`` synthetic AB JPEGs in ``folder``; the last one is cut in half (as a broken download is)."""
    paths = synthetic.write_ab_folder(str(folder), count, ext=".jpg")
    data = open(paths[-1], "rb").read()
    with open(paths[-1], "wb") as handle:
        handle.write(data[:len(data) // 2])
    return paths[-1]


@pytest.fixture
def truncated_args(tmp_path, tiny_overrides):
    bad = _jpeg_pairs_with_a_truncated_last_file(tmp_path / "train")
    args = ["-c", os.path.join(ROOT, "configs", "facades.yaml"), "-o", *tiny_overrides,
            f"dataset.train.dataroot={tmp_path / 'train'}", "dataset.train.load_size=72", "dataset.train.crop_size=64",
            "validate.interval=0", "total_iters=2", f"output_dir={tmp_path / 'out'}"]
    return args, bad


def test_a_truncated_jpeg_stops_training_before_its_first_iteration(tmp_path, truncated_args):
    args, bad = truncated_args
    result = _run(args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 3 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: ") and bad in lines[0] and "truncated" in lines[0]
    assert "prepare_data.py check" in lines[0] and "bad_files: skip" in lines[0]
    assert " iter 1/" not in result.stdout and not os.path.exists(tmp_path / "out" / "checkpoints" / "latest.pdparams")
    log = (tmp_path / "out" / "train.log").read_text()
    assert lines[0] in log


def test_bad_files_skip_trains_without_the_truncated_pair_and_logs_it(tmp_path, truncated_args):
    args, bad = truncated_args
    result = _run([*args, "dataset.train.bad_files=skip"])
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "out" / "train.log").read_text()
    assert "dropped 1 pair with 1 bad file: " + bad in log
    assert "(1 epoch x 7)" in log and "training finished at iteration 2" in log
