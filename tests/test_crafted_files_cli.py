"""Crafted weights files through every tool that takes a checkpoint: code payloads (os.system / eval in a .pdparams,
a plain-pickle .pth, a zip .pth and a legacy .pth, nested in optimizer and RNG state) and memory bombs. Each run
exits 2 with one line on stderr naming the file, no payload runs, and all stay within 2 GiB of address space."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import crafted
import synthetic
from conftest import ROOT, TINY_MODEL
from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.config import load_config

FACADES = os.path.join(ROOT, "configs", "facades.yaml")
CONVERSIONS = (["--from", "pytorch"], ["--from", "paddlegan"], ["--to", "paddlegan"], ["--to", "safetensors"])


def _ppix2pix_like(place, payload):
    """A ppix2pix checkpoint dict with ``payload`` at ``place``: top level, optimizer or RNG state."""
    state = {"netG": {"w": np.zeros(2, np.float32)}, "config": {}, "format": "ppix2pix/1",
             "optimG": {"LR_Scheduler": {"last_epoch": 1}}, "rng": {"numpy": None}}
    {"top": state, "optimizer": state["optimG"]["LR_Scheduler"], "rng": state["rng"]}[place]["epoch"] = payload
    return state


@pytest.fixture(scope="module")
def crafted_files(tmp_path_factory):
    """(folder, marker the payloads would create, {name: crafted file}, data folder)."""
    folder = tmp_path_factory.mktemp("crafted")
    marker = folder / "pwned"
    payload = crafted.payloads(marker)
    pickles = {
        "evil.pdparams": pickle.dumps(_ppix2pix_like("top", payload["os.system"]), protocol=4),
        "evil_optimizer.pdparams": pickle.dumps(_ppix2pix_like("optimizer", payload["eval"]), protocol=2),
        "evil_rng.pdparams": pickle.dumps(_ppix2pix_like("rng", payload["os.system"]), protocol=4),
        "evil_plain.pth": pickle.dumps({"model.0.weight": payload["eval"]}, protocol=2),
        "memo_bomb.pdparams": crafted.memo_bomb(),
        "deep.pdparams": crafted.nested_pickle(100_000),
    }
    files = {}
    for name, data in pickles.items():
        (folder / name).write_bytes(data)
        files[name] = str(folder / name)
    files["evil_zip.pth"] = crafted.write_torch_zip(folder / "evil_zip.pth", {}, {},
                                                    pickled=pickle.dumps({"w": payload["os.system"]}, protocol=2))
    files["evil_legacy.pth"] = crafted.write_torch_legacy(folder / "evil_legacy.pth", {}, {},
                                                          pickled=pickle.dumps({"w": payload["eval"]}, protocol=2))
    files["zero_stride.pth"] = crafted.write_torch_zip(folder / "zero_stride.pth", *crafted.zero_stride_bomb())
    files["deflate_bomb.pth"] = crafted.write_deflate_bomb(folder / "deflate_bomb.pth")
    tensors, storages = crafted.zero_stride_bomb()
    tensors["model.model.0.weight"] = crafted.Tensor("0", 0, (2 ** 61,), (1,))
    storages["0"] = crafted.Storage("FloatStorage", 2 ** 61, bytes(4))
    files["legacy_count.pth"] = crafted.write_torch_legacy(folder / "legacy_count.pth", tensors, storages)
    huge = load_config(None, TINY_MODEL + ["model.generator.ngf=1048576"])  # terabytes if built before checking
    files["huge_config.pdparams"] = str(folder / "huge_config.pdparams")
    save_checkpoint({"netG": {"model.model.0.weight": np.zeros(4, np.float32)}, "config": huge},
                    files["huge_config.pdparams"])
    data = str(folder / "ab")
    synthetic.write_ab_folder(data, 2)
    return folder, marker, files, data


def _tool_runs(folder, files, data):
    """[tool, argv] for every crafted file through infer, eval, export, convert (all directions), train --resume."""
    for name, path in files.items():
        out = str(folder / "out" / name)
        yield ["infer", ["--checkpoint", path, "--input", data, "--output", out + "_infer"]]
        yield ["eval", ["--checkpoint", path, "--dataroot", data]]
        yield ["export", ["--checkpoint", path, "--output", out + "_export"]]
        for way in CONVERSIONS:
            yield ["convert", [path, *way, "--out", out + ".converted"]]
        yield ["train", ["-c", FACADES, "--resume", path, "-o", *TINY_MODEL, f"dataset.train.dataroot={data}",
                         "validate.interval=0", f"output_dir={out}_train"]]


def _assert_one_line_error(stderr, path, what):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and os.path.basename(path) in lines[0], (what, stderr)
    assert "MemoryError" not in stderr and "RecursionError" not in stderr and "OverflowError" not in stderr, what


def test_every_tool_refuses_every_crafted_file_in_one_line(crafted_files):
    folder, marker, files, data = crafted_files
    cases = list(_tool_runs(folder, files, data))
    (folder / "cases.json").write_text(json.dumps(cases))
    code = (f"import sys; sys.path[:0] = [{ROOT!r}, {os.path.join(ROOT, 'tests')!r}]; import crafted; "
            f"crafted.run_tools({str(folder / 'cases.json')!r}, {str(folder / 'results.json')!r})")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600,
                         preexec_fn=crafted.limit_address_space)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    assert len(results) == len(cases) == 8 * len(files)
    for result in results:
        what = f"{result['tool']} {' '.join(result['argv'][:4])}"
        assert result["code"] == 2, (what, result["stderr"])
        _assert_one_line_error(result["stderr"], next(arg for arg in result["argv"] if arg in files.values()), what)
    assert not marker.exists()


@pytest.mark.parametrize("tool,name", [("infer", "evil.pdparams"), ("train", "evil_rng.pdparams"),
                                       ("convert", "deflate_bomb.pth")])
def test_the_tool_scripts_exit_2_with_one_line(crafted_files, tool, name):
    """The real scripts, as a user runs them (nothing else on stderr, no traceback)."""
    folder, marker, files, data = crafted_files
    argv = next(argv for each, argv in _tool_runs(folder, {name: files[name]}, data) if each == tool)
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", f"{tool}.py"), *argv], capture_output=True,
                         text=True, cwd=ROOT, timeout=300, preexec_fn=crafted.limit_address_space)
    assert run.returncode == 2
    _assert_one_line_error(run.stderr, files[name], tool)
    assert not marker.exists()
