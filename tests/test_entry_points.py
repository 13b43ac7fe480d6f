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
