"""Sphinx configuration: ``nox -s docs`` (or ``.ci/run``) builds ``docs/_build/html``.

Pages are Markdown (MyST); the reference's tables of options, ini settings,
markers and hooks come from the plugin itself (``_ext/asyncgroup_settings.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import pytest_asyncgroup

project = "pytest-asyncgroup"
author = "pytest-asyncgroup developers"
copyright = "pytest-asyncgroup developers"
release = pytest_asyncgroup.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "asyncgroup_settings"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"pytest-asyncgroup {release}"
