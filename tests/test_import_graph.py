"""The package's import graph has no cycle, counting the imports made inside functions too (they hide cycles that
only bite in some call orders): a module depends on the ones below it, never back."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# import name -> folder, as pyproject's package-dir maps them
PACKAGES = {"animegan_deploy": ROOT / "animegan_deploy", "animegan_deploy.models": ROOT / "models",
            "animegan_deploy.compress": ROOT / "compress", "animegan_deploy.export": ROOT / "export",
            "animegan_deploy.benchmarks": ROOT / "benchmarks", "animegan_deploy.train": ROOT / "train"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            if package == "animegan_deploy" and parts and f"animegan_deploy.{parts[0]}" in PACKAGES:
                continue  # a subfolder mapped elsewhere
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    mods = modules()
    known = set(mods)
    # a package's __init__ importing its own submodules is not a dependency of those submodules on it
    graph = {name: {t for t in imports(name, path, known) if not name.startswith(t + ".")} for name, path in mods.items()}
    assert len(graph) > 60
    assert cycles(graph) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
