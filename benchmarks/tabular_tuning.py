"""What tuning with ``skdl.search_space`` gains over skdl's defaults.

For a few real tables (``--datasets``; default three that differ in kind:
categorical-heavy, numeric classification, numeric regression) it takes the
first of the fixed 5-fold splits of ``tabular_accuracy.py`` and scores on the
held-out fold

* ``default``: ``TabularClassifier()`` / ``TabularRegressor()`` as shipped;
* ``random``: ``RandomizedSearchCV(est, skdl.search_space(est), n_iter=N,
  cv=3)``, refit on the whole training part;
* ``halving``: ``HalvingRandomSearchCV`` over the same space with
  ``resource="max_epochs"`` (more candidates, most of them trained briefly).

It prints a markdown table (test score, fit time of the whole search, the
best parameters) and saves JSON. Training rows are capped (``--max-train-rows``,
default 3,000) so that the searches finish in minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from _common import (
    BY_NAME,
    CLF,
    add_common_args,
    default_output,
    limit_threads,
    load_table,
    machine_info,
    markdown_table,
    payload_header,
    print_opening,
    require_data,
    subsample,
    write_json,
)
from tabular_accuracy import folds

DEFAULT_DATASETS = ("pmlb_adult", "pmlb_spambase", "pmlb_537_houses")
METHODS = ("default", "random", "halving")


def make_search(method: str, task: str, args):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, RandomizedSearchCV

    import skdl

    cls = skdl.TabularClassifier if task == CLF else skdl.TabularRegressor
    est = cls(random_state=args.seed)
    if method == "default":
        return est
    space = skdl.search_space(est)
    if method == "random":
        return RandomizedSearchCV(
            est, space, n_iter=args.n_iter, cv=3, random_state=args.seed
        )
    return HalvingRandomSearchCV(
        est,
        space,
        resource="max_epochs",
        min_resources=25,
        max_resources=200,
        factor=2,
        n_candidates=4 * args.n_iter,
        cv=3,
        random_state=args.seed,
    )


def run(ds, root: Path, args) -> list[dict]:
    from sklearn.metrics import accuracy_score, r2_score

    X, y, _ = load_table(ds, root, cap=True, seed=args.seed)
    train, test = folds(y, ds.task, args.seed)[0]
    if len(train) > args.max_train_rows:
        train = train[subsample(y[train], args.max_train_rows, ds.task, args.seed)]
    if len(test) > 5000:
        test = test[subsample(y[test], 5000, ds.task, args.seed)]
    X_train, X_test = X.iloc[train], X.iloc[test]
    rows = []
    for method in args.methods:
        model = make_search(method, ds.task, args)
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y[train])
        fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        pred = model.predict(X_test)
        score = (
            accuracy_score(y[test], pred) if ds.task == CLF else r2_score(y[test], pred)
        )
        best = getattr(model, "best_params_", {})
        row = {
            "dataset": ds.name,
            "task": ds.task,
            "method": method,
            "metric": "accuracy" if ds.task == CLF else "r2",
            "test_score": float(score),
            "fit_s": fit_s,
            "fit_cpu_s": fit_cpu_s,
            "n_candidates": len(
                getattr(model, "cv_results_", {"params": [0]})["params"]
            ),
            "best_params": {k: repr(v) for k, v in best.items()},
        }
        rows.append(row)
        print(
            f"  {ds.name:<22} {method:<8} {row['metric']}={score:.4f} "
            f"fit {fit_s:.0f}s ({row['n_candidates']} fits/candidates)",
            flush=True,
        )
    base = rows[0]["test_score"] if rows[0]["method"] == "default" else None
    for row in rows:
        row["gain_vs_default"] = None if base is None else row["test_score"] - base
    return rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--n-iter", type=int, default=12, help="random-search candidates")
    p.add_argument("--max-train-rows", type=int, default=3000)
    add_common_args(
        p,
        threads_default=1,
        quick_help="smoke run: 1 dataset, 2 iter",
        output_help=None,
    )
    args = p.parse_args(argv)
    args.datasets = [BY_NAME[d.strip()] for d in args.datasets.split(",")]
    args.methods = [m.strip() for m in args.methods.split(",")]
    if args.quick:
        args.datasets, args.n_iter, args.max_train_rows = args.datasets[:1], 2, 500
    default_output(args, "tabular_tuning")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    root = require_data("tabular")
    threads = limit_threads(args.threads) if args.threads else {}
    info = machine_info()
    print_opening(
        "tabular_tuning", f"{len(args.datasets)} datasets, n_iter {args.n_iter}", info
    )
    config = {
        "datasets": [d.name for d in args.datasets],
        "methods": args.methods,
        "n_iter": args.n_iter,
        "max_train_rows": args.max_train_rows,
        "seed": args.seed,
        **threads,
    }
    # No "quick" key: the records of this benchmark never had one.
    payload = payload_header("tabular_tuning", config, info)
    payload["results"] = []
    for ds in args.datasets:
        payload["results"].extend(run(ds, root, args))
        write_json(args.output, payload)
    print()
    print(
        markdown_table(
            payload["results"],
            [
                "dataset",
                "method",
                "metric",
                ("test_score", "test score", ".4f"),
                ("gain_vs_default", "gain", "+.4f"),
                ("fit_s", "search wall s", ".0f"),
                ("n_candidates", "candidates"),
            ],
        )
    )
    print(f"\nsaved {write_json(args.output, payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
