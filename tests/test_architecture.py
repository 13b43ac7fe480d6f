"""The package's shape: imports flow one way, the networks know nothing of the accelerator, functions stay short."""
import ast
import pathlib
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
