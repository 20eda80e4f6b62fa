"""Augmentation in the small-data regime: CIFAR-10 JPEGs, 100 images per class.

For each seed, draws ``--per-class`` training images of every class (seeded,
without replacement) from the CIFAR-10 JPEG subset's 5,000 training images
and trains :class:`skdl.vision.ImageClassifier` twice on that same draw:

* ``none``: no augmentation;
* ``augment``: ``ImageAugmenter(hflip=True, translate=0.125)``, the standard
  CIFAR recipe (horizontal flips and shifts of up to 4 pixels, the
  equivalent of padding by 4 and cropping 32x32 at random).

Both arms get the same budget: ``max_epochs`` (default 60) with early
stopping on the default stratified 10% validation split, ``patience``
(default 10, as augmented training improves more slowly and noisily) and
the lowest-validation-loss epoch restored; everything else is the default.
``random_state`` is the seed, so the two arms of a seed start from the same
initial weights and the same validation split. Each seed draws a different
training subset, so the spread over seeds covers both the draw and the
training randomness. All 1,000 test images are scored.

The JPEGs are decoded once, up front, with ``skdl.vision._files.load_images``
(32x32 RGB uint8), and the estimator gets the arrays.

Target of issue 3: augmentation improves the mean test accuracy over 3 seeds
by at least 3 points. See ``benchmarks/README.md``. Run
``python benchmarks/image_augmentation.py --quick`` for a smoke run.
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
    print_opening,
    require_data,
    timed,
    write_json,
)

ARMS = ("none", "augment")
AUGMENTER = {"hflip": True, "translate": 0.125}
TARGET_POINTS = 3.0


def load_cifar():
    """All training and test images of the subset, decoded, with labels."""
    from skdl.datasets import load_cifar10_subset
    from skdl.vision._files import load_images

    out = []
    for split in ("train", "test"):
        frame = load_cifar10_subset(split, data_home=data_root())
        X = load_images(frame["path"].tolist(), mode="RGB")
        out += [X, frame["label"].to_numpy()]
    return out


def draw(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` images of every class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(y == c), per_class, replace=False)
        for c in np.unique(y)
    ]
    return np.sort(np.concatenate(picks))


def make_estimator(arm: str, args):
    from skdl.augment import ImageAugmenter
    from skdl.vision import ImageClassifier

    augment = ImageAugmenter(**AUGMENTER) if arm == "augment" else None
    return ImageClassifier(
        augment=augment,
        max_epochs=args.max_epochs,
        patience=args.patience,
        early_stopping=args.early_stopping,
        lr_schedule=args.lr_schedule,
        verbose=args.verbose,
    )


def summarize(runs: list[dict]) -> tuple[list[dict], dict]:
    rows = []
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if not mine:
            continue
        accs = [r["test_accuracy"] for r in mine]
        rows.append(
            {
                "arm": arm,
                "n_seeds": len(mine),
                "mean_accuracy": statistics.fmean(accs),
                "std_accuracy": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "per_seed": ", ".join(f"{a:.3f}" for a in accs),
                "mean_epochs": statistics.fmean(r["n_epochs"] for r in mine),
                "mean_best_epoch": statistics.fmean(r["best_epoch"] for r in mine),
                "mean_fit_s": statistics.fmean(r["fit_s"] for r in mine),
                "epoch_s": statistics.median(r["epoch_s"] for r in mine),
            }
        )
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["arm"]] = r["test_accuracy"]
    deltas = [
        100 * (v["augment"] - v["none"])
        for v in by_seed.values()
        if "augment" in v and "none" in v
    ]
    gain = {
        "per_seed_points": deltas,
        "mean_points": statistics.fmean(deltas) if deltas else float("nan"),
        "std_points": statistics.stdev(deltas) if len(deltas) > 1 else 0.0,
    }
    gain["target_met"] = bool(deltas) and gain["mean_points"] >= TARGET_POINTS
    return rows, gain


COLUMNS = [
    "arm",
    ("mean_accuracy", "mean acc", ".4f"),
    ("std_accuracy", "std", ".4f"),
    ("per_seed", "per-seed acc"),
    ("mean_epochs", "epochs run (mean)", ".1f"),
    ("mean_best_epoch", "best epoch (mean)", ".1f"),
    ("epoch_s", "s / epoch", ".2f"),
    ("mean_fit_s", "fit s (mean)", ".0f"),
]


# ---------------------------------------------------------------------- cli
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument(
        "--no-early-stopping",
        dest="early_stopping",
        action="store_false",
        help="train every epoch on all images (no validation split, no restore)",
    )
    p.add_argument(
        "--lr-schedule", default=None, help="lr_schedule of both arms, e.g. cosine"
    )
    p.add_argument("--verbose", type=int, default=0)
    add_common_args(
        p,
        threads_help="torch and BLAS threads (default: torch's default)",
        seed=False,
        quick_help="smoke run: 20 images per class, 2 seeds, 4 epochs",
    )
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.quick:
        args.per_class, args.seeds, args.max_epochs = 20, [0, 1], 4
        args.patience = min(args.patience, 4)
    default_output(args, "image_augmentation")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    require_data("images/cifar10-jpg-subset")
    threads = limit_threads(args.threads) if args.threads else {}
    (X_all, y_all, X_test, y_test), load_s = timed(load_cifar)
    info = machine_info()
    print_opening(
        "image_augmentation",
        f"CIFAR-10 JPEG subset, {args.per_class}/class of {len(X_all)} train "
        f"images, {len(X_test)} test images (decoded in {load_s:.1f} s), seeds "
        f"{args.seeds}, max_epochs {args.max_epochs}, patience {args.patience}, "
        f"early_stopping {args.early_stopping}, lr_schedule {args.lr_schedule}",
        info,
    )
    config = {
        "dataset": "cifar10-jpg-subset",
        "per_class": args.per_class,
        "n_test": len(X_test),
        "seeds": args.seeds,
        "max_epochs": args.max_epochs,
        "patience": args.patience,
        "early_stopping": args.early_stopping,
        "lr_schedule": args.lr_schedule,
        "augmenter": AUGMENTER,
        "target_points": TARGET_POINTS,
        "subset": "a different seeded draw per seed, shared by both arms",
        **threads,
    }
    payload = payload_header("image_augmentation", config, info, quick=args.quick)
    payload["runs"] = []
    for seed in args.seeds:
        idx = draw(y_all, args.per_class, seed)
        for arm in ARMS:
            est = make_estimator(arm, args).set_params(random_state=seed)
            _, fit_s = timed(est.fit, X_all[idx], y_all[idx])
            acc = float(np.mean(est.predict(X_test) == y_test))
            run = {
                "seed": seed,
                "arm": arm,
                "test_accuracy": acc,
                "n_epochs": int(est.n_epochs_),
                "best_epoch": int(est.best_epoch_),
                "best_valid_accuracy": float(
                    est.history_["valid_score"].loc[est.best_epoch_]
                )
                if args.early_stopping
                else None,
                "fit_s": fit_s,
                "epoch_s": float(est.history_["duration"].median()),
                "history": est.history_.reset_index().to_dict(orient="list"),
            }
            payload["runs"].append(run)
            write_json(args.output, payload)  # keep partial results
            print(
                f"  seed {seed} {arm:<8} acc {acc:.4f} | epochs {run['n_epochs']} "
                f"(best {run['best_epoch']}) | fit {fit_s:.0f} s",
                flush=True,
            )
    rows, gain = summarize(payload["runs"])
    payload.update(summary=rows, gain=gain, load_average_at_end=os.getloadavg())
    print()
    print(markdown_table(rows, COLUMNS))
    print(
        f"\naugmentation gain: {gain['mean_points']:+.2f} points "
        f"(std {gain['std_points']:.2f}; per seed "
        f"{', '.join(f'{d:+.1f}' for d in gain['per_seed_points'])}); target "
        f">= +{TARGET_POINTS:g}: {'met' if gain['target_met'] else 'NOT met'}"
    )
    path = write_json(args.output, payload)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    sys.exit(main())
