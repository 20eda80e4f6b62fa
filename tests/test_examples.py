"""Smoke-run every script in examples/ and the README's code, in fast mode.

Each example runs in its own interpreter (``sys.executable``) with
``SKDL_EXAMPLES_FAST=1``, which every example honours with fewer epochs and a
smaller search, and must exit 0 within the timeout. Figures go to the test's
temporary folder (``SKDL_EXAMPLES_OUT``). An example that reads ``SKDL_DATA``
needs the real datasets: it is marked ``data``, gets the data folder passed
on, and is skipped where that folder is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
TIMEOUT_S = 600

# Text an example must print, beyond exiting 0; examples not listed here
# only have to exit 0.
EXPECTED_OUTPUT = {
    "quickstart.py": ["Best parameters:", "mean_test_score", "Held-out accuracy:"],
}


def needs_data(script: Path) -> bool:
    return "SKDL_DATA" in script.read_text(encoding="utf-8")


def run_python(
    args: list[str], tmp_path: Path, **env_vars: str
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SKDL_EXAMPLES_FAST": "1",
        "SKDL_EXAMPLES_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
        **env_vars,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,  # anything an example writes lands in the test's tmp dir
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def check_ran(proc: subprocess.CompletedProcess, expected: list[str]) -> None:
    report = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{report}"
    for text in expected:
        assert text in proc.stdout, f"{text!r} not printed\n{report}"


def test_examples_found():
    assert "quickstart.py" in {path.name for path in EXAMPLES}


EXAMPLE_PARAMS = [
    pytest.param(path, id=path.name, marks=pytest.mark.data if needs_data(path) else ())
    for path in EXAMPLES
]


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLE_PARAMS)
def test_example_runs(script, tmp_path, request):
    env_vars = {}
    if needs_data(script):
        env_vars["SKDL_DATA"] = str(request.getfixturevalue("data_dir"))
    proc = run_python([str(script)], tmp_path, **env_vars)
    check_ran(proc, EXPECTED_OUTPUT.get(script.name, []))


def readme_code_blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path):
    blocks = readme_code_blocks()
    assert blocks, "README.md has no ```python blocks"
    proc = run_python(["-c", "\n\n".join(blocks)], tmp_path)
    check_ran(proc, [])
