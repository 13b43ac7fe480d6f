"""The documentation stays true: configs load, the config reference matches the schema, README_cn.md keeps in step
with README.md, and the quickstart runs (on tiny settings)."""
import gc
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from ppix2pix.config import iter_schema, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READMES = ["README.md", "README_cn.md"]


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def _code_blocks(text):
    return re.findall(r"```(?:bash|python|)\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml"))),
                         ids=lambda path: os.path.basename(path))
def test_every_shipped_config_loads_and_validates(path):
    cfg = load_config(path)
    assert cfg["dataset"]["train"]["dataroot"] and cfg["output_dir"]


def _reference_rows(text):
    section = text.split("<!-- config-reference:start -->")[1].split("<!-- config-reference:end -->")[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def _expand(key):
    match = re.search(r"\{([^}]+)\}", key)
    if not match:
        return [key]
    return [key[:match.start()] + option + key[match.end():] for option in match.group(1).split(",")]


@pytest.mark.parametrize("readme", READMES)
def test_config_reference_lists_every_key_with_its_default(readme):
    rows = _reference_rows(_read(readme))
    documented = {}
    for key, default in rows.items():
        for expanded in _expand(key):
            documented[expanded] = default
    schema = {key: default for key, default, _ in iter_schema()}
    assert set(documented) == set(schema)
    for key, default in schema.items():
        shown = documented[key].replace("`", "")
        text = default if isinstance(default, str) else json.dumps(default)
        assert text in shown, (key, shown, text)


def test_chinese_readme_keeps_every_command_of_the_english_one():
    english, chinese = _code_blocks(_read("README.md")), _code_blocks(_read("README_cn.md"))
    assert english == chinese


def _quickstart_steps():
    """The tools/*.py commands of quickstart.sh as argument lists, the script's own $ROOT and "$@" left out."""
    script = _read("quickstart.sh").replace("\\\n", " ")
    return [[word for word in shlex.split(line.replace("$ROOT/", "")) if word != "$@"]
            for line in script.splitlines() if line.strip().startswith("python \"$ROOT/tools/")]


def test_readme_quickstart_steps_are_the_script_steps():
    readme = _read("README.md").split("## Quickstart")[1].split("\n## ")[0]
    block = _code_blocks(readme)[1]
    assert [shlex.split(line) for line in block.strip().splitlines()] == _quickstart_steps()


def test_quickstart_runs_end_to_end_on_tiny_settings(tmp_path):
    """bash quickstart.sh (no venv, in a scratch folder, 6 iterations): data, training, results page."""
    env = dict(os.environ, PPIX2PIX_NO_VENV="1", PPIX2PIX_WORKDIR=str(tmp_path),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    result = subprocess.run(["bash", os.path.join(ROOT, "quickstart.sh"), "-o", "total_iters=6",
                             "log_config.interval=2", "validate.max_images=2"],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert os.path.isfile(tmp_path / "output" / "demo" / "netG.pdparams")
    assert os.path.isfile(tmp_path / "output" / "demo" / "results" / "index.html")
    assert "open " in result.stdout


@pytest.mark.parametrize("readme", READMES)
def test_readme_reader_snippet_runs_on_generated_data(readme, tmp_path, monkeypatch):
    """The brief's reader snippet, exactly as the README shows it, on AB images at data/data10830."""
    from data_helpers import ab_tree

    snippet = _read(readme).split("<!-- reader-snippet:start -->")[1].split("<!-- reader-snippet:end -->")[0]
    (code,) = _code_blocks(snippet)
    ab_tree(tmp_path / "data" / "data10830", {"train": 2, "test": 1}, size=256)
    monkeypatch.chdir(tmp_path)

    class CFG:
        """Any class, as the README says."""

    namespace = {"CFG": CFG}
    exec(compile(code, f"{readme} reader snippet", "exec"), namespace)
    data = namespace.pop("data")
    assert data.shape == (2, 1, 3, 224, 224) and str(data.dtype) == "float32"
    assert -1.0 <= data.min() and data.max() <= 1.0
    namespace.clear()  # ends the reader's prefetching thread while the working folder is still tmp_path
    gc.collect()
