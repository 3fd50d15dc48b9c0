"""The package's shape: imports follow the data path, no import circle anywhere, no file over 400 lines.

Every import is read from the source with ``ast``, including imports inside functions and under
``if TYPE_CHECKING``, so a circle cannot hide in a deferred import.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cursor_exporter"
# The data path, ground floor first: a module may import its own stage and the stages before it.
STAGES = {"timegrid": 0, "money": 0, "api": 1, "ledger": 2, "sources": 3, "output": 4, "commands": 5}
SIMULATOR = "simulator"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every cursor_exporter module ``path`` imports, resolved to module names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module.split(".")[0] == "cursor_exporter"}


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {target for target in imports_of(path) if target in modules and target != name}
    return edges


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (parts[1] in STAGES or parts[1] == SIMULATOR) else "root"


def test_no_import_circle_anywhere_the_simulator_included():
    edges = graph()
    # A package's __init__ imported by its own modules is not a circle of code; everything else is.
    edges = {
        name: {target for target in targets if not name.startswith(f"{target}.")} for name, targets in edges.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_every_import_follows_the_data_path():
    against = []
    for module, targets in graph().items():
        for target in targets:
            source_stage, target_stage = stage(module), stage(target)
            if target_stage == "root" or source_stage == target_stage:
                continue
            if SIMULATOR in (source_stage, target_stage):
                # The simulator is an independent reading of the API: it imports nothing of the exporter,
                # and only the commands that run it import it.
                allowed = target_stage == SIMULATOR and source_stage == "commands"
            elif source_stage == "root":
                allowed = module == "cursor_exporter.__main__" and target_stage == "commands"
            else:
                allowed = STAGES[target_stage] <= STAGES[source_stage]
            if not allowed:
                against.append(f"{module} -> {target}")
    assert against == []


def test_the_package_has_a_folder_per_stage_and_the_ground_floor():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == {name for name, rank in STAGES.items() if rank} | {SIMULATOR}
    assert {path.stem for path in PACKAGE.glob("*.py")} == {"__init__", "__main__", "timegrid", "money"}


def test_no_file_in_the_package_is_over_400_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
