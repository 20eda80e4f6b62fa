"""Training speed of ImageClassifier: arrays against a hand loop, and file input.

Two parts (``--parts``):

``arrays``
    Time per epoch on Fashion-MNIST arrays of

    * ``hand_loop``: the shortest correct PyTorch loop training the same
      network (``ImageNetwork(CompactCNN(1, 10))``, built exactly as
      ImageClassifier builds it) with Adam (``lr=1e-3``) over pre-built
      float32 tensors in [0, 1], slicing shuffled index batches;
    * ``skdl``: ``ImageClassifier(early_stopping=False, max_epochs=E,
      batch_size=B)`` on the uint8 arrays as loaded.

    Both run in this process with the same torch thread count, interleaved
    (the order alternates between repeats), after one untimed warm-up fit of
    each. Reported: the fit's wall time per epoch (what a user waits for,
    including skdl's input checks, normalization statistics and net set-up)
    and the epoch time alone (skdl's ``history_["duration"]``; the hand
    loop's timed epochs), as medians over repeats, and the ratio skdl / hand
    loop (median of per-repeat ratios). Target of issue 3: at most 1.15x.
    A per-batch breakdown (batch gather, uint8 -> float conversion,
    training step) shows where the time goes.

``files``
    With file-path input, is decoding the bottleneck? On the hymenoptera
    training images (245 JPEGs of about 500x375, resized to ``--image-size``)
    it times

    * ``load_only``: one pass of decoding (no training) with
      ``num_workers=0`` and ``2``;
    * ``arrays``: ImageClassifier on the same images decoded in advance
      (training alone);
    * ``files_w0`` / ``files_w2``: ImageClassifier on the file paths with
      ``num_workers=0`` / ``2``.

    Reported: time per epoch, and the decoding share of an epoch.

See ``benchmarks/README.md``. Run ``python benchmarks/image_speed.py --quick``
for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

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

LR = 1e-3
TARGET_RATIO = 1.15
PARTS = ("arrays", "files")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


# -------------------------------------------------------------- arrays part
def build_network(n_channels: int, n_classes: int, mean, std):
    """The network ImageClassifier builds for ``backbone="cnn"`` (defaults)."""
    from skdl.modules.cnn import CompactCNN, ImageNetwork

    return ImageNetwork(
        CompactCNN(n_channels, n_classes),
        mean=list(mean),
        std=list(std),
        backbone_channels=n_channels,
        head="head",
    )


def hand_loop(X, y, *, mean, std, batch_size: int, epochs: int, seed: int):
    """Train with a plain loop; return the model and per-epoch seconds.

    ``X`` is a float32 (N, C, H, W) tensor in [0, 1], ``y`` int64.
    """
    import torch

    start = time.perf_counter()
    torch.manual_seed(seed)
    n_classes = int(y.max()) + 1
    model = build_network(X.shape[1], n_classes, mean, std)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    epoch_s = []
    model.train()
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
        epoch_s.append(time.perf_counter() - t0)
    return model, epoch_s, time.perf_counter() - start


def skdl_fit(X, y, *, batch_size: int, epochs: int, seed: int):
    """Fit ImageClassifier; return it, per-epoch seconds and the fit's wall."""
    from skdl.vision import ImageClassifier

    clf = ImageClassifier(
        early_stopping=False,
        max_epochs=epochs,
        batch_size=batch_size,
        random_state=seed,
    )
    _, fit_s = timed(clf.fit, X, y)
    return clf, clf.history_["duration"].tolist(), fit_s


def _accuracy_hand(model, X, y) -> float:
    import torch

    model.eval()
    with torch.inference_mode():
        pred = torch.cat(
            [model(X[s : s + 1024]).argmax(1) for s in range(0, len(X), 1024)]
        )
    return float((pred == y).float().mean())


