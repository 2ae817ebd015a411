"""The package follows the data's journey: few top-level modules, subpackages of about 10, no
import cycles, each layer importing only the layers below it, and an inference notebook that
loads no training code, no DataLoader and no OpenCV."""
import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src_py" / "birdkit"
# the floors, top to bottom: a module imports its own floor or the ones below
FLOORS = {"notebook": 5, "train": 4, "infer": 3, "foundation": 3, "data": 2, "augment": 2, "config": 2,
          "ensemble_list": 2, "models": 1, "util": 0, "metrics": 0, "__init__": 0}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set:
    """birdkit modules that ``path`` imports at module level (function-level imports are lazy)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            if not module or not module.startswith("birdkit"):
                continue
            for alias in node.names:   # `from birdkit.x import y`: y may be a module itself
                candidate = f"{module}.{alias.name}"
                out.add(candidate if any((PACKAGE.parent / Path(*candidate.split("."))).with_suffix(s).exists()
                                         or (PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py").exists()
                                         for s in (".py",)) else module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("birdkit")}
    return out - {name}


def graph() -> dict:
    return {module_name(p): top_level_imports(p) for p in PACKAGE.rglob("*.py")}


def floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1] if len(parts) > 1 else "__init__"]


def test_few_top_level_modules_and_small_subpackages():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 8, top
    for sub in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        modules = [p for p in sub.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 10, (sub.name, [p.name for p in modules])


def test_no_import_cycles():
    edges = graph()
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_each_floor_imports_only_its_own_or_lower_floors():
    wrong = [f"{m} -> {t}" for m, targets in graph().items() for t in targets
             if t != "birdkit" and floor(t) > floor(m)]
    assert not wrong, wrong


def test_the_walker_reads_relative_imports_and_finds_a_cycle(monkeypatch):
    assert {"birdkit.util.atomic", "birdkit.data.audio"} <= top_level_imports(PACKAGE / "data" / "cache.py")
    assert "birdkit.infer.ensemble" in top_level_imports(PACKAGE / "train" / "validation.py")
    edges = {"birdkit.x": {"birdkit.y"}, "birdkit.y": {"birdkit.x"}}
    monkeypatch.setattr(sys.modules[__name__], "graph", lambda: edges)
    try:
        test_no_import_cycles()
    except AssertionError as exc:
        assert "birdkit.x -> birdkit.y -> birdkit.x" in str(exc)
    else:
        raise AssertionError("a cycle went unseen")


def notebook_imports(notebook: Path) -> list[str]:
    """The import statements of a percent-format notebook, in order."""
    tree = ast.parse(notebook.read_text())
    return [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_inference_notebook_loads_no_training_code_no_dataloader_no_opencv():
    imports = notebook_imports(ROOT / "src_py" / "70_inference.py")
    assert any("birdkit.infer" in i for i in imports)
    code = "\n".join(imports + [
        "import sys",
        "bad = sorted(m for m in sys.modules if m == 'cv2' or m.startswith(('birdkit.train', 'birdkit.data.datasets',"
        " 'birdkit.data.cache', 'birdkit.augment')))",
        "import inspect",   # torch itself imports torch.utils.data: look for birdkit code that makes a DataLoader
        "loaders = sorted(m for m, mod in list(sys.modules.items()) if m.startswith('birdkit')"
        " and getattr(mod, '__file__', None) and 'DataLoader' in inspect.getsource(mod))",
        "print(bad, loaders)",
        "assert not bad and not loaders, (bad, loaders)"])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert re.search(r"\[\] \[\]", proc.stdout)


def named_imports(root: Path) -> list[tuple[str, int, str, str]]:
    """Every ``from birdkit... import name`` in ``root``'s files, lazy (in-function) ones included."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module \
                    and node.module.split(".")[0] in ("birdkit", "birdkit_tools"):
                out += [(str(path.relative_to(ROOT)), node.lineno, node.module, a.name) for a in node.names]
    return out


def test_every_lazy_import_names_something_that_exists():
    """Function-level imports run only when the function does: a renamed helper must not wait for it."""
    import importlib
    missing = []
    for where, line, module, name in named_imports(ROOT / "src_py") + named_imports(ROOT / "tests"):
        owner = importlib.import_module(module)
        if name == "*" or hasattr(owner, name):
            continue
        try:
            importlib.import_module(f"{module}.{name}")   # a submodule not yet imported
        except ModuleNotFoundError:
            missing.append(f"{where}:{line}: from {module} import {name}")
    assert not missing, missing
