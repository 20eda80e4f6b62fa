"""Speed-up of GridSearchCV(n_jobs=2) over n_jobs=1 for skdl estimators.

One grid search, run under several parallel settings in the same process:

* ``sequential``: ``n_jobs=1``, the reference (ratio 1.0); torch uses all
  cores inside each fit;
* ``loky``: ``n_jobs=2`` with joblib's default process backend; joblib gives
  each worker ``cores // 2`` threads through ``OMP_NUM_THREADS``;
* ``threading``: ``n_jobs=2`` in threads of this process; skdl shares the
  cores between the fits running at once (``skdl._training.parallel``);
* ``loky_oversubscribed`` and ``threading_unshared``: the same two, with
  each fit allowed every core (joblib's ``inner_max_num_threads`` set to the
  core count; skdl's sharing switched off), to show what the limits are
  worth.

The search is a :class:`skdl.TabularClassifier` on the real ``satimage``
table ($SKDL_DATA/tabular, 6,435 rows, 36 numeric features, 6 classes): 12
candidates (``lr`` x ``dropout`` x ``weight_decay``) x 3 folds, each fit a
fixed number of epochs (no early stopping, so that every fit does the same
work and the timing measures the parallelism, not convergence). Process
workers are started, and have imported skdl, before the clock starts; the
start-up is timed and reported separately. Repeats are interleaved, and the
speed-up is taken from each setting's fastest repeat.

Run ``python benchmarks/parallel_search.py --quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

from _common import (
    BY_NAME,
    add_common_args,
    default_output,
    load_table,
    machine_info,
    markdown_table,
    require_data,
    subsample,
    timed,
    write_json,
)

SETTINGS = {
    # name: (n_jobs, backend, inner threads, skdl sharing)
    "sequential": (1, "loky", None, True),
    "loky": (2, "loky", None, True),
    "threading": (2, "threading", None, True),
    "loky_oversubscribed": (2, "loky", "all", True),
    "threading_unshared": (2, "threading", None, False),
}
REFERENCE = "sequential"
GRID = {
    "lr": [1e-3, 3e-3],
    "dropout": [0.0, 0.2],
    "weight_decay": [0.0, 1e-4, 1e-3],
}
QUICK_GRID = {"lr": [1e-3, 3e-3], "dropout": [0.0, 0.2]}


def _estimator(epochs: int):
    import torch

    from skdl import TabularClassifier

    class ThreadsUsed(TabularClassifier):
        """Records torch's thread count inside fit (where the limit holds)."""

        def _build_module(self, n_outputs):
            self.threads_used_ = torch.get_num_threads()
            return super()._build_module(n_outputs)

    return ThreadsUsed(
        hidden_layer_sizes=(128, 128),
        max_epochs=epochs,
        batch_size=64,
        early_stopping=False,
        random_state=0,
        device="cpu",
    )


def _threads_used(est, X, y):
    return est.threads_used_


@contextlib.contextmanager
def _skdl_sharing(enabled: bool):
    """Switch skdl's per-process thread sharing off (to show its effect)."""
    if enabled:
        yield
        return
    import skdl._base
    import skdl._training.parallel

    saved = skdl._base.share_threads, skdl._training.parallel._rebalance
    skdl._base.share_threads = contextlib.nullcontext
    skdl._training.parallel._rebalance = lambda: None
    try:
        yield
    finally:
        skdl._base.share_threads, skdl._training.parallel._rebalance = saved


def _warm_up(n_jobs: int) -> float:
    """Start the active backend's workers and import skdl there."""
    from joblib import Parallel, delayed

    def ping(i):
        import skdl  # noqa: F401

        return os.getpid()

    _, seconds = timed(Parallel(n_jobs=n_jobs), (delayed(ping)(i) for i in range(8)))
    return seconds


def run_setting(name: str, X, y, grid: dict, epochs: int, cv: int) -> dict:
    import numpy as np
    from joblib import parallel_config
    from sklearn.model_selection import GridSearchCV

    n_jobs, backend, inner, share = SETTINGS[name]
    config = {"backend": backend}
    if inner == "all":
        config["inner_max_num_threads"] = os.cpu_count()
    search = GridSearchCV(
        _estimator(epochs),
        grid,
        cv=cv,
        n_jobs=n_jobs,
        scoring={"accuracy": "accuracy", "threads": _threads_used},
        refit=False,
    )
    with parallel_config(**config), _skdl_sharing(share):
        startup = _warm_up(n_jobs) if n_jobs > 1 else 0.0
        load_before = os.getloadavg()[0]
        _, seconds = timed(search.fit, X, y)
    threads = np.concatenate(
        [search.cv_results_[f"split{i}_test_threads"] for i in range(cv)]
    )
    return {
        "setting": name,
        "n_jobs": n_jobs,
        "backend": backend,
        "seconds": seconds,
        "worker_startup_seconds": startup,
        "fits": len(threads),
        "threads_per_fit": sorted({int(t) for t in threads}),
        "mean_accuracy": float(np.mean(search.cv_results_["mean_test_accuracy"])),
        "load_1min_before": load_before,
    }


