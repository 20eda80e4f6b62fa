"""Sphinx configuration for skdl's documentation.

Build with ``python3 tasks.py docs`` (or ``sphinx-build -W -b html docs
docs/_build/html`` inside the project's virtualenv). The API pages are
generated from the docstrings into ``docs/generated/`` on every build.
"""

import re

import skdl

project = "skdl"
author = "skdl developers"
copyright = "skdl developers"
release = skdl.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]

# API reference: one generated page per public name listed in api.rst.
autosummary_generate = True
autodoc_typehints = "none"

# numpydoc renders the docstring sections; the class template lists members,
# so numpydoc's own member tables would duplicate them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "alabaster"
html_title = f"skdl {release}"
html_theme_options = {
    "description": "scikit-learn-compatible deep-learning estimators",
    "fixed_sidebar": True,
}


# Members inherited from scikit-learn (score, get_params, set_*_request, ...)
# keep scikit-learn's docstrings, whose :ref: and :term: roles point into
# scikit-learn's own documentation. Render those roles as plain text.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`]+)`")


def _role_text(match: re.Match) -> str:
    text, _, target = match.group(1).partition("<")
    return text.strip() or target.rstrip(">")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    if getattr(obj, "__module__", None) and obj.__module__.startswith("sklearn."):
        lines[:] = [_SKLEARN_ROLE.sub(_role_text, line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
