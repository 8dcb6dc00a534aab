"""pytest-asyncgroup: a pytest-xdist scheduling mode running async tests concurrently.

``pytest --dist=asyncgroup`` runs each worker's async tests on one event loop at
once, under the resource rules tests declare with ``@pytest.mark.resource``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import await_only

__all__ = ["await_only"]
__version__ = "0.1.0"

# ``-p pytest_asyncgroup`` with plugin autoload disabled imports this package on
# pytest 8.3 (9.x loads the entry point of that name): point it at the plugin.
pytest_plugins = ["pytest_asyncgroup.plugin"]


def __getattr__(name: str) -> Any:
    # The engine (asyncio, greenlet) is imported on first use, not by every
    # pytest run that merely has the plugin installed.
    if name == "await_only":
        from ._engine import await_only

        return await_only
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
