"""Helpers for the sphinx-gallery build of ``examples/`` (used by conf.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def needs_data(script: Path) -> bool:
    """Whether an example reads the real datasets (as tests/test_examples.py)."""
    return "SKDL_DATA" in script.read_text(encoding="utf-8")


def examples_to_skip(examples_dir: Path, data_dir: Path) -> str:
    """sphinx-gallery's ``ignore_pattern``: data examples when the data are absent.

    Without the data folder the build still succeeds, without those pages,
    and says which it left out.
    """
    if data_dir.is_dir():
        return r"__init__\.py"
    skipped = sorted(p.name for p in examples_dir.glob("*.py") if needs_data(p))
    logger.info(
        "skdl: data folder %s not found (set SKDL_DATA); the gallery leaves out %s",
        data_dir,
        ", ".join(skipped),
    )
    return "|".join(re.escape(name) for name in ["__init__.py", *skipped])


class PNGScraper:
    """Show the PNG files an example writes into ``SKDL_EXAMPLES_OUT``.

    skdl's examples draw on :class:`matplotlib.figure.Figure` objects and
    save them with ``savefig`` (no pyplot), so sphinx-gallery's matplotlib
    scraper sees nothing. After each code block this scraper takes the PNG
    files that appeared or changed in the folder since the last call, in
    name order, and embeds them below the block.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._seen: dict[str, float] = {}

    def __repr__(self) -> str:  # sphinx-gallery hashes the config by repr
        return f"PNGScraper({self.folder.name!r})"

    def __call__(self, block, block_vars, gallery_conf) -> str:
        from sphinx_gallery.scrapers import figure_rst

        new = []
        for path in sorted(self.folder.glob("*.png")):
            stamp = path.stat().st_mtime_ns
            if self._seen.get(path.name) != stamp:
                self._seen[path.name] = stamp
                new.append(path)
        targets = []
        for path, target in zip(new, block_vars["image_path_iterator"]):
            shutil.copyfile(path, target)
            targets.append(target)
        return figure_rst(targets, gallery_conf["src_dir"])
