"""Run every Python code block of the user guide, as a reader would.

Each page (every ``docs/user_guide/*.rst``, found anew on each run, plus
``docs/index.rst`` and ``docs/quickstart.rst``) becomes one test. Its
``.. code-block:: python`` blocks (also ``.. code::`` / ``.. sourcecode::``
with ``python``) are written, in page order, into one script that runs in a
fresh interpreter with the temporary test folder as working directory, so a
block may use what an earlier block on the same page defined, and nothing
else: no setup the page does not show. The script runs as ``__main__``, as
``python page.py`` would run it, so code that needs an
``if __name__ == "__main__":`` guard (process pools) must show it. A block
marked ``new-script`` (below) starts a new script, run after the previous
one in its own interpreter: a standalone program shown on a page, which
must not see (nor, when its worker processes re-import the main script,
re-run) the blocks before it.
``text``, ``bash`` and ``::`` literal blocks are output or shell commands
and are not run.

Keep blocks fast as written (small data, few epochs): a page runs in
seconds.

Markers
-------
A block that cannot run everywhere says so in an RST comment on the line
right before its ``.. code-block::`` (comments are invisible in the built
docs)::

    .. skdl-doctest: requires data
    .. skdl-doctest: requires module dask_cuda
    .. skdl-doctest: requires cuda
    .. skdl-doctest: skip needs a Dask scheduler at tcp://<scheduler>:8786
    .. skdl-doctest: new-script

``new-script`` is described above and can be combined with the others.
``requires data`` runs the block with ``SKDL_DATA`` set to the real data
folder (see ``tests/conftest.py``) and leaves it out where that folder is
missing; ``requires module NAME`` leaves it out where ``NAME`` cannot be
imported; ``requires cuda`` where no CUDA GPU is visible; ``skip REASON``
always. A block left out is reported as its own skipped test, with the
reason, so ``pytest -ra`` lists it. Later blocks on the page must not depend
on a block that may be left out (give them the same marker); the page's test
fails if they do.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TIMEOUT_S = 600

_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode)::\s*(?P<lang>\S*)\s*$"
)
_MARKER = re.compile(r"^\s*\.\. skdl-doctest:\s*(?P<what>.+?)\s*$")
_PYTHON = {"python", "python3", "py"}


@dataclass
class Block:
    """One Python code block: its code, where it starts, what it needs."""

    code: str
    line: int  # 1-based line of the ``.. code-block::`` directive
    needs: list[str] = field(default_factory=list)
    new_script: bool = False


def pages() -> list[Path]:
    """The pages whose code blocks are run: the user guide, index, quickstart."""
    return [
        DOCS / "index.rst",
        DOCS / "quickstart.rst",
        *sorted((DOCS / "user_guide").glob("*.rst")),
    ]


def python_blocks(text: str) -> list[Block]:
    """The Python code blocks of an RST text, with the markers above each."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match or match.group("lang").lower() not in _PYTHON:
            continue
        needs = []
        j = i - 1
        while j >= 0 and (marker := _MARKER.match(lines[j])):
            needs.insert(0, marker.group("what"))
            j -= 1
        indent = len(match.group("indent"))
        body, k = [], i + 1
        while k < len(lines):  # directive options (":caption: ...") come first
            if lines[k].strip().startswith(":") and not body:
                k += 1
                continue
            if lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) <= indent:
                break
            body.append(lines[k])
            k += 1
        code = "\n".join(body).strip("\n")
        width = min(
            (len(c) - len(c.lstrip()) for c in code.splitlines() if c.strip()),
            default=0,
        )
        code = "\n".join(c[width:] for c in code.splitlines())
        new_script = "new-script" in needs
        needs = [need for need in needs if need != "new-script"]
        blocks.append(Block(code, i + 1, needs, new_script))
    return blocks


def unmet_need(need: str, data_dir: Path) -> str | None:
    """Why a block marked with ``need`` cannot run here, or None if it can."""
    words = need.split()
    if words[0] == "skip":
        return " ".join(words[1:]) or "marked skip"
    if words[:2] == ["requires", "data"] and len(words) == 2:
        if not data_dir.is_dir():
            return f"needs the real datasets; none at {data_dir} (set SKDL_DATA)"
        return None
    if words[:2] == ["requires", "cuda"] and len(words) == 2:
        return None if torch.cuda.is_available() else "needs a CUDA GPU"
    if words[:2] == ["requires", "module"] and len(words) == 3:
        if importlib.util.find_spec(words[2]) is None:
            return f"needs the package providing {words[2]!r}"
        return None
    raise ValueError(f"unknown skdl-doctest marker {need!r}")


def data_root() -> Path:
    return Path(os.environ.get("SKDL_DATA", REPO.parent / "shared" / "data"))


def split_blocks(page: Path) -> tuple[list[Block], list[tuple[Block, str]]]:
    """The blocks to run on a page, and those left out with the reason."""
    run, left_out = [], []
    for block in python_blocks(page.read_text(encoding="utf-8")):
        reasons = [r for n in block.needs if (r := unmet_need(n, data_root()))]
        if reasons:
            left_out.append((block, "; ".join(reasons)))
        else:
            run.append(block)
    return run, left_out


