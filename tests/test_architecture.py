"""The package's stage folders import one way: a stage never imports a later one."""

from __future__ import annotations

import ast
from pathlib import Path

import ichbench

# Lower layers first; a module may import its own layer and the layers before it.
LAYERS = [
    {
        "ichbench",
        "ichbench.errors",
        "ichbench.atomic",
        "ichbench.environment",
        "ichbench.progress",
        "ichbench.protocol",
        "ichbench.post",
        "ichbench._post",
        "ichbench.plugins",
        "ichbench.runlock",
        "ichbench.protocol_checks",
        "ichbench.protocol_sections",
        "ichbench.rundir",
    },
    {"ichbench.data"},
    {"ichbench.models"},
    {"ichbench.inference"},
    {"ichbench.evaluation"},
    {"ichbench.training"},
    {"ichbench.executors", "ichbench.leaderboard"},
    {"ichbench.benchmark"},
    {"ichbench.report"},
    {"ichbench.cli"},
]


def layer(module: str) -> int:
    """The layer of a dotted module name (its longest known prefix)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        for i, names in enumerate(LAYERS):
            if prefix in names:
                return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def imports(path: Path) -> set[str]:
    """Every ichbench module a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ichbench"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if node.module == "ichbench"}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ichbench")}
    return found


def test_no_upward_imports() -> None:
    root = Path(ichbench.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        module = ".".join(p for p in rel.parts if p != "__init__")
        for target in imports(path):
            if target != "ichbench.__version__" and layer(target) > layer(module):
                bad.append(f"{module} -> {target}")
    assert not bad, "upward imports: " + ", ".join(sorted(bad))


def test_top_level_is_small() -> None:
    """New modules go into stage folders, not beside the core ones."""
    root = Path(ichbench.__file__).parent
    flat = sorted(p.stem for p in root.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 10, flat
