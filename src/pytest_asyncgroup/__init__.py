"""pytest-asyncgroup: a pytest-xdist scheduling mode running async tests concurrently.

``pytest --dist=asyncgroup`` runs each worker's async tests on one event loop at
once, under the resource rules tests declare with ``@pytest.mark.resource``.
"""

from .executor import await_only

__all__ = ["await_only"]
__version__ = "0.1.0"

# ``-p pytest_asyncgroup`` with plugin autoload disabled imports this package on
# pytest 8.3 (9.x loads the entry point of that name): point it at the plugin.
pytest_plugins = ["pytest_asyncgroup.plugin"]