def batch_breakdown(X_uint8, X_float, *, batch_size: int, n_batches: int, seed: int):
    """Median milliseconds per batch of each step of an epoch.

    ``gather_uint8`` + ``prepare`` is what skdl's TensorDataset does per batch
    (index the stored uint8 images, then ``ImagePrepare``: to float and
    divide by 255 in torch); ``prepare_numpy`` is the same conversion done in
    numpy; ``gather_float`` is the hand loop's indexing of pre-built floats;
    ``train_step`` is forward, loss, backward and the Adam step.
    """
    import torch

    from skdl.vision._arrays import ImagePrepare

    prepare = ImagePrepare(None)
    model = build_network(X_float.shape[1], 10, [0.5], [0.25])
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {
        k: []
        for k in (
            "gather_uint8",
            "prepare_torch",
            "prepare_numpy",
            "gather_float",
            "train_step",
        )
    }
    yb = torch.zeros(batch_size, dtype=torch.long)
    for _ in range(n_batches):
        idx = torch.from_numpy(rng.choice(len(X_uint8), batch_size, replace=False))
        t0 = time.perf_counter()
        xb8 = X_uint8[idx]
        t1 = time.perf_counter()
        xb = prepare({"x": xb8})["x"]
        t2 = time.perf_counter()
        np.divide(xb8.numpy(), np.float32(255.0), dtype=np.float32)
        t3 = time.perf_counter()
        xf = X_float[idx]
        t4 = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()
        t5 = time.perf_counter()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            times[key].append(1000 * dt)
        del xf
    return {k: _median(v) for k, v in times.items()}


def run_arrays(args) -> dict:
    import torch

    from skdl.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("train", data_home=data_root(), n_samples=args.n_samples)
    # Pre-built tensors for the hand loop, outside every timed region.
    Xf = torch.from_numpy(X[:, None]).float().div_(255.0)
    yt = torch.from_numpy(y)
    mean, std = [float(Xf.mean())], [float(Xf.std())]
    X_test, y_test = load_fashion_mnist("test", data_home=data_root(), n_samples=2000)
    Xf_test = torch.from_numpy(X_test[:, None]).float().div_(255.0)
    bs, epochs = args.batch_size, args.epochs
    print(
        f"## arrays: Fashion-MNIST {len(X)} images, batch {bs}, {epochs} epoch(s) "
        f"per fit, {args.repeats} repeat(s)",
        flush=True,
    )

    # Warm-up: first-call costs (oneDNN kernels, lazy imports) outside timing.
    n_warm = min(len(X), 4 * bs)
    hand_loop(
        Xf[:n_warm],
        yt[:n_warm],
        mean=mean,
        std=std,
        batch_size=bs,
        epochs=1,
        seed=args.seed,
    )
    warm, _, _ = skdl_fit(
        X[:n_warm], y[:n_warm], batch_size=bs, epochs=1, seed=args.seed
    )
    hand_arch = str(build_network(1, 10, mean, std))
    same_arch = hand_arch == str(warm.net_.module_)
    if not same_arch:
        print("warning: the hand loop's network differs from skdl's", flush=True)
    del warm

    runs = []
    for repeat in range(args.repeats):
        order = ("hand_loop", "skdl") if repeat % 2 == 0 else ("skdl", "hand_loop")
        for alt in order:
            if alt == "hand_loop":
                model, epoch_s, fit_s = hand_loop(
                    Xf,
                    yt,
                    mean=mean,
                    std=std,
                    batch_size=bs,
                    epochs=epochs,
                    seed=args.seed,
                )
                acc = _accuracy_hand(model, Xf_test, torch.from_numpy(y_test))
            else:
                clf, epoch_s, fit_s = skdl_fit(
                    X, y, batch_size=bs, epochs=epochs, seed=args.seed
                )
                acc = float(np.mean(clf.predict(X_test) == y_test))
            run = {
                "alternative": alt,
                "repeat": repeat,
                "fit_s": fit_s,
                "fit_s_per_epoch": fit_s / epochs,
                "epoch_s": _median(epoch_s),
                "epoch_s_all": epoch_s,
                "test_accuracy_2k": acc,
            }
            runs.append(run)
            print(
                f"  repeat {repeat} {alt:<10} fit {fit_s:7.1f} s | "
                f"{run['fit_s_per_epoch']:6.1f} s/epoch (fit) | "
                f"{run['epoch_s']:6.1f} s/epoch (loop) | acc {acc:.3f}",
                flush=True,
            )

    rows = []
    ref = {r["repeat"]: r for r in runs if r["alternative"] == "hand_loop"}
    for alt in ("hand_loop", "skdl"):
        mine = [r for r in runs if r["alternative"] == alt]
        rows.append(
            {
                "alternative": alt,
                "fit_s_per_epoch": _median([r["fit_s_per_epoch"] for r in mine]),
                "ratio_fit": _median(
                    [
                        r["fit_s_per_epoch"] / ref[r["repeat"]]["fit_s_per_epoch"]
                        for r in mine
                    ]
                ),
                "epoch_s": _median([r["epoch_s"] for r in mine]),
                "ratio_epoch": _median(
                    [r["epoch_s"] / ref[r["repeat"]]["epoch_s"] for r in mine]
                ),
                "test_accuracy_2k": _median([r["test_accuracy_2k"] for r in mine]),
            }
        )
    breakdown = batch_breakdown(
        torch.from_numpy(X[:, None]),
        Xf,
        batch_size=bs,
        n_batches=args.breakdown_batches,
        seed=args.seed,
    )
    skdl_row = rows[1]
    print()
    print(markdown_table(rows, ARRAY_COLUMNS))
    print(
        f"\nskdl / hand loop: {skdl_row['ratio_fit']:.3f}x per epoch of fit, "
        f"{skdl_row['ratio_epoch']:.3f}x per epoch of training loop "
        f"(target <= {TARGET_RATIO}x: "
        f"{'met' if skdl_row['ratio_fit'] <= TARGET_RATIO else 'NOT met'})"
    )
    print(
        "\nper-batch breakdown (median ms): "
        + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items())
    )
    if args.profile:
        profile_skdl(X, y, bs, epochs, args)
    return {
        "n_samples": len(X),
        "batch_size": bs,
        "epochs": epochs,
        "repeats": args.repeats,
        "same_architecture": same_arch,
        "architecture": hand_arch,
        "summary": rows,
        "target_ratio": TARGET_RATIO,
        "target_met": skdl_row["ratio_fit"] <= TARGET_RATIO,
        "batch_breakdown_ms": breakdown,
        "runs": runs,
    }