def page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


def test_pages_have_python_blocks():
    """The extraction finds the guide's blocks (this suite cannot pass empty)."""
    counted = {page_id(p): len(python_blocks(p.read_text())) for p in pages()}
    assert sum(counted.values()) >= 15, counted
    assert counted["index.rst"] >= 1 and counted["quickstart.rst"] >= 1, counted


def test_block_parser_reads_markers_and_indentation():
    text = (
        "Title\n=====\n\n.. skdl-doctest: requires module nowhere_xyz\n"
        ".. code-block:: python\n   :caption: demo\n\n   x = 1\n   if x:\n"
        "       y = 2\n\nAfter.\n\n.. code-block:: text\n\n   not code\n"
    )
    (block,) = python_blocks(text)
    assert block.code == "x = 1\nif x:\n    y = 2"
    assert block.needs == ["requires module nowhere_xyz"]
    assert not block.new_script
    assert block.line == 5
    assert unmet_need(block.needs[0], Path(".")) is not None
    with pytest.raises(ValueError, match="unknown skdl-doctest marker"):
        unmet_need("reqires data", Path("."))


def test_new_script_marker_starts_a_script():
    text = (
        ".. code-block:: python\n\n   a = 1\n\n"
        ".. code-block:: python\n\n   b = a\n\n"
        ".. skdl-doctest: new-script\n.. code-block:: python\n\n   c = 3\n"
    )
    first, second, third = python_blocks(text)
    assert third.new_script and not second.new_script
    assert [[b.code for b in group] for group in scripts([first, second, third])] == [
        ["a = 1", "b = a"],
        ["c = 3"],
    ]


def scripts(blocks: list[Block]) -> list[list[Block]]:
    """The blocks grouped into scripts: a ``new-script`` block starts one."""
    groups: list[list[Block]] = []
    for block in blocks:
        if block.new_script or not groups:
            groups.append([])
        groups[-1].append(block)
    return groups


def _script(page: Path, blocks: list[Block]) -> tuple[str, list[tuple[int, Block]]]:
    """The page's blocks as one script, and where each block starts in it."""
    parts, starts, line = [], [], 1
    for block in blocks:
        header = f"# --- {page_id(page)}, block at line {block.line}\n"
        parts.append(header + block.code + "\n\n")
        starts.append((line + 1, block))
        line += header.count("\n") + block.code.count("\n") + 2
    return "".join(parts), starts


def _failing_block(stderr: str, script: Path, starts) -> str:
    """'page.rst:LINE' of the block where the traceback's last frame is."""
    lines = re.findall(rf'File "{re.escape(str(script))}", line (\d+)', stderr)
    if not lines:
        return "unknown block"
    where = int(lines[-1])
    start, block = max((s for s in starts if s[0] <= where), key=lambda s: s[0])
    return f"the block at line {block.line} (its line {where - start + 1})"


LEFT_OUT = [
    pytest.param(page, block, reason, id=f"{page_id(page)}:{block.line}")
    for page in pages()
    for block, reason in split_blocks(page)[1]
]


@pytest.mark.slow
@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_page_code_runs(page, tmp_path):
    blocks, _ = split_blocks(page)
    if not blocks:
        pytest.skip(f"{page_id(page)} has no Python code block that can run here")
    env = {**os.environ, "MPLBACKEND": "Agg", "SKDL_DATA": str(data_root())}
    env.pop("SKDL_EXAMPLES_FAST", None)  # the blocks run as written
    for number, group in enumerate(scripts(blocks)):
        code, starts = _script(page, group)
        script = tmp_path / f"{page.stem}_script{number}.py"
        script.write_text(code, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        where = _failing_block(proc.stderr, script, starts)
        assert proc.returncode == 0, (
            f"{page_id(page)}: {where} failed\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
        )


@pytest.mark.parametrize(("page", "block", "reason"), LEFT_OUT)
def test_left_out_block(page, block, reason):
    pytest.skip(f"{page_id(page)}:{block.line} not run: {reason}")


def test_quickstart_page_shows_the_example_script():
    """docs/quickstart.rst shows examples/quickstart.py, less its fast mode.

    The page quotes the output of a full run of the script, so its code must
    be the script's: the script without its docstring, ``import os`` and
    the section between the ``# --- fast mode`` comment and the closing
    ``# ---`` line.
    """
    (block,) = python_blocks((DOCS / "quickstart.rst").read_text(encoding="utf-8"))
    script = (REPO / "examples" / "quickstart.py").read_text(encoding="utf-8")
    body = script[script.index('"""', 3) + 3 :]
    body = re.sub(r"\n# --- fast mode.*?\n# -{10,}\n", "", body, flags=re.DOTALL)
    body = body.replace("import os\n\n", "", 1)
    assert "SKDL_EXAMPLES_FAST" not in body, "fast-mode section not delimited"
    assert block.code.strip() == body.strip()
