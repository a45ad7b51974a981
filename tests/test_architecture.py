"""The package's shape, checked from its source: no import cycles, and packages layered along a
contact's journey (docs/architecture.md). Every import counts, including those inside functions
and under `TYPE_CHECKING`: a cycle there is still two modules that cannot be read apart."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "voicedial"

# Lower layers never import higher ones; packages of one layer never import each other, except
# the shared leaf modules of layer 0 (errors, settings ...).
LAYERS: list[set[str]] = [
    {"errors", "settings", "logs", "metrics", "http", "process"},
    {"contacts", "compliance", "interview", "emulator"},
    {"options", "state"},
    {"delivery"},
    {"dialing"},
    {"callbacks"},
    {"campaign"},
    {"cli"},
    {"__main__"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _graph() -> dict[str, set[str]]:
    return _imports(_modules())


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the voicedial modules it imports (a `from pkg import sub` counts as pkg.sub)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("voicedial"))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node, path.name == "__init__.py")
                if not target.startswith("voicedial"):
                    continue
                subs = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                found.update(subs or {target})
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path that starts and ends at the same module, or None."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node]):
            if color[nxt] == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if color[nxt] == white and (found := visit(nxt)):
                return found
        stack.pop()
        color[node] = black
        return None

    for start in sorted(graph):
        if color[start] == white and (found := visit(start)):
            return found
    return None


def _layer(module: str) -> tuple[int, str] | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package's own __init__
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index, parts[1]
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


def test_the_walk_sees_the_imports() -> None:
    graph = _graph()
    assert "voicedial.state.store" in graph["voicedial.dialing.dialer"]
    assert "voicedial.errors" in graph["voicedial.state.connect"]
    assert len(graph) > 60


def test_no_import_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(_modules()))
def test_layers(module: str) -> None:
    graph = _graph()
    mine = _layer(module)
    if mine is None:
        return
    for imported in graph[module]:
        theirs = _layer(imported)
        if theirs is None or theirs[1] == mine[1] or theirs[0] == mine[0] == 0:
            continue
        assert theirs[0] < mine[0], (
            f"{module} (layer {mine[0]}) imports {imported} (layer {theirs[0]}): "
            "a package may import only packages of lower layers"
        )


# The state package's internals: key names, scripts and record packing.
_STATE_INTERNALS = {"voicedial.state.keys", "voicedial.state.scripts", "voicedial.state.records"}


def _redis_use(path: Path) -> list[str]:
    """Where a module imports the redis library, a state internal, or calls a method of a
    `.redis` attribute (`store.redis.zrange(...)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "redis"]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "redis" or node.module in _STATE_INTERNALS:
                found.append(f"from {node.module} import ...")
            elif node.module == "voicedial.state":
                found.append("from voicedial.state import ...")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in ("redis", "keys", "scripts")
        ):
            found.append(f"line {node.lineno}: .{node.func.value.attr}.{node.func.attr}(...)")
    return found


def test_only_the_state_package_touches_redis() -> None:
    offenders = {
        name: uses
        for name, path in _modules().items()
        if not name.startswith("voicedial.state")
        and not name.startswith("voicedial.emulator")  # a Twilio look-alike: no Redis at all
        and (uses := _redis_use(path))
    }
    assert offenders == {}


def test_the_redis_check_sees_a_call(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import redis\nasync def f(s):\n    await s.redis.zrange('k', 0, -1)\n")
    assert _redis_use(sample) == ["import redis", "line 3: .redis.zrange(...)"]


def test_the_dial_path_loads_no_web_framework_and_no_interviewer() -> None:
    # A fresh interpreter: this process has long imported everything.
    code = "import sys, voicedial.dialing.dialer\nprint('\\n'.join(sorted(sys.modules)))\n"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "voicedial.dialing.dialer" in loaded
    heavy = [
        m
        for m in loaded
        if m.split(".")[0] in ("starlette", "uvicorn", "openai")
        or m.startswith(("voicedial.interview", "voicedial.callbacks"))
    ]
    assert heavy == []
