"""Fashion-MNIST accuracy of ImageClassifier: its defaults and a tuned setting.

Trains :class:`skdl.vision.ImageClassifier` on the 60,000 Fashion-MNIST
training images (uint8 arrays, as :func:`skdl.datasets.load_fashion_mnist`
returns them) and scores the 10,000 test images. Target of issue 3: at least
91% test accuracy, with the time per epoch on the machine's CPU cores.

Configurations (``--configs``):

* ``default``: ``ImageClassifier(random_state=seed)``, nothing else changed:
  the compact CNN, Adam at ``lr=1e-3`` annealed to zero by a cosine schedule
  over ``max_epochs=20``, batch size 128 (``"auto"``), early stopping
  (patience 5 on a stratified 10% validation split) restoring the
  lowest-validation-loss epoch. (The earlier defaults, a constant rate for up
  to 30 epochs, stopped at 90.67%; that row is kept in the JSON as
  ``default_constant_lr_30ep``.)
* ``tuned``: the same network with a one-cycle learning-rate schedule
  (peak ``lr=2e-3``), horizontal flips (``ImageAugmenter(hflip=True)``) and
  a fixed budget of 15 epochs on all 60,000 images (``early_stopping=False``:
  a schedule that anneals to zero makes the last epoch the one to keep).
  This setting was fixed before it was run; it was not chosen by looking at
  test accuracy.

For each it prints and saves the test accuracy, the epochs run, the best
epoch, the time per epoch (median of ``history_["duration"]``, which covers
the training pass and, with early stopping, the validation pass) and the
whole history. See ``benchmarks/README.md``.

Run ``python benchmarks/image_accuracy.py --quick`` for a smoke run (2,000
training and 1,000 test images, 2 epochs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
from _common import (
    add_common_args,
    data_root,
    default_output,
    limit_threads,
    machine_info,
    markdown_table,
    payload_header,
    previous_results,
    print_opening,
    require_data,
    timed,
    write_json,
)

TARGET = 0.91
CONFIGS = ("default", "tuned")
TUNED = {
    "lr": 2e-3,
    "lr_schedule": "onecycle",
    "max_epochs": 15,
    "early_stopping": False,
    "augment": "ImageAugmenter(hflip=True)",
}


def make_estimator(name: str, *, seed: int, verbose: int, max_epochs: int | None):
    """The ImageClassifier of one configuration."""
    from skdl.augment import ImageAugmenter
    from skdl.vision import ImageClassifier

    if name == "default":
        params = {}
    elif name == "tuned":
        params = {**TUNED, "augment": ImageAugmenter(hflip=True)}
    else:
        raise ValueError(f"unknown configuration {name!r}")
    if max_epochs is not None:
        params["max_epochs"] = max_epochs
    return ImageClassifier(random_state=seed, verbose=verbose, **params)


def run_config(name: str, data, args) -> dict:
    """Fit one configuration and score it on the test images."""
    X, y, X_test, y_test = data
    est = make_estimator(
        name, seed=args.seed, verbose=args.verbose, max_epochs=args.max_epochs
    )
    print(f"## {name}: {est!r}", flush=True)
    _, fit_s = timed(est.fit, X, y)
    pred, predict_s = timed(est.predict, X_test)
    history = est.history_
    durations = history["duration"].tolist()
    accuracy = float(np.mean(pred == y_test))
    row = {
        "config": name,
        "params": {
            k: repr(v) if not isinstance(v, (int, float, str, bool, type(None))) else v
            for k, v in est.get_params(deep=False).items()
        },
        "test_accuracy": accuracy,
        "target_met": accuracy >= TARGET,
        "n_epochs": int(est.n_epochs_),
        "best_epoch": int(est.best_epoch_),
        "epoch_s": statistics.median(durations),
        "epoch_s_mean": statistics.fmean(durations),
        "fit_s": fit_s,
        "fit_s_per_epoch": fit_s / est.n_epochs_,
        "predict_s": predict_s,
        "batch_size": int(est.net_.batch_size),
        "history": history.reset_index().to_dict(orient="list"),
    }
    valid = history.get("valid_score")
    if valid is not None:
        row["best_valid_accuracy"] = float(valid.loc[est.best_epoch_])
    print(
        f"   test accuracy {accuracy:.4f} | epochs {row['n_epochs']} "
        f"(best {row['best_epoch']}) | {row['epoch_s']:.1f} s/epoch | "
        f"fit {fit_s:.0f} s",
        flush=True,
    )
    return row


COLUMNS = [
    "config",
    ("test_accuracy", "test accuracy", ".4f"),
    ("meets_target", ">= 91%"),
    ("n_epochs", "epochs run"),
    ("best_epoch", "best epoch"),
    ("epoch_s", "s / epoch (median)", ".1f"),
    ("fit_s", "fit s", ".0f"),
    ("predict_s", "predict s", ".1f"),
]


# ---------------------------------------------------------------------- cli
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated subset of {','.join(CONFIGS)}",
    )
    p.add_argument("--n-train", type=int, default=None, help="first N train images")
    p.add_argument("--n-test", type=int, default=None, help="first N test images")
    p.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="override max_epochs of every configuration (default: keep theirs)",
    )
    p.add_argument("--verbose", type=int, default=1, help="print a row per epoch")
    add_common_args(
        p,
        threads_help="torch and BLAS threads (default: torch's default, usually "
        "the number of cores)",
        quick_help="smoke run: 2,000 train and 1,000 test images, 2 epochs",
        merge_help="keep the other configurations' results already in the JSON",
    )
    args = p.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        p.error(f"unknown configurations {sorted(unknown)}")
    if args.quick:
        args.n_train = args.n_train or 2000
        args.n_test = args.n_test or 1000
        args.max_epochs = args.max_epochs or 2
    default_output(args, "image_accuracy")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    require_data("images/fashion-mnist")
    home = data_root()
    threads = limit_threads(args.threads) if args.threads else {}
    from skdl.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("train", data_home=home, n_samples=args.n_train)
    X_test, y_test = load_fashion_mnist("test", data_home=home, n_samples=args.n_test)
    info = machine_info()
    print_opening(
        "image_accuracy",
        f"Fashion-MNIST, {len(X)} train / {len(X_test)} test images, configs "
        f"{','.join(args.configs)}",
        info,
    )
    config = {
        "dataset": "fashion-mnist",
        "n_train": len(X),
        "n_test": len(X_test),
        "configs": args.configs,
        "tuned": TUNED,
        "max_epochs_override": args.max_epochs,
        "target": TARGET,
        "seed": args.seed,
        **threads,
    }
    payload = payload_header("image_accuracy", config, info, quick=args.quick)
    payload["results"] = []
    started = info
    old = previous_results(args)
    if old is not None:
        # Keep the results of configurations run earlier, e.g. one at a time.
        for r in old.get("results", []):
            if r["config"] in args.configs:
                continue
            for key in ("date", "load_average_at_start", "torch_num_threads"):
                r.setdefault(key, old["machine"].get(key))
            payload["results"].append(r)
    for name in args.configs:
        row = run_config(name, (X, y, X_test, y_test), args)
        # Each row carries its own provenance, so merged files stay truthful.
        row.update(
            n_train=len(X),
            n_test=len(X_test),
            torch_num_threads=info["torch_num_threads"],
            load_average_at_start=started["load_average_at_start"],
            load_average_at_end=os.getloadavg(),
            date=started["date"],
        )
        started = machine_info()
        payload["results"].append(row)
        write_json(args.output, payload)  # keep partial results of long runs
    print()
    rows = [
        {**r, "meets_target": "yes" if r["target_met"] else "no"}
        for r in payload["results"]
    ]
    print(markdown_table(rows, COLUMNS))
    path = write_json(args.output, payload)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    sys.exit(main())
