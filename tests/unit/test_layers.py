"""The package's layers, read from its imports (see docs/architecture.md).

- ``_core``: pure logic (declarations, settings, grouping, plan, admission, the
  summary's numbers); imports no pytest, xdist, asyncio or greenlet.
- ``_engine``: runs tests concurrently on one loop; knows nothing of xdist or
  of how a session is driven (``_xdist``, ``_session``).
- ``_session``: what both modes share, and one-process mode; not ``_xdist``.
- ``_xdist``: the controller, scheduler and worker.
- Only ``_compat`` touches pytest's, xdist's and asyncio's private names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pytest_asyncgroup

PACKAGE = Path(pytest_asyncgroup.__file__).parent
NAME = "pytest_asyncgroup"


@dataclass(frozen=True)
class Import:
    module: str  # absolute
    names: tuple[str, ...]
    typing_only: bool
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    typing_blocks = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    for node in ast.walk(tree):
        typing_only = id(node) in typing_blocks
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), typing_only, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names = tuple(alias.name for alias in node.names)
            yield Import(module, names, typing_only, node.lineno)
            for name in names:  # ``from . import _compat`` imports a module
                yield Import(f"{module}.{name}", (), typing_only, node.lineno)


def _private_asyncio_names(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            text = ast.unparse(node)
            if text.startswith("asyncio.") and not node.attr.startswith("__"):
                yield node.lineno, text


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


FORBIDDEN: dict[str, tuple[str, ...]] = {
    "_core": ("pytest", "_pytest", "xdist", "execnet", "asyncio", "greenlet", "pluggy"),
    "_engine": (f"{NAME}._xdist", f"{NAME}._session"),
    "_session": (f"{NAME}._xdist",),
}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_each_layer_imports_only_the_layers_below_it() -> None:
    found = []
    for path in _modules():
        layer = _layer(path)
        for imported in _imports(path):
            for forbidden in FORBIDDEN.get(layer, ()):
                if _within(imported.module, forbidden):
                    found.append(f"{path.relative_to(PACKAGE)}:{imported.line} {imported.module}")
            outside_core = not _within(imported.module, f"{NAME}._core")
            if layer == "_core" and _within(imported.module, NAME) and outside_core:
                found.append(f"{path.relative_to(PACKAGE)}:{imported.line} {imported.module}")
    assert found == []


def test_only_compat_touches_private_names_of_pytest_xdist_and_asyncio() -> None:
    found = []
    for path in _modules():
        if _layer(path) == "_compat":
            continue
        where = path.relative_to(PACKAGE)
        for imported in _imports(path):
            private_xdist = _within(imported.module, "xdist") and imported.module != "xdist"
            if _within(imported.module, "_pytest") or (private_xdist and not imported.typing_only):
                found.append(f"{where}:{imported.line} {imported.module}")
            private_asyncio = any(name.startswith("_") for name in imported.names)
            if _within(imported.module, "asyncio") and private_asyncio:
                found.append(f"{where}:{imported.line} {imported.module} {imported.names}")
        found += [f"{where}:{line} {text}" for line, text in _private_asyncio_names(path)]
    assert found == []


@pytest.mark.parametrize("layer", ["_core", "_engine", "_session", "_xdist", "_compat"])
def test_every_layer_is_a_package_with_modules(layer: str) -> None:
    assert (PACKAGE / layer / "__init__.py").is_file()
    assert len(list((PACKAGE / layer).glob("*.py"))) > 1
