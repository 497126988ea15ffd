"""The layout rule, checked: one name per concept, one direction for data, an explicit API.

``kernels/<op>.py`` <-> ``tests/test_<op>.py``;
``kernels/viz/<chapter>.py`` <-> ``book/<chapter>.md`` <-> ``tests/test_viz_<chapter>.py``.
"""
import ast
import subprocess
import sys
from pathlib import Path

import kernels

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "kernels"
VIZ_INFRASTRUCTURE = {"explorer", "theme", "self_check"}  # the Explorer, the plotly theme, questions


def public_modules(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def test_every_kernel_module_has_its_test_file():
    missing = [m for m in public_modules(PKG) if not (ROOT / "tests" / f"test_{m}.py").exists()]
    assert missing == []


def test_every_view_module_is_named_for_its_chapter_and_tested():
    for m in set(public_modules(PKG / "viz")) - VIZ_INFRASTRUCTURE:
        assert (ROOT / "book" / f"{m}.md").exists(), f"kernels/viz/{m}.py has no book/{m}.md"
        assert (ROOT / "tests" / f"test_viz_{m}.py").exists(), f"no tests/test_viz_{m}.py"
    for test in (ROOT / "tests").glob("test_viz_*.py"):
        assert (PKG / "viz" / f"{test.stem[len('test_viz_'):]}.py").exists(), test.name


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``kernels`` that ``path`` imports (relative or absolute)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y / from . import x
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
                names = [f"{mod}.{a.name}" for a in node.names] if not node.module else [mod]
                out.update(names)
            elif node.module and node.module.startswith("kernels"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kernels"))
    return out


def _module_graph() -> dict[str, set[str]]:
    graph = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
        name = package if path.stem == "__init__" else name
        graph[name] = _imports(path, package)
    files = set(graph)
    return {m: {d for d in deps if d in files and d != m} for m, deps in graph.items()}


def test_no_module_imports_one_that_imports_it_back():
    graph = _module_graph()
    # every cycle, however long: depth-first search for a back edge (packages excluded, since
    # kernels/__init__ importing its own modules is the public API, not a cycle of concepts)
    edges = {m: {d for d in deps if d not in ("kernels", "kernels.viz")}
             for m, deps in graph.items() if m not in ("kernels", "kernels.viz")}
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for d in edges.get(m, ()):
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in edges:
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_kernels_modules_never_import_the_views():
    graph = _module_graph()
    for m, deps in graph.items():
        if not m.startswith("kernels.viz") and m != "kernels":
            assert not any(d.startswith("kernels.viz") for d in deps), m


def test_public_api_is_imported_explicitly():
    tree = ast.parse((PKG / "__init__.py").read_text())
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom)
                for a in node.names}
    assert not any(isinstance(n, (ast.For, ast.While)) for n in tree.body), \
        "build the API with explicit imports, not a loop"
    assert set(kernels.__all__) - {"default_device"} == imported - {"annotations"}
    assert all(hasattr(kernels, name) for name in kernels.__all__)


def test_no_module_re_exports_a_siblings_names():
    # a name in a module's __all__ must be defined there, not imported from a sibling
    for path in PKG.glob("*.py"):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        exported = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                         and getattr(n.targets[0], "id", "") == "__all__"), [])
        imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                    for a in n.names}
        assert not set(exported) & imported, f"{path.name} re-exports {set(exported) & imported}"


def test_import_kernels_pulls_in_torch_only():
    code = "import sys, kernels; print(sorted(m for m in ('plotly', 'ipywidgets', 'yaml') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