def summarize(runs: list[dict]) -> list[dict]:
    by_setting: dict[str, list[dict]] = {}
    for run in runs:
        by_setting.setdefault(run["setting"], []).append(run)
    best_ref = min(r["seconds"] for r in by_setting[REFERENCE])
    rows = []
    for name, group in by_setting.items():
        best = min(r["seconds"] for r in group)
        rows.append(
            {
                "setting": name,
                "n_jobs": group[0]["n_jobs"],
                "threads_per_fit": "/".join(
                    str(t)
                    for t in sorted({t for r in group for t in r["threads_per_fit"]})
                ),
                "best_s": best,
                "median_s": statistics.median(r["seconds"] for r in group),
                "speedup": best_ref / best,
                # The first run of a setting starts the workers; later runs
                # reuse them.
                "startup_s": max(r["worker_startup_seconds"] for r in group),
                "accuracy": group[0]["mean_accuracy"],
            }
        )
    return rows


COLUMNS = [
    ("setting", "setting"),
    ("n_jobs", "n_jobs"),
    ("threads_per_fit", "torch threads per fit"),
    ("best_s", "best (s)", ".1f"),
    ("median_s", "median (s)", ".1f"),
    ("speedup", "speed-up vs n_jobs=1", ".2f"),
    ("startup_s", "worker start-up (s, untimed, once)", ".1f"),
    ("accuracy", "mean CV accuracy", ".4f"),
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=[s for s in SETTINGS if s != "loky_oversubscribed"],
        help="parallel settings to time; sequential is always included, and "
        "loky_oversubscribed only on request (on 2 busy cores it ran about "
        "70x slower than n_jobs=1 in the quick run)",
    )
    add_common_args(
        p, quick_help="smoke run (about a minute)", threads=False, seed=False
    )
    return p.parse_args(argv)


def main(argv=None) -> None:
    from sklearn.model_selection import ParameterGrid

    args = parse_args(argv)
    settings = [REFERENCE] + [s for s in args.settings if s != REFERENCE]
    root = require_data("tabular")
    X, y, info = load_table(BY_NAME["pmlb_satimage"], root, cap=True, seed=0)
    grid, epochs, cv = GRID, args.epochs, 3
    if args.quick:
        keep = subsample(y, 1500, "classification", seed=0)
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
        grid, epochs, cv, args.repeats = QUICK_GRID, 3, 2, 1
    info["rows_used"] = len(y)
    machine = machine_info()
    n_candidates = len(ParameterGrid(grid))
    load = machine["load_average_at_start"]
    print(
        f"satimage: {len(y)} rows; {n_candidates} candidates x {cv} folds; "
        f"{epochs} epochs per fit; load average {load}",
        flush=True,
    )

    runs = []
    start = time.perf_counter()
    for repeat in range(args.repeats):
        for name in settings:
            run = run_setting(name, X, y, grid, epochs, cv)
            run["repeat"] = repeat
            runs.append(run)
            print(
                f"  repeat {repeat} {name:<20} {run['seconds']:7.1f} s  threads/fit "
                f"{run['threads_per_fit']}  load {run['load_1min_before']:.2f}",
                flush=True,
            )
    machine["load_average_at_end"] = os.getloadavg()
    rows = summarize(runs)
    table = markdown_table(rows, COLUMNS)
    print()
    print(table)

    output = default_output(args, "parallel_search")
    payload = {
        "benchmark": "parallel_search",
        "quick": args.quick,
        "argv": sys.argv[1:],
        "machine": machine,
        "data": {"name": "pmlb_satimage", **info},
        "grid": grid,
        "cv": cv,
        "epochs_per_fit": epochs,
        "estimator": repr(_estimator(epochs)),
        "total_seconds": time.perf_counter() - start,
        "summary": rows,
        "runs": runs,
        "markdown": table,
    }
    print(f"\nwrote {write_json(output, payload)}")


if __name__ == "__main__":
    main()
