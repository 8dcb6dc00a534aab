"""What pytest-asyncgroup registers with pytest, read from the plugin itself.

:func:`registered` runs the plugin's ``pytest_addoption`` (and the ``--timeout``
option and ``timeout`` ini setting it adds when pytest-timeout is absent)
against a recorder standing in for pytest's parser, and returns every
registration with the arguments pytest would get: names, type, default, help.
A recorder rather than pytest's ``Parser``: that one is private to construct,
and what the plugin passes is what the reader needs.

The ``asyncgroup-settings`` directive renders them as a table in
``reference.md``; ``tests/acceptance/test_reference_docs.py`` checks them
against ``pytest --help`` and checks that each has a section of its own in the
reference, so an option added without documentation fails the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Registration:
    name: str  # "--asyncgroup-plan" or "asyncgroup_limits"
    kind: str  # "option" or "ini"
    type: str
    default: str
    help: str


class _Recorder:
    """Takes the calls the plugin makes on pytest's parser and option groups."""

    def __init__(self) -> None:
        self.registrations: list[Registration] = []

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> _Recorder:
        return self

    def addoption(self, *names: str, **attrs: Any) -> None:
        action = attrs.get("action", "store")
        kind = "flag" if action in ("store_true", "store_false") else attrs.get("metavar", "VALUE")
        default = attrs.get("default")
        self.registrations.append(
            Registration(
                name=max(names, key=len),
                kind="option",
                type=str(kind),
                default="off"
                if kind == "flag"
                else ("(unset)" if default is None else repr(default)),
                help=str(attrs.get("help", "")),
            )
        )

    def addini(self, name: str, help: str, type: str | None = None, default: Any = None) -> None:
        self.registrations.append(
            Registration(
                name=name,
                kind="ini",
                type=type or "string",
                default=(" ".join(default) or "(none)")
                if isinstance(default, list)
                else (default or "(unset)"),
                help=help,
            )
        )


class _NoPytestTimeout:
    """An early config whose plugin manager has no pytest-timeout."""

    class pluginmanager:
        @staticmethod
        def has_plugin(name: str) -> bool:
            return False


def registered() -> list[Registration]:
    """Every option and ini setting pytest-asyncgroup registers, in its order."""
    from pytest_asyncgroup import plugin
    from pytest_asyncgroup._session import timeouts

    recorder = _Recorder()
    plugin.pytest_addoption(recorder, None)  # type: ignore[arg-type]
    timeouts.add_options_if_missing(_NoPytestTimeout(), recorder)  # type: ignore[arg-type]
    return recorder.registrations


def _table(rows: list[list[Any]], header: list[str], widths: list[int]) -> Any:
    from docutils import nodes

    table = nodes.table(classes=["asyncgroup-settings"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)

    def row_of(cells: list[Any]) -> Any:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += cell if isinstance(cell, nodes.Node) else nodes.Text(str(cell))
            entry += paragraph
            row += entry
        return row

    head = nodes.thead()
    head += row_of(header)
    group += head
    body = nodes.tbody()
    for cells in rows:
        body += row_of(cells)
    group += body
    return table


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class SettingsTable(SphinxDirective):
        """``asyncgroup-settings``: the registered options and ini settings."""

        def run(self) -> list[Any]:
            rows = [
                [
                    nodes.reference(
                        "", "", nodes.literal(text=r.name), refid=anchor(r), internal=True
                    ),
                    r.kind,
                    r.type,
                    nodes.literal(text=r.default),
                    r.help,
                ]
                for r in registered()
            ]
            header = ["name", "kind", "type", "registered default", "help (from the code)"]
            return [_table(rows, header, [22, 6, 8, 14, 50])]

    app.add_directive("asyncgroup-settings", SettingsTable)
    app.connect("autodoc-process-docstring", _drop_repeated_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def anchor(registration: Registration) -> str:
    """The label of the registration's section in ``reference.md``:
    ``(option-asyncgroup-plan)=``, ``(ini-asyncgroup-limits)=``."""
    return f"{registration.kind}-{registration.name.lstrip('-').replace('_', '-')}"


def _drop_repeated_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """The marker functions' docstrings open with their signature (``resource(*keys,
    exclusive=False): ...``) for ``pytest --markers``; autodoc shows it already."""
    short = name.rpartition(".")[2]
    if lines and lines[0].startswith(short + "(") and "): " in lines[0]:
        lines[0] = lines[0].partition("): ")[2]
