"""Accuracy baseline: skdl's defaults against standard peers on real tables.

Runs the real (non-synthetic) classification and regression datasets of
``$SKDL_DATA/tabular`` on fixed 5-fold splits and compares

* ``skdl``: :class:`skdl.TabularClassifier` / :class:`skdl.TabularRegressor`
  with default parameters, given the DataFrame unchanged (raw strings and
  missing values included);
* ``mlp``: scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` defaults behind
  an impute + scale (numeric) and impute + one-hot (string) pipeline; the
  regressor's target is standardized too (``TransformedTargetRegressor``),
  as skdl does internally;
* ``hgb``: ``HistGradientBoosting*`` defaults; string columns are ordinal
  encoded and declared categorical, NaNs are left to the model;
* ``linear``: ``LogisticRegression(max_iter=1000)`` / ``Ridge()`` behind the
  same pipeline as ``mlp``.

It records accuracy and log-loss (classification) or R² and RMSE
(regression), fit and predict time per split, prints markdown tables, the
wins/ties/losses of skdl against each peer (with the tie margins and
without), the median normalized score and each model's median fit time and
its ratio to HistGradientBoosting's, and saves JSON. See
``benchmarks/README.md``.

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
import pandas as pd
from _common import (
    BY_NAME,
    CLF,
    DATASETS,
    MIN_CLASS_ROWS,
    REG,
    Dataset,
    add_common_args,
    default_output,
    limit_threads,
    load_table,
    machine_info,
    markdown_table,
    payload_header,
    print_opening,
    require_data,
    string_columns,
    subsample,
    timed,
    write_json,
)

MODELS = ("skdl", "mlp", "hgb", "linear")
N_FOLDS = 5
#: |skdl - peer| at or below these counts as a tie, per metric.
TIES = {"accuracy": 0.002, "log_loss": 0.005, "r2": 0.005, "rmse_rel": 0.01}
METRICS = {CLF: ("accuracy", "log_loss"), REG: ("r2", "rmse")}
HIGHER_IS_BETTER = {"accuracy": True, "log_loss": False, "r2": True, "rmse": False}


def folds(y: np.ndarray, task: str, seed: int):
    """The fixed 5-fold split: stratified for classification, shuffled."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == CLF:
        cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
        return list(cv.split(np.zeros(len(y)), y))
    cv = KFold(N_FOLDS, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y))))


