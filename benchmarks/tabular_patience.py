"""How long must early stopping wait? Replays skdl's validation curves.

Fits skdl's tabular defaults on the fixed 5-fold splits of
``tabular_accuracy.py`` with a long patience (``--patience``, default 10)
and records, for every epoch, the validation loss that early stopping
watches and the accuracy (classification) or R² (regression) of that
epoch's weights on the test fold. Training does not depend on the patience,
so every shorter patience ``p`` is an exact replay: the fit would have
stopped at the first epoch with ``p`` epochs without an improvement of
``tol``, and kept the epoch with the lowest validation loss up to then. The
script prints, for each table and each candidate patience, the mean test
score and the share of the training epochs' time, and what
``patience="auto"`` picks for each table, and saves the curves as JSON.

The test score is taken from the weights that validation saw (with
``ema_epochs``, the averaged weights), which are the weights early
stopping keeps. Accuracy does not depend on the classifier's temperature
calibration, which runs after training. Scoring the test fold happens
inside each epoch, so the recorded epoch times include it (a forward pass
over a fifth of the table, against training on the rest); the time shares
are ratios of such epochs.

Run ``python benchmarks/tabular_patience.py --quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from _common import (
    BY_NAME,
    CLF,
    DATASETS,
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
from tabular_accuracy import folds, make_model

CANDIDATES = (3, 4, 5, 6, 8, 10)


def _test_recorder(estimator, X_test, y_test, task: str):
    """A skorch callback that scores the test fold once per epoch.

    It scores at the end of the epoch's first validation batch: the weights
    are those validation uses (averaged, with ``ema_epochs``) and that early
    stopping snapshots, and the epoch's end is too late, because early
    stopping ends the fit from there before later callbacks run.
    """
    import torch
    from skorch.callbacks import Callback

    class TestRecorder(Callback):
        dataset_ = None

        def on_epoch_begin(self, net, **kwargs):
            self.scored_ = False
            self.train_rows_ = 0

        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training:
                self.train_rows_ += len(batch[1])
                return
            if self.scored_:
                return
            self.scored_ = True
            if self.dataset_ is None:  # encoded once, by the fitted encoder
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # unknown test categories
                    self.dataset_ = estimator._make_dataset(X_test)
            module = net.plain_module()
            module.eval()
            with torch.no_grad():
                batches = self.dataset_.batches(4096)
                out = torch.cat([module(**xb) for xb, _ in batches])
            out = out.float().numpy()
            if task == CLF:
                y = np.searchsorted(estimator.classes_, y_test)
                pred = (out[:, 0] > 0) if out.shape[1] == 1 else out.argmax(axis=1)
                score = float(np.mean(pred == y))
            else:
                y = (y_test - estimator.target_mean_[0]) / estimator.target_scale_[0]
                score = 1 - np.sum((y - out[:, 0]) ** 2) / np.sum((y - y.mean()) ** 2)
            net.history.record("test_score", float(score))
            net.history.record("train_rows", self.train_rows_)

    return TestRecorder()


def record_curves(ds, root: Path, args) -> list[dict]:
    """Fit each fold of one table with a long patience; keep the curves."""
    X, y, _ = load_table(ds, root, cap=True, seed=args.seed)
    records = []
    for split, (train, test) in enumerate(folds(y, ds.task, args.seed)[: args.splits]):
        if args.max_train_rows and len(train) > args.max_train_rows:
            train = train[subsample(y[train], args.max_train_rows, ds.task, args.seed)]
        X_train, X_test = X.iloc[train], X.iloc[test]
        model = make_model(
            "skdl", ds.task, X_train, args.seed, {"patience": args.patience}
        )
        recorder = _test_recorder(model, X_test, y[test], ds.task)
        # The estimators' hook for the callbacks of a subclass.
        model._extra_callbacks = lambda recorder=recorder: [("test", recorder)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y[train])
        history = model.net_.history
        n_train = int(history[0, "train_rows"])
        auto = make_model("skdl", ds.task, X_train, args.seed)
        record = {
            "dataset": ds.name,
            "split": split,
            "n_train": n_train,
            "auto_patience": auto._resolve_patience(n_train),
            "tol": model.tol,
            "valid_loss": [float(v) for v in history[:, "valid_loss"]],
            "test_score": [float(v) for v in history[:, "test_score"]],
            "epoch_s": [float(v) for v in history[:, "dur"]],
        }
        # The replay must reproduce the recorded fit itself: where it stopped
        # and the epoch it kept.
        score, _, stop = replay(record, args.patience)
        if stop != len(history) or not np.isclose(
            score, model.score(X_test, y[test]), atol=1e-5
        ):
            raise RuntimeError(
                f"{ds.name} fold {split}: the replay of patience {args.patience} "
                f"stops at epoch {stop} with score {score:.6f}; the fit ran "
                f"{len(history)} epochs and scores {model.score(X_test, y[test]):.6f}"
            )
        records.append(record)
        print(
            f"{ds.name} fold {split}: {len(history)} epochs, {n_train} training "
            f"rows, auto patience {records[-1]['auto_patience']}",
            flush=True,
        )
    return records


def replay(record: dict, patience: int) -> tuple[float, float, int]:
    """Test score, share of epoch time and last epoch of a fit with ``patience``.

    The stopping rule of ``skdl._training.net.LowestLossEarlyStopping`` (skorch's
    ``EarlyStopping`` with an absolute threshold) and its restore of the
    lowest validation loss seen.
    """
    losses, tol = record["valid_loss"], record["tol"]
    threshold, misses, stop = np.inf, 0, len(losses)
    for epoch, loss in enumerate(losses, 1):
        if loss < threshold:
            misses, threshold = 0, loss - tol
        else:
            misses += 1
        if misses == patience:
            stop = epoch
            break
    best = int(np.argmin(losses[:stop]))
    times = record["epoch_s"]
    return record["test_score"][best], sum(times[:stop]) / sum(times), stop


def summarize(records: list[dict], candidates: list[int]) -> list[dict]:
    """One row per table: mean score and time share for each candidate."""
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in records):
        group = [r for r in records if r["dataset"] == name]
        row = {"dataset": name, "n_train": int(np.mean([r["n_train"] for r in group]))}
        for p in [*candidates, "auto"]:
            runs = [replay(r, r["auto_patience"] if p == "auto" else p) for r in group]
            row[f"score_{p}"] = float(np.mean([s for s, _, _ in runs]))
            row[f"time_{p}"] = float(np.mean([t for _, t, _ in runs]))
        row["auto_patience"] = sorted({r["auto_patience"] for r in group})
        rows.append(row)
    return rows


def report(rows: list[dict], candidates: list[int], longest: int) -> str:
    columns = [("dataset", "table", None), ("n_train", "training rows", None)]
    for p in [*candidates, "auto"]:
        columns.append((f"score_{p}", f"score p={p}", ".4f"))
        columns.append((f"time_{p}", f"time p={p}", ".2f"))
    lines = [
        f"Mean test score over the folds, and the share of the training "
        f"epochs' time against patience {longest}, for each patience p:",
        "",
        markdown_table(rows, columns),
    ]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", default=None, help="comma-separated names (default: all real)"
    )
    parser.add_argument("--splits", type=int, default=None, help="folds (default 5)")
    parser.add_argument(
        "--patience", type=int, default=10, help="patience of the recorded fits"
    )
    parser.add_argument(
        "--candidates",
        default=",".join(map(str, CANDIDATES)),
        help="patience values to replay, each at most --patience",
    )
    parser.add_argument("--max-train-rows", type=int, default=None)
    add_common_args(
        parser,
        quick_help="smoke run: two small tables, one fold of at most 1,000 rows",
        threads_default=1,
        threads_help="torch/BLAS threads (default 1)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets = args.datasets or "pmlb_credit_g,pmlb_1028_SWD"
        args.splits = args.splits or 1
        args.max_train_rows = args.max_train_rows or 1000
    args.splits = args.splits or 5
    names = (
        args.datasets.split(",")
        if args.datasets
        else [d.name for d in DATASETS if not d.synthetic]
    )
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown datasets {unknown}; see tabular_accuracy.py --list")
    args.datasets = [BY_NAME[n] for n in names]
    args.candidates = sorted({int(p) for p in args.candidates.split(",")})
    if args.candidates[-1] > args.patience:
        parser.error("--candidates must not exceed --patience")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    root = require_data("tabular")
    limit_threads(args.threads)
    info = machine_info()
    default_output(args, "tabular_patience")
    print_opening(
        "tabular_patience",
        f"{len(args.datasets)} tables, {args.splits} folds, patience {args.patience}",
        info,
    )
    records = []
    for ds in args.datasets:
        records.extend(record_curves(ds, root, args))
    rows = summarize(records, args.candidates)
    text = report(rows, args.candidates, args.patience)
    print(text)
    config = {
        "datasets": [d.name for d in args.datasets],
        "splits": args.splits,
        "patience": args.patience,
        "candidates": args.candidates,
        "max_train_rows": args.max_train_rows,
        "seed": args.seed,
    }
    payload = payload_header("tabular_patience", config, info, quick=args.quick)
    payload |= {"records": records, "summary": rows}
    write_json(args.output, payload)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    sys.exit(main())
