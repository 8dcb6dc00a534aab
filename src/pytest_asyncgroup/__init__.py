"""pytest-asyncgroup: a pytest-xdist scheduling mode running async tests concurrently.

``pytest --dist=asyncgroup`` runs each worker's async tests on one event loop at
once, under the resource rules tests declare with ``@pytest.mark.resource``.
"""

from .executor import await_only

__all__ = ["await_only"]
__version__ = "0.1.0"
