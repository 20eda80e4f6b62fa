#!/usr/bin/env python3
"""Set up skdl's development environment and run its jobs (standard library only).

Usage::

    python3 tasks.py quickstart      install, then run examples/quickstart.py
    python3 tasks.py test [ARGS...]  install, then run pytest (ARGS go to pytest)
    python3 tasks.py lint            install, then run ``ruff check .``
    python3 tasks.py docs            install, then build the HTML docs (-W)
    python3 tasks.py install         (re)install into .venv, then stop

Every job first makes sure ``.venv`` exists and holds ``pip install -e ".[dev]"``.
The install is redone when ``pyproject.toml`` changes (or with ``install``);
the package itself is editable, so code changes need no reinstall.

pip runs with ``PIP_FIND_LINKS=" "`` (one space), which clears any
``find-links`` from pip's configuration files. Some machines point it at a
folder holding a CPU-only torch wheel that torchvision's wheels cannot load
against; without it pip resolves torch and torchvision together from the
index. (An empty value would not do: pip ignores empty settings, so the
configuration file's value would stand.)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".skdl-install-stamp"
DOCS = ROOT / "docs"
MIN_PYTHON = (3, 10)


def section(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run(cmd: list[str | Path], **kwargs) -> int:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kwargs)


def pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_FIND_LINKS"] = " "  # clears find-links from pip.conf; see above
    env["PIP_NO_INPUT"] = "1"
    if os.environ.get("CI"):
        env["PIP_PROGRESS_BAR"] = "off"
    return env


def install_fingerprint() -> str:
    text = (ROOT / "pyproject.toml").read_bytes() + sys.version.encode()
    return hashlib.sha256(text).hexdigest()


def install(force: bool = False) -> None:
    """Create .venv if missing and install the package with its dev extra."""
    if not force and STAMP.is_file() and STAMP.read_text() == install_fingerprint():
        return
    start = time.perf_counter()
    if not PYTHON.exists():
        section(f"Creating virtual environment {VENV.name}/")
        check(run([sys.executable, "-m", "venv", VENV]), "creating .venv")
        check(
            run([PYTHON, "-m", "pip", "install", "--upgrade", "pip"], env=pip_env()),
            "upgrading pip",
        )
    section('Installing skdl: pip install -e ".[dev]"')
    STAMP.unlink(missing_ok=True)
    check(
        run([PYTHON, "-m", "pip", "install", "-e", ".[dev]"], env=pip_env()),
        "pip install",
    )
    versions = (
        "import sys, torch, torchvision, sklearn, skorch, skdl; "
        "print(f'python {sys.version.split()[0]}, torch {torch.__version__}, "
        "torchvision {torchvision.__version__}, scikit-learn {sklearn.__version__},"
        " skorch {skorch.__version__}, skdl {skdl.__version__}')"
    )
    check(run([PYTHON, "-c", versions]), "importing the installed packages")
    STAMP.write_text(install_fingerprint())
    print(f"-- install took {time.perf_counter() - start:.0f}s", flush=True)


def check(code: int, what: str) -> None:
    if code != 0:
        sys.exit(f"tasks.py: {what} failed with exit code {code}")


def job(title: str, cmd: list[str | Path]) -> int:
    section(title)
    start = time.perf_counter()
    code = run(cmd)
    status = "ok" if code == 0 else f"FAILED (exit code {code})"
    print(f"-- {title}: {status}, {time.perf_counter() - start:.0f}s", flush=True)
    return code


def quickstart(args: list[str]) -> int:
    return job("Running examples/quickstart.py", [PYTHON, "examples/quickstart.py"])


def test(args: list[str]) -> int:
    # pytest's own exit code, unchanged: 1 failures, 2 interrupted, 5 no tests.
    return job("Running the test suite", [PYTHON, "-m", "pytest", *args])


def lint(args: list[str]) -> int:
    return job("Linting: ruff check .", [BIN / "ruff", "check", ".", *args])


def docs(args: list[str]) -> int:
    # API stubs are regenerated from the docstrings, and the gallery from
    # examples/ (run in fast mode, see docs/conf.py), on every build.
    for stale in ("generated", "_build", "auto_examples", "gen_modules"):
        shutil.rmtree(DOCS / stale, ignore_errors=True)
    cmd = [PYTHON, "-m", "sphinx", "-W", "--keep-going", "-b", "html"]
    cmd += [DOCS, DOCS / "_build" / "html", *args]
    code = job("Building the docs (warnings are errors)", cmd)
    # An example that ends the process (sys.exit inside the gallery's run)
    # stops Sphinx half-way with exit code 0; the pages prove it finished.
    html = DOCS / "_build" / "html"
    missing = [
        p
        for p in ("index.html", "auto_examples/index.html", "api.html")
        if not (html / p).is_file()
    ]
    if code == 0 and missing:
        print(f"-- the docs build stopped early: no {', '.join(missing)}")
        code = 1
    if code == 0:
        print(f"-- open {html / 'index.html'}")
    return code


JOBS = {"quickstart": quickstart, "test": test, "lint": lint, "docs": docs}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {*JOBS, "install"}:
        print(__doc__)
        return 2
    if sys.version_info < MIN_PYTHON:
        sys.exit(
            f"tasks.py: skdl needs Python >= {'.'.join(map(str, MIN_PYTHON))}; "
            f"this is {sys.version.split()[0]} ({sys.executable})"
        )
    name, args = argv[0], argv[1:]
    install(force=name == "install")
    return 0 if name == "install" else JOBS[name](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
