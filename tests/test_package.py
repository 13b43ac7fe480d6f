"""Packaging and start-up behaviour: the Paddle import message and the CPU runtime defaults."""
import os
import subprocess
import sys

import pytest

from ppix2pix import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_python(code, env_update=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_update or {})
    env["PYTHONPATH"] = ROOT
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_import_without_paddle_says_how_to_install():
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'paddle' or name.startswith('paddle.'):\n"
               "            raise ImportError('No module named paddle')\n"
               "sys.meta_path.insert(0, Block())\n"
               "import ppix2pix\n"
               "print('imported')\n"
               "import ppix2pix.networks\n")
    result = _run_python(blocker)
    assert result.stdout.strip() == "imported"  # ppix2pix itself does not need Paddle: the first module that does
    assert result.returncode != 0
    assert "pip install paddlepaddle" in result.stderr and "paddlepaddle-gpu" in result.stderr


def test_thread_count_defaults_to_usable_cores_and_is_logged():
    result = _run_python("import ppix2pix, os, ppix2pix.networks; from ppix2pix.runtime import runtime_summary; "
                         "print(os.environ['OMP_NUM_THREADS']); print(runtime_summary())",
                         drop=("OMP_NUM_THREADS", runtime.DISABLE_VARIABLE))
    lines = result.stdout.splitlines()
    assert lines[0] == str(runtime.usable_cores())
    assert "OMP_NUM_THREADS" in lines[1] and "usable cores" in lines[1]
    assert "OMP_NUM_THREADS set to" not in result.stderr  # Paddle's banner is not shown


def test_importing_ppix2pix_leaves_paddle_unloaded_until_a_module_needs_it():
    result = _run_python("import sys, ppix2pix; print('paddle' in sys.modules); import ppix2pix.networks, paddle; "
                         "print('paddle' in sys.modules, paddle.__spec__.loader is paddle.__loader__)")
    assert result.stdout.split() == ["False", "True", "True"], result.stderr


def test_user_thread_setting_is_kept():
    result = _run_python("import ppix2pix, os; print(os.environ['OMP_NUM_THREADS'])",
                         {"OMP_NUM_THREADS": "1"}, drop=(runtime.DISABLE_VARIABLE,))
    assert result.stdout.strip() == "1"


def test_tuning_can_be_switched_off():
    result = _run_python("import os; import ppix2pix; from ppix2pix.runtime import runtime_summary; "
                         "print(runtime_summary())", {runtime.DISABLE_VARIABLE: "1"}, drop=("OMP_NUM_THREADS",))
    assert "off" in result.stdout


@pytest.fixture
def fresh_runtime(monkeypatch):
    monkeypatch.setattr(runtime, "_notes", [])
    monkeypatch.setattr(runtime, "_applied", {})
    monkeypatch.delitem(sys.modules, "paddle", raising=False)
    for name in ("OMP_NUM_THREADS", "MKL_DEBUG_CPU_TYPE", runtime.DISABLE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_amd_cpus_get_the_mkl_code_path(fresh_runtime):
    fresh_runtime.setattr(runtime, "cpu_vendor", lambda: "AuthenticAMD")
    runtime.tune_cpu_runtime()
    assert os.environ["MKL_DEBUG_CPU_TYPE"] == "5"


def test_intel_cpus_keep_mkl_defaults(fresh_runtime):
    fresh_runtime.setattr(runtime, "cpu_vendor", lambda: "GenuineIntel")
    runtime.tune_cpu_runtime()
    assert "MKL_DEBUG_CPU_TYPE" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == str(runtime.usable_cores())


def test_user_mkl_setting_is_kept(fresh_runtime):
    fresh_runtime.setattr(runtime, "cpu_vendor", lambda: "AuthenticAMD")
    fresh_runtime.setenv("MKL_DEBUG_CPU_TYPE", "2")
    runtime.tune_cpu_runtime()
    assert os.environ["MKL_DEBUG_CPU_TYPE"] == "2"
    assert "kept (set by user)" in runtime.runtime_summary()
