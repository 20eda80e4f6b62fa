"""Sphinx configuration for skdl's documentation.

Build with ``python3 tasks.py docs`` (or ``sphinx-build -W -b html docs
docs/_build/html`` inside the project's virtualenv). The API pages are
generated from the docstrings into ``docs/generated/`` on every build, and
the example gallery from ``examples/`` into ``docs/auto_examples/``.

Everything builds offline: the theme, the maths renderer (MathJax bundled by
the ``sphinx-mathjax-offline`` package) and the intersphinx inventories
(``docs/_inventories/``) ship with the packages or the repository.
"""

import os
import re
import shutil
import sys
from pathlib import Path

import skdl

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "skdl"
author = "skdl developers"
copyright = "skdl developers"
release = skdl.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Copies a bundled MathJax 3 into _static/mathjax and points mathjax_path
    # at it, so maths renders without a CDN (offline, or behind a firewall).
    "sphinx-mathjax-offline",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

# -- API reference ----------------------------------------------------------
# One generated page per public name listed in api.rst. Classes use
# _templates/autosummary/class.rst (methods and attributes, with the members
# inherited from scikit-learn) or class_own_members.rst (torch modules and
# exceptions: only what the class itself defines, not torch.nn.Module's
# hundred members).
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"member-order": "groupwise"}

# numpydoc renders the docstring sections; the class templates list members,
# so numpydoc's own member tables would duplicate them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Link the types in "Parameters" / "Returns" (DataFrame, torch.nn.Module, ...)
# through intersphinx; words that are not types stay plain text.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    **{
        name: name
        for name in (
            "torch.nn.Module",
            "torch.Tensor",
            "torch.optim.Optimizer",
            "torch.device",
            "skorch.NeuralNet",
            "pandas.DataFrame",
            "numpy.ndarray",
            "matplotlib.axes.Axes",
            "matplotlib.figure.Figure",
            "pathlib.Path",
        )
    },
    "DataFrame": "pandas.DataFrame",
    "ndarray": "numpy.ndarray",
    "Module": "torch.nn.Module",
    "Tensor": "torch.Tensor",
    "path-like": "os.PathLike",
    "Generator": "numpy.random.Generator",
}
numpydoc_xref_ignore = "all"

# -- Links to other projects ------------------------------------------------
# CI has no internet, and a failed objects.inv download is a warning that -W
# turns into a failed build. So each project's links point at its real site,
# but the inventory is read from docs/_inventories/, written by
# docs/_inventories/make_inventories.py with the names these docs refer to.
_INV = DOCS / "_inventories"
intersphinx_mapping = {
    "sklearn": ("https://scikit-learn.org/stable/", str(_INV / "sklearn.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable/", str(_INV / "torch.inv")),
    "torchvision": (
        "https://docs.pytorch.org/vision/stable/",
        str(_INV / "torchvision.inv"),
    ),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", str(_INV / "skorch.inv")),
    "pandas": ("https://pandas.pydata.org/docs/", str(_INV / "pandas.inv")),
    "numpy": ("https://numpy.org/doc/stable/", str(_INV / "numpy.inv")),
    "matplotlib": ("https://matplotlib.org/stable/", str(_INV / "matplotlib.inv")),
    "python": ("https://docs.python.org/3/", str(_INV / "python.inv")),
}
intersphinx_timeout = 5

# -- Example gallery --------------------------------------------------------
# The gallery runs every script in examples/ during the build, in the fast
# mode the test suite also uses (SKDL_EXAMPLES_FAST=1: fewer epochs, smaller
# searches), which keeps the docs build to about a minute of CPU time. Each
# page therefore shows exactly what the script prints and draws in that mode;
# the user guide quotes the numbers of full runs. The examples save their
# figures with matplotlib's Figure.savefig into SKDL_EXAMPLES_OUT, which
# sphinx-gallery's pyplot scraper does not see, so PNGScraper (docs/_ext/)
# picks up the PNG files each example writes there.
os.environ["SKDL_EXAMPLES_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
_GALLERY_OUT = DOCS / "_build" / "gallery_figures"
shutil.rmtree(_GALLERY_OUT, ignore_errors=True)
_GALLERY_OUT.mkdir(parents=True)
os.environ["SKDL_EXAMPLES_OUT"] = str(_GALLERY_OUT)
# The data-reading examples find the data as the tests do: $SKDL_DATA, else
# shared/data next to the repository.
_DATA = Path(os.environ.get("SKDL_DATA") or REPO.parent / "shared" / "data")
os.environ["SKDL_DATA"] = str(_DATA)

from skdl_gallery import PNGScraper, examples_to_skip  # noqa: E402

sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example, not only plot_*
    "ignore_pattern": examples_to_skip(REPO / "examples", _DATA),
    "image_scrapers": (PNGScraper(_GALLERY_OUT),),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "plot_gallery": "True",
    # "Examples using X" lists on the API pages (the minigallery directive in
    # _templates/autosummary/class.rst).
    "doc_module": ("skdl",),
    "backreferences_dir": "gen_modules/backreferences",
}

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skdl {release}"
html_static_path = ["_static"]
html_css_files = ["skdl.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Pages without a section tree get the full width (the benchmark tables are
# wide).
html_sidebars = {page: [] for page in ("index", "install", "quickstart", "benchmarks*")}
html_show_sourcelink = True


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


_GALLERY_NOTE = "        to download the full example code."


def _fast_mode_note(app, docname, source):
    """Say on every gallery page that its output comes from the fast mode."""
    if docname.startswith("auto_examples/") and _GALLERY_NOTE in source[0]:
        source[0] = source[0].replace(
            _GALLERY_NOTE,
            _GALLERY_NOTE + " The output and figures below come from a run in"
            " the fast mode (``SKDL_EXAMPLES_FAST=1``: fewer epochs, a smaller"
            " search); run the script as it is for the full results.",
            1,
        )


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
    app.connect("source-read", _fast_mode_note)
