"""The package's shape: imports flow one way, the networks know nothing of the accelerator, functions stay short."""
import ast
import os
import pathlib
import shutil
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "ppix2pix"
MAX_FUNCTION_LINES = 60
# Functions allowed to be longer: tables of C signatures.
LONG_TABLES = {("accel/onednn.py", "__init__")}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(name, path, modules):
    """Modules of the package that ``name`` imports anywhere (functions included), from its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            source = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            if source is None or not source.startswith("ppix2pix"):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else source)
    # Importing a.b.c runs a/__init__ and a/b/__init__ first: those count too, except the importer's own packages.
    own_packages = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
    found |= {module.rsplit(".", depth)[0] for module in list(found) for depth in range(1, module.count(".") + 1)}
    return {module for module in found if module in modules and module != name and module not in own_packages}


def import_graph():
    """``{module: modules it imports}`` over the whole package."""
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _reachable(graph, start):
    seen, stack = set(), [start]
    while stack:
        for module in graph[stack.pop()]:
            if module not in seen:
                seen.add(module)
                stack.append(module)
    return seen


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


# The layers, top to bottom (docs/architecture.md). A module may import its own layer and those below it.
LAYERS = [
    ("command line", ["ppix2pix.cli", "ppix2pix"]),
    ("tools of the trade", ["ppix2pix.trainer", "ppix2pix.validation", "ppix2pix.checkpoint_files",
                            "ppix2pix.translator", "ppix2pix.exporter", "ppix2pix.legacy_reader",
                            "ppix2pix.preflight", "ppix2pix.video", "ppix2pix.tiling"]),
    ("model", ["ppix2pix.pix2pix", "ppix2pix.build", "ppix2pix.weights"]),
    ("accelerator and foreign weights", ["ppix2pix.accel", "ppix2pix.interop"]),
    ("config", ["ppix2pix.config"]),
    ("networks, data, checkpoint files", ["ppix2pix.networks", "ppix2pix.losses", "ppix2pix.data",
                                          "ppix2pix.checkpoint", "ppix2pix.metrics"]),
    ("foundation", ["ppix2pix.errors", "ppix2pix.durable", "ppix2pix.runtime", "ppix2pix.device",
                    "ppix2pix.direction", "ppix2pix.rng", "ppix2pix.schedulers", "ppix2pix.training_log",
                    "ppix2pix.distributed", "ppix2pix.safe_loading", "ppix2pix.paddle_pickle", "ppix2pix.choices"]),
]


def layer_of(module):
    """Index in :data:`LAYERS` (0 = top) of the longest prefix naming ``module`` or a package above it."""
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1] if matches else None


def upward_imports(graph):
    return [f"{module} -> {target}" for module, targets in graph.items() for target in targets
            if layer_of(target) < layer_of(module)]


def test_every_module_has_a_layer():
    assert [module for module in import_graph() if layer_of(module) is None] == []


def test_imports_only_go_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_an_upward_import_is_caught():
    graph = import_graph()
    graph["ppix2pix.networks.norm"] = graph["ppix2pix.networks.norm"] | {"ppix2pix.config"}
    assert upward_imports(graph) == ["ppix2pix.networks.norm -> ppix2pix.config"]


def test_the_graph_sees_imports_inside_functions_and_the_packages_they_run():
    graph = import_graph()
    assert "ppix2pix.accel.apply" in graph["ppix2pix.accel"]
    assert {"ppix2pix.networks", "ppix2pix.networks.generators"} <= graph["ppix2pix.accel.apply"]
    assert "ppix2pix.accel" not in graph["ppix2pix.accel.apply"]  # its own package


def test_the_package_has_no_import_circle():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_planted_circle():
    graph = import_graph()
    graph["ppix2pix.networks.norm"] = graph["ppix2pix.networks.norm"] | {"ppix2pix.accel.layers"}
    assert any("ppix2pix.networks.norm" in component for component in _cycles(graph))


def test_the_networks_import_nothing_from_the_accelerator():
    reached = _reachable(import_graph(), "ppix2pix.networks")
    assert not [module for module in reached if module.startswith("ppix2pix.accel")]
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, ppix2pix.networks; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=PACKAGE.parent).stdout.split()
    assert "ppix2pix.networks" in loaded
    assert not [module for module in loaded if module.startswith("ppix2pix.accel")]


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and (relative, node.name) not in LONG_TABLES:
                    long.append(f"{relative}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


WITHOUT_ACCELERATOR = """
import sys
# An editable install's finder would find ppix2pix.accel in the checkout: only the copy on sys.path may count.
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in repr(finder).lower()]
import paddle
from ppix2pix import build
from ppix2pix.config import load_config
from ppix2pix.pix2pix import Pix2PixModel
cfg = load_config(None, sys.argv[1:])
model = Pix2PixModel(cfg)
paddle.seed(0)
losses = model.train_step(paddle.rand([1, 3, 64, 64]) * 2 - 1, paddle.rand([1, 3, 64, 64]) * 2 - 1)
assert all(paddle.isfinite(value).item() for value in losses.values())
assert not [name for name in sys.modules if name.startswith("ppix2pix.accel")]
print(build.acceleration_summary())
"""


def test_the_toolkit_trains_without_the_accelerator_package(tmp_path, tiny_overrides):
    shutil.copytree(PACKAGE, tmp_path / "ppix2pix", ignore=shutil.ignore_patterns("accel", "__pycache__"))
    done = subprocess.run([sys.executable, "-c", WITHOUT_ACCELERATOR, *tiny_overrides], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "not installed" in done.stdout
