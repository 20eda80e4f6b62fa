"""Helpers shared by the benchmark scripts: data, timing, memory and output.

Nothing here imports skdl, so the helpers can be used by subprocesses that
time a competitor without paying for (or being perturbed by) skdl's imports.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"

__all__ = [
    "REPO",
    "RESULTS",
    "data_root",
    "git_revision",
    "limit_threads",
    "machine_info",
    "markdown_table",
    "peak_rss_mb",
    "require_data",
    "reset_peak_rss",
    "rss_mb",
    "timed",
    "write_json",
]


# --------------------------------------------------------------------- data
def data_root() -> Path:
    """The real datasets: ``$SKDL_DATA``, else ``../shared/data`` from the repo."""
    return Path(os.environ.get("SKDL_DATA", REPO.parent / "shared" / "data"))


def require_data(subdir: str = "tabular") -> Path:
    """Return ``data_root() / subdir``; exit with a clear message if missing."""
    path = data_root() / subdir
    if not path.is_dir():
        sys.exit(
            f"error: the real datasets were not found at {path}.\n"
            f"Set SKDL_DATA to the folder holding images/ and tabular/ "
            f"(see shared/data/README.md), e.g. SKDL_DATA=/path/to/shared/data."
        )
    return path


# ------------------------------------------------------------------- timing
def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    """Call ``fn(*args, **kwargs)``; return its result and wall seconds."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def limit_threads(n: int) -> dict:
    """Use ``n`` threads in torch and in the BLAS/OpenMP pools numpy uses.

    Returns what is in effect afterwards, for the JSON record.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    # Kept alive for the life of the process on purpose: a benchmark process
    # runs one configuration, and the limits must cover the whole of it.
    limit_threads._limits = threadpool_limits(limits=n)
    return {"torch_num_threads": torch.get_num_threads(), "blas_threads": n}


# ------------------------------------------------------------------- memory
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size in MiB (Linux; NaN elsewhere)."""
    kb = _status_kb("VmRSS")
    return math.nan if kb is None else kb / 1024


def reset_peak_rss() -> tuple[float, bool]:
    """Trim the heap, then reset the peak RSS; return ``(baseline_mb, ok)``.

    ``malloc_trim(0)`` (glibc) first hands memory freed earlier (e.g. the
    temporaries of the data generation) back to the OS, so that later
    allocations raise the RSS instead of silently reusing it. The current
    RSS is then the baseline. Writing ``5`` to ``/proc/self/clear_refs``
    (Linux >= 4.0) resets ``VmHWM`` to it, so a peak read afterwards is not
    masked by those temporaries. ``ok`` is False where the reset is
    unsupported; the peak then falls back to ``ru_maxrss``, which never
    decreases.
    """
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    baseline = rss_mb()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return baseline, False
    return baseline, True


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB since the last reset."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


# ------------------------------------------------------------------- output
def machine_info() -> dict:
    """Hardware and library versions, for the JSON record."""
    import numpy
    import sklearn
    import torch

    try:
        import skorch

        skorch_version = skorch.__version__
    except ImportError:  # pragma: no cover - skorch is a dependency
        skorch_version = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
        "load_average_at_start": load,
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "skorch": skorch_version,
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
        "git": git_revision(),
        "skdl_imported_from": _skdl_location(),
    }


def _skdl_location() -> str | None:
    """Where ``import skdl`` resolves (it may differ from this checkout)."""
    import importlib.util

    spec = importlib.util.find_spec("skdl")
    return None if spec is None else str(Path(spec.origin).parent)


def git_revision() -> dict:
    """The repository's commit and whether the working tree had changes."""
    import subprocess

    def git(*args):
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain", "--", "skdl")
    return {"commit": git("rev-parse", "HEAD"), "skdl_dirty": bool(status)}


def write_json(path: Path, payload: dict) -> Path:
    """Write ``payload`` as indented JSON, atomically (via a ``.tmp`` file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    tmp.replace(path)
    return path


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _cell(value, fmt: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format(value, fmt or ".4g")
    return str(value)


def markdown_table(
    rows: Iterable[dict],
    columns: Sequence[str | tuple[str, str] | tuple[str, str, str]],
) -> str:
    """A GitHub markdown table.

    Parameters
    ----------
    rows : iterable of dict
        One dict per row.
    columns : sequence
        Keys of the rows, or ``(key, header)`` or ``(key, header, format)``
        tuples; floats use ``format`` (default ``".4g"``).
    """
    specs = []
    for col in columns:
        if isinstance(col, str):
            col = (col, col)
        key, header, fmt = (*col, None)[:3]
        specs.append((key, header, fmt))
    rows = list(rows)
    body = [[_cell(row.get(key), fmt) for key, _, fmt in specs] for row in rows]
    headers = [header for _, header, _ in specs]
    numeric = []
    for key, _, _ in specs:
        values = [row.get(key) for row in rows if row.get(key) not in (None, "")]
        numeric.append(bool(values) and all(isinstance(v, int | float) for v in values))
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if num else "---" for num in numeric) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)