def profile_skdl(X, y, bs, epochs, args) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(skdl_fit, X, y, batch_size=bs, epochs=epochs, seed=args.seed)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(
        args.profile
    )
    print(stream.getvalue())


ARRAY_COLUMNS = [
    "alternative",
    ("fit_s_per_epoch", "s / epoch (fit wall)", ".2f"),
    ("ratio_fit", "ratio (fit wall)", ".3f"),
    ("epoch_s", "s / epoch (loop only)", ".2f"),
    ("ratio_epoch", "ratio (loop only)", ".3f"),
    ("test_accuracy_2k", "test acc (2k)", ".3f"),
]


# --------------------------------------------------------------- files part
def _load_pass(paths, mode, size, batch_size, num_workers, seed):
    from skdl.vision._files import FileImageDataset

    ds = FileImageDataset(paths, mode=mode, image_size=size)
    rng = np.random.default_rng(seed)
    times = []
    try:
        for _ in range(2):  # the first pass pays for starting the workers
            t0 = time.perf_counter()
            for _batch in ds.batches(
                batch_size, shuffle=True, rng=rng, num_workers=num_workers
            ):
                pass
            times.append(time.perf_counter() - t0)
    finally:
        ds.close()
    return times


def run_files(args) -> dict:
    from skdl.datasets import load_hymenoptera
    from skdl.vision import ImageClassifier
    from skdl.vision._files import load_images, scan_images

    frame = load_hymenoptera("train", data_home=data_root())
    if args.n_files:
        frame = frame.sample(n=min(args.n_files, len(frame)), random_state=args.seed)
    paths, y = frame["path"].tolist(), frame["label"].to_numpy()
    size = args.image_size
    mode = scan_images(paths).mode
    bs = int(min(128, max(16, len(paths) // 10)))  # ImageClassifier's "auto"
    E = args.file_epochs
    print(
        f"## files: hymenoptera train, {len(paths)} JPEGs -> {size}x{size} {mode}, "
        f"batch {bs}, {E} epoch(s) per fit",
        flush=True,
    )
    rows = []

    for w in (0, 2):
        times = _load_pass(paths, mode, (size, size), bs, w, args.seed)
        rows.append(
            {
                "variant": f"load_only_w{w}",
                "num_workers": w,
                "epoch_s": times[-1],
                "first_epoch_s": times[0],
            }
        )
        print(f"  load only, num_workers={w}: passes {times}", flush=True)

    arrays, decode_s = timed(load_images, paths, mode=mode, image_size=size)

    def fit(X, workers):
        clf = ImageClassifier(
            image_size=size,
            early_stopping=False,
            max_epochs=E,
            num_workers=workers,
            random_state=args.seed,
        )
        _, fit_s = timed(clf.fit, X, y)
        dur = clf.history_["duration"].tolist()
        later = dur[1:] if len(dur) > 1 else dur
        return {
            "epoch_s": _median(later),
            "first_epoch_s": dur[0],
            "fit_s": fit_s,
            "durations": dur,
        }

    # Warm-up fit (kernels for this image size) outside the record.
    warm = np.random.default_rng(args.seed).permutation(len(paths))[: 2 * bs]
    ImageClassifier(
        image_size=size, early_stopping=False, max_epochs=1, random_state=args.seed
    ).fit(arrays[warm], y[warm])
    for variant, X, workers in (
        ("arrays", arrays, 0),
        ("files_w0", paths, 0),
        ("files_w2", paths, 2),
    ):
        res = fit(X, workers)
        rows.append({"variant": variant, "num_workers": workers, **res})
        print(
            f"  {variant:<9} epochs {[round(d, 1) for d in res['durations']]} "
            f"fit {res['fit_s']:.1f} s",
            flush=True,
        )
    train_s = next(r["epoch_s"] for r in rows if r["variant"] == "arrays")
    for r in rows:
        r["vs_arrays"] = r["epoch_s"] / train_s
    load0 = rows[0]["epoch_s"]
    print()
    print(markdown_table(rows, FILE_COLUMNS))
    print(
        f"\ndecoding one epoch in the main process takes {load0:.2f} s, "
        f"{100 * load0 / train_s:.1f}% of the training time of an epoch "
        f"({train_s:.2f} s); decoding all into memory took {decode_s:.2f} s"
    )
    return {
        "dataset": "hymenoptera/train",
        "n_files": len(paths),
        "image_size": size,
        "batch_size": bs,
        "epochs": E,
        "decode_all_s": decode_s,
        "load_share_of_epoch_w0": load0 / train_s,
        "rows": rows,
    }


FILE_COLUMNS = [
    "variant",
    "num_workers",
    ("epoch_s", "s / epoch (after the 1st)", ".2f"),
    ("first_epoch_s", "1st epoch s", ".2f"),
    ("vs_arrays", "vs in-memory arrays", ".2f"),
]


# ---------------------------------------------------------------------- cli
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help="arrays,files")
    p.add_argument("--n-samples", type=int, default=30_000, help="arrays: images")
    p.add_argument("--epochs", type=int, default=2, help="arrays: epochs per fit")
    p.add_argument("--repeats", type=int, default=3, help="arrays: repeats")
    p.add_argument("--batch-size", type=int, default=128, help="arrays: batch")
    p.add_argument("--breakdown-batches", type=int, default=40)
    p.add_argument("--image-size", type=int, default=128, help="files: side")
    p.add_argument("--n-files", type=int, default=None, help="files: subsample")
    p.add_argument("--file-epochs", type=int, default=3, help="files: epochs")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="arrays: also profile one skdl fit and print its top N functions",
    )
    add_common_args(
        p,
        threads_help="torch and BLAS threads (default: torch's default)",
        quick_help="smoke run: 2,000 images x 1 epoch x 2 repeats; 64 files at 48 px",
        merge_help="keep the results of the parts not run now already in the JSON",
    )
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if set(args.parts) - set(PARTS):
        p.error(f"unknown parts {sorted(set(args.parts) - set(PARTS))}")
    if args.quick:
        args.n_samples, args.epochs, args.repeats = 2000, 1, 2
        args.breakdown_batches = 10
        args.image_size, args.n_files, args.file_epochs = 48, 64, 2
    default_output(args, "image_speed")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    require_data("images")
    threads = limit_threads(args.threads) if args.threads else {}
    info = machine_info()
    print_opening("image_speed", f"parts {','.join(args.parts)}", info)
    config = {k: v for k, v in vars(args).items() if k != "output"} | threads
    payload = payload_header("image_speed", config, info, quick=args.quick)
    old = previous_results(args)
    if old is not None:
        # Keep the parts run earlier (each part records its own machine state).
        for part in PARTS:
            if part not in args.parts and part in old:
                payload[part] = old[part]
                payload[part].setdefault("machine", old["machine"])
                payload[part].setdefault("run_config", old["config"])
    runners = {"arrays": run_arrays, "files": run_files}
    for part in PARTS:
        if part not in args.parts:
            continue
        started = machine_info()
        payload[part] = runners[part](args)
        payload[part].update(
            machine=started,
            run_config=payload["config"],
            load_average_at_end=os.getloadavg(),
        )
        write_json(args.output, payload)
    path = write_json(args.output, payload)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    sys.exit(main())
