"""Training throughput (images/s) of ImageClassifier against a hand loop.

Two workloads, each trained by

* ``hand_loop``: a plain PyTorch loop (the reference, ratio 1.0);
* ``skdl``: ``ImageClassifier(early_stopping=False, max_epochs=E,
  batch_size=B, device=..., precision=...)``;

on the same device, with the same network, batch size, optimizer (fused
Adam, ``lr=1e-3``) and precision:

``fashion_mnist``
    Real Fashion-MNIST training images (28x28 grayscale, from
    ``$SKDL_DATA``) with skdl's compact CNN (``backbone="cnn"``).
``resnet18_224``
    torchvision's resnet18 (from scratch) on 224x224 RGB inputs. The pixels
    and labels are random uint8 arrays of that size: throughput depends on
    the shapes, not on what the images show, and no download is needed.

The hand loop trains a deep copy of the network skdl built in an untimed
warm-up fit (so the architecture, including the input normalization, is
identical). Both hold the uint8 images in CPU memory and index them with a
shuffled permutation per epoch; the hand loop copies each uint8 batch to the
device and scales it to [0, 1] there, while skdl scales on the CPU before
the copy (four times the bytes to transfer). The hand loop synchronizes the
device once per epoch; skorch reads each batch's loss (``loss.item()``),
which synchronizes every batch. skdl's epochs are timed by skorch
(``history_["duration"]``).
Throughput is training images per second over the epochs after the first
(which includes cuDNN autotuning and, with ``--compile``, compilation).

Run ``python benchmarks/gpu_throughput.py --quick`` for a CPU smoke run: a
few hundred images, 2 epochs, smaller resnet inputs. Its numbers say only
that the script works.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

from _common import (
    add_common_args,
    data_root,
    default_output,
    machine_info,
    markdown_table,
    require_data,
    timed,
    write_json,
)

LR = 1e-3
TARGET = 0.9
AUTOCAST = {"bf16-mixed": "bfloat16", "16-mixed": "float16"}


# ---------------------------------------------------------------- workloads
def load_workload(name: str, args):
    """``(X uint8 (N, H, W[, C]), y int64, backbone, image_size)``."""
    import numpy as np

    if name == "fashion_mnist":
        from skdl.datasets import load_fashion_mnist

        require_data("images")
        X, y = load_fashion_mnist(
            "train", data_home=data_root(), n_samples=args.n_fashion
        )
        return X, y, "cnn", None
    rng = np.random.default_rng(0)
    size = args.resnet_size
    X = rng.integers(0, 256, size=(args.n_resnet, size, size, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=args.n_resnet)
    return X, y, "resnet18", None


# --------------------------------------------------------------- the loops
def skdl_fit(X, y, *, backbone, batch_size, epochs, device, precision, compile):
    from skdl import ImageClassifier

    clf = ImageClassifier(
        backbone,
        early_stopping=False,
        max_epochs=epochs,
        batch_size=batch_size,
        lr=LR,
        random_state=0,
        device=device,
        precision=precision,
        compile=compile,
    )
    _, wall = timed(clf.fit, X, y)
    return clf, clf.history_["duration"].tolist(), wall


def hand_loop(model, X, y, *, batch_size, epochs, device, precision, compile):
    """Train ``model``; return per-epoch seconds and the total wall time."""
    import torch

    start = time.perf_counter()
    torch.manual_seed(0)
    model = model.to(device).train()
    if compile:
        model.compile()
    # Fused Adam, as skdl uses on CPU and CUDA: the comparison is about the
    # training loop, not about the optimizer's implementation.
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    kind = torch.device(device).type
    dtype = getattr(torch, AUTOCAST[precision]) if precision in AUTOCAST else None
    scaler = torch.amp.GradScaler(kind) if precision == "16-mixed" else None
    images = torch.from_numpy(X)
    if images.ndim == 3:
        images = images.unsqueeze(1)
    else:
        images = images.permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(y).long()
    gen = torch.Generator().manual_seed(0)
    epoch_s = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(images), generator=gen)
        for s in range(0, len(images), batch_size):
            idx = order[s : s + batch_size]
            xb = images[idx].to(device, non_blocking=True).float().div_(255.0)
            yb = labels[idx].to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(kind, dtype=dtype, enabled=dtype is not None):
                out = model(x=xb)
            loss = loss_fn(out.float(), yb)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        if kind == "cuda":
            torch.cuda.synchronize()
        epoch_s.append(time.perf_counter() - t0)
    return epoch_s, time.perf_counter() - start


def _images_per_s(n: int, epoch_s: list[float]) -> float:
    timed_epochs = epoch_s[1:] or epoch_s
    return n / statistics.median(timed_epochs)


def run_workload(name: str, args) -> list[dict]:
    import torch

    X, y, backbone, _ = load_workload(name, args)
    batch_size = args.batch_fashion if name == "fashion_mnist" else args.batch_resnet
    common = dict(
        batch_size=batch_size,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
    )
    # Untimed warm-up: one short skdl fit; its network is the hand loop's.
    n_warm = min(len(X), 4 * batch_size)
    warm, _, _ = skdl_fit(X[:n_warm], y[:n_warm], backbone=backbone, epochs=1, **common)
    network = copy.deepcopy(warm.net_.module_).cpu()
    n_classes = len(warm.classes_)
    del warm
    rows = []
    for repeat in range(args.repeats):
        order = ("hand_loop", "skdl") if repeat % 2 == 0 else ("skdl", "hand_loop")
        for alt in order:
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
            if alt == "skdl":
                _, epoch_s, wall = skdl_fit(
                    X, y, backbone=backbone, epochs=args.epochs, **common
                )
            else:
                model = copy.deepcopy(network)
                epoch_s, wall = hand_loop(model, X, y, epochs=args.epochs, **common)
            rows.append(
                {
                    "workload": name,
                    "alternative": alt,
                    "repeat": repeat,
                    "n_images": len(X),
                    "image_shape": list(X.shape[1:]),
                    "n_classes": n_classes,
                    "batch_size": batch_size,
                    "epoch_seconds": epoch_s,
                    "fit_wall_seconds": wall,
                    "images_per_s": _images_per_s(len(X), epoch_s),
                }
            )
            print(
                f"  {name:<14} {alt:<9} repeat {repeat}: "
                f"{rows[-1]['images_per_s']:9.1f} images/s",
                flush=True,
            )
    return rows


def summarize(rows: list[dict], args) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        group = [r for r in rows if r["workload"] == name]
        hand = [r["images_per_s"] for r in group if r["alternative"] == "hand_loop"]
        ours = [r["images_per_s"] for r in group if r["alternative"] == "skdl"]
        ratios = [s / h for s, h in zip(ours, hand)]
        ratio = statistics.median(ratios)
        out.append(
            {
                "workload": name,
                "device": args.device,
                "precision": args.precision,
                "compile": args.compile,
                "batch_size": group[0]["batch_size"],
                "input": "x".join(str(d) for d in group[0]["image_shape"]),
                "images": group[0]["n_images"],
                "hand_loop_images_per_s": statistics.median(hand),
                "skdl_images_per_s": statistics.median(ours),
                "ratio": ratio,
                "target_met": ratio >= TARGET,
            }
        )
    return out


COLUMNS = [
    ("workload", "workload"),
    ("device", "device"),
    ("precision", "precision"),
    ("input", "input (HxW[xC])"),
    ("batch_size", "batch"),
    ("images", "images"),
    ("hand_loop_images_per_s", "hand loop (images/s)", ".1f"),
    ("skdl_images_per_s", "skdl (images/s)", ".1f"),
    ("ratio", "skdl / hand loop", ".3f"),
    ("target_met", f">= {TARGET}"),
]


def parse_args(argv=None) -> argparse.Namespace:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--precision", default="32", choices=["32", "bf16-mixed", "16-mixed"]
    )
    p.add_argument("--compile", action="store_true")
    p.add_argument(
        "--workloads",
        nargs="+",
        default=["fashion_mnist", "resnet18_224"],
        choices=["fashion_mnist", "resnet18_224"],
    )
    p.add_argument("--epochs", type=int, default=4, help="the first is untimed")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-fashion", type=int, default=60_000)
    p.add_argument("--batch-fashion", type=int, default=256)
    p.add_argument("--n-resnet", type=int, default=4096)
    p.add_argument("--batch-resnet", type=int, default=128)
    p.add_argument("--resnet-size", type=int, default=224)
    add_common_args(p, quick_help="CPU-sized smoke run", threads=False, seed=False)
    args = p.parse_args(argv)
    if args.quick:
        args.n_fashion, args.batch_fashion = 1024, 128
        args.n_resnet, args.batch_resnet, args.resnet_size = 64, 16, 64
        args.epochs, args.repeats = 2, 1
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    machine = machine_info()
    print(
        f"device {args.device}, precision {args.precision}, compile {args.compile}; "
        f"load average {machine['load_average_at_start']}",
        flush=True,
    )
    rows = []
    for name in args.workloads:
        rows += run_workload(name, args)
    machine["load_average_at_end"] = os.getloadavg()
    summary = summarize(rows, args)
    table = markdown_table(summary, COLUMNS)
    print()
    print(table)
    output = default_output(args, "gpu_throughput")
    payload = {
        "benchmark": "gpu_throughput",
        "quick": args.quick,
        "argv": sys.argv[1:],
        "settings": vars(args) | {"output": str(output)},
        "machine": machine,
        "summary": summary,
        "runs": rows,
        "markdown": table,
    }
    print(f"\nwrote {write_json(output, payload)}")


if __name__ == "__main__":
    main()
