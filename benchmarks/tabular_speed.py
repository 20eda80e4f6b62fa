"""Training speed and peak memory of TabularClassifier against alternatives.

Times ``fit`` on ``make_classification(n_features=50, n_informative=20,
n_classes=5)`` for the same network (two hidden layers of 256, ReLU, Adam at
``lr=1e-3``, a fixed number of epochs, no validation split) trained by:

* ``hand_loop``: a hand-written PyTorch loop over pre-built tensors, slicing
  shuffled index batches (the reference, ratio 1.0);
* ``skdl``: :class:`skdl.TabularClassifier`;
* ``skorch``: plain :class:`skorch.NeuralNetClassifier` with its default
  ``DataLoader``;
* ``sklearn_mlp``: :class:`sklearn.neural_network.MLPClassifier`.

Every (alternative, batch size, repeat) runs in its own fresh Python process
so that peak memory does not mix between them; the repeats are interleaved
(repeat 1 of every configuration, then repeat 2, ...) so that a busy period
of a shared machine hits all alternatives alike. See ``benchmarks/README.md``
for the measurement method.

Run ``python benchmarks/tabular_speed.py --quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from _common import (
    add_common_args,
    default_output,
    limit_threads,
    machine_info,
    markdown_table,
    payload_header,
    peak_rss_mb,
    reset_peak_rss,
    timed,
    write_json,
)

ALTERNATIVES = ("hand_loop", "skdl", "skorch", "sklearn_mlp")
REFERENCE = "hand_loop"
HIDDEN = (256, 256)
N_FEATURES = 50
N_INFORMATIVE = 20
N_CLASSES = 5
LR = 1e-3
RESULT_TAG = "SKDL-BENCH-RESULT "


# ---------------------------------------------------------------------- data
def make_data(n_samples: int, seed: int):
    """``n_samples`` training rows and a held-out 20% of the generated data.

    ``n_samples / 0.8`` rows are generated and split 80/20 (stratified), so
    every alternative fits on exactly ``n_samples`` float64 rows. The
    features are standardized here, outside the timed region: skdl
    standardizes internally and the others do not, and on raw
    ``make_classification`` features (some with a standard deviation near
    3) the unscaled alternatives learn visibly faster in a few epochs, which
    would make the accuracy column compare preprocessing, not training.
    """
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=round(n_samples / 0.8),
        n_features=N_FEATURES,
        n_informative=N_INFORMATIVE,
        n_classes=N_CLASSES,
        random_state=seed,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=n_samples, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


# ------------------------------------------------------------- alternatives
def _torch_mlp(n_in: int, n_out: int):
    from torch import nn

    layers, width = [], n_in
    for size in HIDDEN:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class _HandLoop:
    """The reference: the shortest correct PyTorch training loop."""

    def __init__(self, *, batch_size: int, epochs: int, seed: int) -> None:
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed

    def fit(self, X, y):
        import numpy as np
        import torch

        torch.manual_seed(self.seed)
        Xt = torch.from_numpy(X.astype(np.float32))
        yt = torch.from_numpy(y.astype(np.int64))
        model = _torch_mlp(Xt.shape[1], int(yt.max()) + 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(self.seed)
        n = len(Xt)
        model.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
        self.model_ = model
        return self

    def predict(self, X):
        import numpy as np
        import torch

        self.model_.eval()
        with torch.inference_mode():
            logits = self.model_(torch.from_numpy(X.astype(np.float32)))
        return logits.argmax(dim=1).numpy()


class _SkorchPlain:
    """Plain skorch, as its docs show it: float32 X, int64 y, a module class."""

    def __init__(self, *, batch_size: int, epochs: int, seed: int) -> None:
        import torch
        from skorch import NeuralNetClassifier
        from torch import nn

        class MLP(nn.Module):
            def __init__(self, n_in=N_FEATURES, n_out=N_CLASSES):
                super().__init__()
                self.net = _torch_mlp(n_in, n_out)

            def forward(self, X):
                return self.net(X)  # logits, for CrossEntropyLoss

        self.seed = seed
        self.net = NeuralNetClassifier(
            MLP,
            # The default criterion, NLLLoss, expects log-probabilities; the
            # module returns logits, so use the matching CrossEntropyLoss.
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=LR,
            max_epochs=epochs,
            batch_size=batch_size,
            train_split=None,
            iterator_train__shuffle=True,
            verbose=0,
        )

    def fit(self, X, y):
        import numpy as np
        import torch

        torch.manual_seed(self.seed)
        self.net.fit(X.astype(np.float32), y.astype(np.int64))
        return self

    def predict(self, X):
        import numpy as np

        return self.net.predict(X.astype(np.float32))


def make_estimator(alternative: str, *, batch_size: int, epochs: int, seed: int):
    """The estimator for one alternative, configured identically."""
    if alternative == "hand_loop":
        return _HandLoop(batch_size=batch_size, epochs=epochs, seed=seed)
    if alternative == "skdl":
        from skdl import TabularClassifier

        return TabularClassifier(
            hidden_layer_sizes=HIDDEN,
            # The hand loop's architecture and loss: standardized inputs
            # straight into the first hidden layer, plain cross-entropy (the
            # defaults add a periodic embedding and label smoothing).
            scaling="standard",
            numeric_embedding=None,
            label_smoothing=0.0,
            optimizer="adam",
            lr=LR,
            max_epochs=epochs,
            batch_size=batch_size,
            early_stopping=False,
            random_state=seed,
        )
    if alternative == "skorch":
        return _SkorchPlain(batch_size=batch_size, epochs=epochs, seed=seed)
    if alternative == "sklearn_mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            hidden_layer_sizes=HIDDEN,
            solver="adam",
            learning_rate_init=LR,
            max_iter=epochs,
            batch_size=batch_size,
            early_stopping=False,
            tol=0.0,
            n_iter_no_change=10**9,
            random_state=seed,
        )
    raise ValueError(f"unknown alternative {alternative!r}")


# ------------------------------------------------------------------- worker
def run_worker(cfg: dict) -> dict:
    """Fit one configuration in this (fresh) process and measure it."""
    threads = limit_threads(cfg["threads"])
    # Import everything any alternative uses, in every worker, so the
    # baseline RSS is the same whatever is being measured.
    import numpy as np
    import skorch  # noqa: F401
    import torch  # noqa: F401
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier  # noqa: F401

    import skdl  # noqa: F401

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, X_test, y, y_test = make_data(cfg["n_samples"], cfg["seed"])
    kwargs = {
        "batch_size": cfg["batch_size"],
        "epochs": cfg["epochs"],
        "seed": cfg["seed"],
    }
    if cfg["warmup"]:
        # One short fit pays for lazy imports and first-call initialization
        # (oneDNN kernels, parameter validation) outside the timed region.
        n_warm = min(len(X), 4 * cfg["batch_size"])
        warm = make_estimator(cfg["alternative"], **{**kwargs, "epochs": 1})
        warm.fit(X[:n_warm], y[:n_warm])
        del warm
    est = make_estimator(cfg["alternative"], **kwargs)
    baseline, reset_ok = reset_peak_rss()
    if cfg.get("profile"):
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        cpu_start = time.process_time()
        _, seconds = timed(profiler.runcall, est.fit, X, y)
        cpu_seconds = time.process_time() - cpu_start
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).sort_stats("tottime")
        stats.print_stats(cfg["profile"])
        print(stream.getvalue(), file=sys.stderr)
    else:
        cpu_start = time.process_time()
        _, seconds = timed(est.fit, X, y)
        cpu_seconds = time.process_time() - cpu_start
    peak = peak_rss_mb()
    accuracy = float(np.mean(est.predict(X_test) == y_test))
    return {
        **cfg,
        "fit_s": seconds,
        # CPU time of this process: with a fixed thread count it is far less
        # sensitive than wall time to other load on a shared machine.
        "fit_cpu_s": cpu_seconds,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "fit_peak_mb": peak - baseline,
        "peak_reset": reset_ok,
        "accuracy": accuracy,
        **threads,
    }


def _spawn(cfg: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.stderr.strip() and (proc.returncode or cfg.get("profile")):
        print(proc.stderr, file=sys.stderr)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    return {**cfg, "error": f"worker exited with {proc.returncode}"}


# ------------------------------------------------------------------ summary
def summarize(runs: list[dict], alternatives, batch_sizes) -> list[dict]:
    """Medians per (alternative, batch size) and ratios to the hand loop.

    A ratio is the median over repeats of the per-repeat ratio, each taken
    against the hand loop of the same batch size and repeat, so that slow
    periods of a shared machine cancel out.
    """
    ok = [r for r in runs if "error" not in r]
    ref = {
        (r["batch_size"], r["repeat"]): r for r in ok if r["alternative"] == REFERENCE
    }

    def ratios(mine, key, floor=0.0):
        out = []
        for r in mine:
            base = ref.get((r["batch_size"], r["repeat"]))
            if base is not None:
                out.append(r[key] / max(base[key], floor))
        return _median(out)

    rows = []
    for bs in batch_sizes:
        for alt in alternatives:
            mine = [r for r in ok if r["alternative"] == alt and r["batch_size"] == bs]
            if not mine:
                errors = [
                    r["error"]
                    for r in runs
                    if r["alternative"] == alt and r["batch_size"] == bs
                ]
                rows.append({"alternative": alt, "batch": bs, "error": errors[0]})
                continue
            rows.append(
                {
                    "alternative": alt,
                    "batch": bs,
                    "n_repeats": len(mine),
                    "fit_s": _median([r["fit_s"] for r in mine]),
                    "fit_s_min": min(r["fit_s"] for r in mine),
                    "time_ratio": ratios(mine, "fit_s"),
                    "fit_cpu_s": _median([r["fit_cpu_s"] for r in mine]),
                    "cpu_ratio": ratios(mine, "fit_cpu_s"),
                    "fit_peak_mb": _median([r["fit_peak_mb"] for r in mine]),
                    # Floor of 1 MB: a near-zero reference would blow up.
                    "fit_peak_ratio": ratios(mine, "fit_peak_mb", floor=1.0),
                    "peak_rss_mb": _median([r["peak_rss_mb"] for r in mine]),
                    "peak_rss_ratio": ratios(mine, "peak_rss_mb"),
                    "accuracy": _median([r["accuracy"] for r in mine]),
                }
            )
    return rows


def _median(values):
    return statistics.median(values) if values else float("nan")


COLUMNS = [
    "alternative",
    "batch",
    ("fit_s", "fit s (median)", ".2f"),
    ("time_ratio", "time / hand loop", ".2f"),
    ("fit_cpu_s", "fit CPU s", ".2f"),
    ("cpu_ratio", "CPU / hand loop", ".2f"),
    ("fit_peak_mb", "fit peak MB", ".1f"),
    ("fit_peak_ratio", "fit peak / hand loop", ".2f"),
    ("peak_rss_mb", "process peak MB", ".0f"),
    ("peak_rss_ratio", "process peak / hand loop", ".2f"),
    ("accuracy", "accuracy", ".4f"),
]


# ---------------------------------------------------------------------- cli
def parse_args(argv=None) -> argparse.Namespace:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-samples", type=int, default=100_000, help="training rows")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--batch-sizes", default="256,64", help="comma-separated (default 256,64)"
    )
    p.add_argument(
        "--alternatives",
        default=",".join(ALTERNATIVES),
        help=f"comma-separated subset of {','.join(ALTERNATIVES)}",
    )
    p.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the short untimed fit before the timed one",
    )
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="run each fit under cProfile and print its top N functions",
    )
    add_common_args(
        p,
        threads_default=torch.get_num_threads(),
        threads_help="torch and BLAS threads in every worker (default: torch's "
        "default)",
        quick_help="smoke run: 10,000 samples, 2 epochs, 1 repeat",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n_samples, args.epochs, args.repeats = 10_000, 2, 1
    default_output(args, "tabular_speed")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        result = run_worker(json.loads(args.worker))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    alternatives = [a.strip() for a in args.alternatives.split(",")]
    unknown = set(alternatives) - set(ALTERNATIVES)
    if unknown:
        sys.exit(f"error: unknown alternatives {sorted(unknown)}")
    if REFERENCE not in alternatives:
        alternatives.insert(0, REFERENCE)
    info = machine_info()
    print(
        f"# tabular_speed: {args.n_samples} samples x {N_FEATURES} features, "
        f"{N_CLASSES} classes, {args.epochs} epochs, {args.repeats} repeat(s), "
        f"{args.threads} thread(s); {info['cpu_count']} CPUs, torch {info['torch']}, "
        f"skorch {info['skorch']}, sklearn {info['sklearn']}",
        flush=True,
    )
    runs = []
    for repeat in range(args.repeats):
        for bs in batch_sizes:
            for alt in alternatives:
                cfg = {
                    "alternative": alt,
                    "batch_size": bs,
                    "repeat": repeat,
                    "n_samples": args.n_samples,
                    "epochs": args.epochs,
                    "seed": args.seed,
                    "threads": args.threads,
                    "warmup": args.warmup,
                    "profile": args.profile,
                }
                run = _spawn(cfg)
                runs.append(run)
                status = run.get("error") or (
                    f"{run['fit_s']:.2f}s, +{run['fit_peak_mb']:.0f} MB, "
                    f"acc {run['accuracy']:.3f}"
                )
                print(f"  repeat {repeat} batch {bs:>4} {alt:<12} {status}", flush=True)
    rows = summarize(runs, alternatives, batch_sizes)
    print()
    print(markdown_table(rows, COLUMNS))
    config = {
        "n_samples": args.n_samples,
        "n_features": N_FEATURES,
        "n_informative": N_INFORMATIVE,
        "n_classes": N_CLASSES,
        "hidden_layer_sizes": list(HIDDEN),
        "lr": LR,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "batch_sizes": batch_sizes,
        "threads": args.threads,
        "warmup": args.warmup,
        "seed": args.seed,
    }
    payload = payload_header("tabular_speed", config, info, quick=args.quick)
    payload.update(summary=rows, runs=runs)
    path = write_json(args.output, payload)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