# -------------------------------------------------------------------- models
def _dense_preprocessor(X: pd.DataFrame):
    """Impute + scale numeric columns, impute + one-hot string columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    strings = string_columns(X)
    numeric = [c for c in X.columns if c not in strings]
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                strings,
            ),
        ]
    )


def make_model(
    name: str, task: str, X: pd.DataFrame, seed: int, skdl_params: dict | None = None
):
    """A fresh, unfitted model ``name`` for ``task`` and the columns of X.

    ``skdl_params`` overrides skdl's defaults (None: the defaults).
    """
    from sklearn.pipeline import make_pipeline

    if name == "skdl":
        from skdl import TabularClassifier, TabularRegressor

        cls = TabularClassifier if task == CLF else TabularRegressor
        return cls(random_state=seed, **(skdl_params or {}))
    if name == "mlp":
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import StandardScaler

        if task == CLF:
            return make_pipeline(
                _dense_preprocessor(X), MLPClassifier(random_state=seed)
            )
        return TransformedTargetRegressor(
            make_pipeline(_dense_preprocessor(X), MLPRegressor(random_state=seed)),
            transformer=StandardScaler(),
        )
    if name == "hgb":
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )
        from sklearn.preprocessing import OrdinalEncoder

        cls = (
            HistGradientBoostingClassifier
            if task == CLF
            else HistGradientBoostingRegressor
        )
        strings = string_columns(X)
        if not strings:
            return cls(random_state=seed)
        encode = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                    ),
                    strings,
                )
            ],
            remainder="passthrough",
        )
        mask = [True] * len(strings) + [False] * (X.shape[1] - len(strings))
        return make_pipeline(encode, cls(categorical_features=mask, random_state=seed))
    if name == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        est = LogisticRegression(max_iter=1000) if task == CLF else Ridge()
        return make_pipeline(_dense_preprocessor(X), est)
    raise ValueError(f"unknown model {name!r}")


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


def run_dataset(ds: Dataset, root: Path, args) -> tuple[dict, list[dict]]:
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
                "task": ds.task,
                "model": name,
                "split": split,
                "n_train": len(train),
                "n_test": len(test),
            }
            try:
                model = make_model(name, ds.task, X_train, args.seed, args.skdl_params)
                record.update(
                    evaluate(model, ds.task, X_train, y[train], X_test, y[test], labels)
                )
            except Exception as exc:  # a failure is a result, not a crash
                record["error"] = f"{type(exc).__name__}: {exc}"[:500]
                if args.verbose:
                    traceback.print_exc()
            records.append(record)
            _progress(record)
    return info, records


def _progress(r: dict) -> None:
    if "error" in r:
        status = "ERROR " + r["error"][:120]
    else:
        first, second = METRICS[r["task"]]
        status = (
            f"{first} {r[first]:.4f}  {second} {r[second]:.4g}  fit {r['fit_s']:.1f}s"
        )
    print(
        f"  {r['dataset']:<34} split {r['split']} {r['model']:<7} {status}",
        flush=True,
    )


# -------------------------------------------------------------------- summary
def aggregate(records: list[dict]) -> list[dict]:
    """Mean over splits per (dataset, model); errors are kept as such."""
    rows = []
    keys = sorted({(r["dataset"], r["model"]) for r in records}, key=_order)
    for dataset, model in keys:
        mine = [r for r in records if r["dataset"] == dataset and r["model"] == model]
        ok = [r for r in mine if "error" not in r]
        row = {
            "dataset": dataset,
            "task": mine[0]["task"],
            "model": model,
            "n_train": mine[0]["n_train"],
            "n_splits": len(ok),
        }
        if len(ok) < len(mine):
            row["error"] = next(r["error"] for r in mine if "error" in r)
        if ok:
            for key in (*METRICS[row["task"]], "fit_s", "predict_s"):
                row[key] = float(np.mean([r[key] for r in ok]))
            first = METRICS[row["task"]][0]
            row[first + "_std"] = float(np.std([r[first] for r in ok]))
        rows.append(row)
    return rows


def _order(key):
    dataset, model = key
    names = list(BY_NAME)
    return (names.index(dataset) if dataset in names else len(names), model)


def _score(row: dict | None, metric: str) -> float | None:
    if row is None or "error" in row or metric not in row:
        return None
    return row[metric]


def compare(rows: list[dict], models: list[str]) -> dict:
    """Wins/ties/losses of skdl against each peer and normalized scores.

    A model that failed on a dataset loses against one that did not, and
    gets the normalized score 0 there. Ties use ``TIES`` (absolute for
    accuracy, log-loss and R², relative for RMSE); ``skdl_vs_peer_strict``
    counts the same comparisons with no margin (a tie only for equal means).
    ``fit_time`` has each model's median fit seconds over the datasets and,
    against ``hgb``, the ratio of those medians and the median of the
    per-dataset ratios.
    """
    table = {(r["dataset"], r["model"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    wtl: dict = {}
    strict: dict = {}
    normalized: dict = {m: {} for m in models}
    for dataset in datasets:
        task = next(r["task"] for r in rows if r["dataset"] == dataset)
        for metric in METRICS[task]:
            kind = "primary" if metric == METRICS[task][0] else "secondary"
            sign = 1 if HIGHER_IS_BETTER[metric] else -1
            scores = {m: _score(table.get((dataset, m)), metric) for m in models}
            valid = [v for v in scores.values() if v is not None]
            if valid:
                best = max(valid, key=lambda v: sign * v)
                worst = min(valid, key=lambda v: sign * v)
                for m, v in scores.items():
                    if (dataset, m) not in table:
                        continue
                    if v is None:
                        norm = 0.0
                    elif best == worst:
                        norm = 1.0
                    else:
                        norm = (v - worst) / (best - worst)
                    normalized[m].setdefault(kind, []).append(norm)
            if (dataset, "skdl") not in table:
                continue
            mine = scores["skdl"]
            for peer in models:
                if peer == "skdl" or (dataset, peer) not in table:
                    continue
                other = scores[peer]
                for margin, tally in ((True, wtl), (False, strict)):
                    outcome = _outcome(mine, other, metric, sign, margin=margin)
                    if outcome is None:
                        continue
                    counts = tally.setdefault(peer, {}).setdefault(
                        metric, {"wins": 0, "ties": 0, "losses": 0}
                    )
                    counts[outcome] += 1
    median_norm = {
        m: {k: float(np.median(v)) for k, v in kinds.items()}
        for m, kinds in normalized.items()
    }
    return {
        "skdl_vs_peer": wtl,
        "skdl_vs_peer_strict": strict,
        "median_normalized_score": median_norm,
        "fit_time": _fit_times(rows, models),
    }


def _fit_times(rows: list[dict], models: list[str]) -> dict:
    """Median fit seconds per model; ratios to ``hgb`` both ways of taking them."""
    fit = {(r["dataset"], r["model"]): r["fit_s"] for r in rows if r.get("fit_s")}
    hgb = {d: v for (d, m), v in fit.items() if m == "hgb"}
    out: dict = {}
    for m in models:
        mine = {d: v for (d, mm), v in fit.items() if mm == m}
        if not mine:
            continue
        out[m] = {"median_fit_s": float(np.median(list(mine.values())))}
        both = [d for d in mine if d in hgb]
        if m != "hgb" and both:
            out[m]["ratio_of_medians_to_hgb"] = out[m]["median_fit_s"] / float(
                np.median(list(hgb.values()))
            )
            out[m]["median_ratio_to_hgb"] = float(
                np.median([mine[d] / hgb[d] for d in both])
            )
    return out


def _outcome(mine, other, metric, sign, *, margin: bool = True) -> str | None:
    if mine is None and other is None:
        return None
    if mine is None:
        return "losses"
    if other is None:
        return "wins"
    diff = sign * (mine - other)
    if metric == "rmse":
        tol = TIES["rmse_rel"] * abs(other)
    else:
        tol = TIES[metric]
    if not margin:
        tol = 0.0
    if abs(diff) <= tol:
        return "ties"
    return "wins" if diff > 0 else "losses"


def report(rows: list[dict], summary: dict, models: list[str]) -> str:
    """The markdown tables printed at the end of a run."""
    out = []
    for task in (CLF, REG):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows:
            continue
        first, second = METRICS[task]
        datasets = list(dict.fromkeys(r["dataset"] for r in task_rows))
        table = {(r["dataset"], r["model"]): r for r in task_rows}
        wide = []
        for d in datasets:
            n_train = next(r["n_train"] for r in task_rows if r["dataset"] == d)
            line = {"dataset": d, "n_train": n_train}
            for m in models:
                r = table.get((d, m))
                if r is None:
                    continue
                line[m] = "error" if _score(r, first) is None else r[first]
                line[m + " fit s"] = r.get("fit_s")
            wide.append(line)
        cols = ["dataset", "n_train"]
        cols += [(m, f"{m} {first}", ".4f") for m in models]
        cols += [(m + " fit s", f"{m} fit s", ".2f") for m in models]
        out.append(f"### {task}: {first} (mean over splits) and fit time\n")
        out.append(markdown_table(wide, cols))
        detail = [{**r, "error": r.get("error", "")[:60]} for r in task_rows]
        out.append(f"\n### {task}: all metrics\n")
        out.append(
            markdown_table(
                detail,
                [
                    "dataset",
                    "model",
                    (first, first, ".4f"),
                    (first + "_std", "std", ".4f"),
                    (second, second, ".4g"),
                    ("fit_s", "fit s", ".2f"),
                    ("predict_s", "predict s", ".3f"),
                    "error",
                ],
            )
        )
        out.append("")
    wtl = summary["skdl_vs_peer"]
    strict = summary.get("skdl_vs_peer_strict", {})
    if wtl:
        lines = []
        for peer, metrics in wtl.items():
            for metric, c in metrics.items():
                s = strict.get(peer, {}).get(metric, {})
                lines.append(
                    {
                        "peer": peer,
                        "metric": metric,
                        "skdl wins": c["wins"],
                        "ties": c["ties"],
                        "losses": c["losses"],
                        "strict": f"{s.get('wins')} / {s.get('ties')} / "
                        f"{s.get('losses')}",
                    }
                )
        out.append(
            "### skdl against each peer (ties: "
            + _ties_text()
            + "; strict: wins / ties / losses with no margin)\n"
        )
        out.append(
            markdown_table(
                lines, ["peer", "metric", "skdl wins", "ties", "losses", "strict"]
            )
        )
        out.append("")
    norm = summary["median_normalized_score"]
    out.append("### Median normalized score (1 = best model on a dataset, 0 = worst)\n")
    out.append(
        markdown_table(
            [
                {
                    "model": m,
                    "primary": norm.get(m, {}).get("primary"),
                    "secondary": norm.get(m, {}).get("secondary"),
                }
                for m in models
            ],
            [
                "model",
                ("primary", "accuracy / R²", ".3f"),
                ("secondary", "log-loss / RMSE", ".3f"),
            ],
        )
    )
    times = summary.get("fit_time", {})
    if times:
        out.append("\n### Fit time (median over datasets of the mean per split)\n")
        out.append(
            markdown_table(
                [{"model": m, **times[m]} for m in models if m in times],
                [
                    "model",
                    ("median_fit_s", "median fit s", ".2f"),
                    ("ratio_of_medians_to_hgb", "ratio of medians to hgb", ".1f"),
                    ("median_ratio_to_hgb", "median per-dataset ratio", ".1f"),
                ],
            )
        )
    return "\n".join(out)


def _ties_text() -> str:
    return (
        f"accuracy ±{TIES['accuracy']}, log-loss ±{TIES['log_loss']}, "
        f"R² ±{TIES['r2']}, RMSE ±{TIES['rmse_rel']:.0%}"
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
    if args.datasets:
        names = [d.strip() for d in args.datasets.split(",")]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            p.error(f"unknown datasets {unknown}; see --list")
        args.datasets = [BY_NAME[n] for n in names]
    else:
        args.datasets = [
            d for d in DATASETS if args.include_synthetic or not d.synthetic
        ]
    settings = "".join(f"_{k}{v}" for k, v in (args.skdl_params or {}).items())
    default_output(args, "tabular_accuracy", settings)
    return args


def summarize(path: Path) -> None:
    """Recompute a saved run's aggregate and summary (e.g. after a new statistic)."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    models = payload["config"]["models"]
    rows = aggregate(payload["records"])
    summary = compare(rows, models)
    payload.update(aggregate=rows, summary=summary)
    print(report(rows, summary, models))
    print(f"\nsaved {write_json(path, payload)}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return
    if args.list:
        for d in DATASETS:
            flag = " (synthetic)" if d.synthetic else ""
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
    for ds in args.datasets:
        try:
            ds_info, records = run_dataset(ds, root, args)
        except Exception as exc:  # e.g. a missing or unreadable file
            print(f"  {ds.name}: could not load ({type(exc).__name__}: {exc})")
            payload["datasets"][ds.name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        payload["datasets"][ds.name] = {**asdict(ds), **ds_info}
        payload["records"].extend(records)
        write_json(args.output, payload)  # keep partial results of long runs
    rows = aggregate(payload["records"])
    summary = compare(rows, args.models)
    payload.update(aggregate=rows, summary=summary)
    print()
    print(report(rows, summary, args.models))
    path = write_json(args.output, payload)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    sys.exit(main())
