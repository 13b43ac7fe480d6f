"""Fuzzing every weights loader with mutated real checkpoints (tests/weights_fuzz.py): each case loads or raises a
one-line CheckpointError, never another exception, a crash or more than 1 GiB, within 2 GiB of address space."""
import json
import os
import subprocess
import sys

from conftest import ROOT
from crafted import limit_address_space


def test_mutated_checkpoints_load_or_give_a_checkpoint_error(tmp_path):
    result_path = tmp_path / "fuzz.json"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "weights_fuzz.py"), "20251206", "300",
                          str(result_path)], capture_output=True, text=True, timeout=300,
                         preexec_fn=limit_address_space)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(result_path.read_text())
    assert result["failures"] == []
    assert result["counts"]["ok"] > 20 and result["counts"]["refused"] > 200  # the mutations reach both outcomes
    assert result["peak_rss_mb"] < 1024
