"""Every console script in setup.py and every tools/*.py wrapper reaches a CLI ``main`` that answers --help."""
import importlib
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def console_scripts():
    """[(script name, module, function)] declared in setup.py."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as handle:
        text = handle.read()
    return re.findall(r'"([\w-]+)=([\w.]+):(\w+)"', text)


def test_setup_declares_a_script_per_tool():
    scripts = {name for name, _, _ in console_scripts()}
    tools = {name[:-3] for name in os.listdir(os.path.join(ROOT, "tools")) if name.endswith(".py")}
    assert scripts == {"ppix2pix-" + tool.replace("_", "-") for tool in tools}


@pytest.mark.parametrize("name,module,function", console_scripts())
def test_console_script_target_is_a_cli_that_answers_help(name, module, function, capsys):
    main = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_tool_wrapper_runs_from_any_directory(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train.py"), "--help"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "usage:" in result.stdout


HELP_IN_FRESH_INTERPRETER = """
import runpy, sys
script, program = sys.argv[1], sys.argv[2]
sys.argv = [program, "--help"]
try:
    if script.endswith(".py"):
        runpy.run_path(script, run_name="__main__")
    else:
        module, function = script.split(":")
        getattr(__import__(module, fromlist=[function]), function)()
except SystemExit as done:
    assert done.code == 0, done.code
print("PADDLE LOADED" if "paddle" in sys.modules else "paddle not loaded")
"""


def _help(script, program):
    return subprocess.run([sys.executable, "-c", HELP_IN_FRESH_INTERPRETER, script, program], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})


@pytest.mark.parametrize("tool", sorted(name for name in os.listdir(os.path.join(ROOT, "tools"))
                                        if name.endswith(".py")))
def test_tool_help_parses_before_paddle_loads_and_names_the_script(tool):
    path = os.path.join(ROOT, "tools", tool)
    result = _help(path, path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {tool} ")
    assert result.stdout.rstrip().endswith("paddle not loaded")


@pytest.mark.parametrize("name,module,function", console_scripts())
def test_console_script_help_parses_before_paddle_loads_and_names_the_script(name, module, function):
    result = _help(f"{module}:{function}", os.path.join("/usr/local/bin", name))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {name} ")
    assert result.stdout.rstrip().endswith("paddle not loaded")
