"""Draw the benchmarks page's figures from the stored results (no training).

Reads the JSON files in ``benchmarks/results/`` and writes PNG files into
``docs/_static/benchmarks/``:

- ``tabular_accuracy_vs_time.png``: for each of the 19 tables of
  ``tabular_accuracy.json`` (all rows, 5 folds), each model's normalized
  score (1 = the best of the four models on that table, 0 = the worst)
  against its mean fit time, with each model's medians as large markers;
- ``tabular_suites_vs_time.png``: the same for the 45 tables of
  ``tabular_accuracy_45.json``, suite A (where skdl's defaults were chosen)
  and the held-out suite B side by side, RealMLP-TD included;
- ``transfer_learning_arms.png``: test accuracy of the transfer-learning
  arms against the number of training images per class, for the three
  source/target pairs run with the cosine schedule
  (``transfer_learning_cosine.json``, ``..._mnist-split.json``,
  ``..._fmnist-to-mnist.json``), mean and standard deviation over seeds.

Run ``python benchmarks/make_figures.py`` after a benchmark run changes one of
these files, and commit the PNG files with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # draws off-screen (Agg), no pyplot needed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "docs" / "_static" / "benchmarks"

MODELS = {
    "skdl": ("skdl defaults", "tab:blue", "o"),
    "hgb": ("HistGradientBoosting", "tab:green", "s"),
    "mlp": ("scikit-learn MLP", "tab:orange", "^"),
    "linear": ("linear model", "tab:gray", "v"),
    "realmlp": ("RealMLP-TD", "tab:red", "D"),
}
#: The 45-table run of issue 17 (3 splits, training rows capped at 5,000).
SUITES_FILE = "tabular_accuracy_45.json"
TRANSFER = {
    "transfer_learning_mnist-split.json": "MNIST 0-4 → 5-9",
    "transfer_learning_cosine.json": "Fashion-MNIST 0-4 → 5-9",
    "transfer_learning_fmnist-to-mnist.json": "Fashion-MNIST → MNIST",
}
ARMS = {
    "scratch": ("scratch", "tab:gray", "o"),
    "end_to_end": ("end-to-end", "tab:blue", "s"),
    "two_stage": ("two-stage", "tab:green", "^"),
    "linear_probe": ("linear probe", "tab:orange", "v"),
    "logreg_probe": ("logistic regression on features", "tab:purple", "D"),
}


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def _normalized_points(rows: list[dict]) -> dict[str, tuple[list, list]]:
    """Each model's (fit seconds, normalized primary score) per table."""
    primary = {"classification": "accuracy", "regression": "r2"}
    by_table: dict[str, dict[str, dict]] = {}
    for row in rows:
        if "error" not in row:
            by_table.setdefault(row["dataset"], {})[row["model"]] = row
    points: dict[str, tuple[list, list]] = {}
    for table in by_table.values():
        metric = primary[next(iter(table.values()))["task"]]
        scores = {model: row[metric] for model, row in table.items()}
        low, high = min(scores.values()), max(scores.values())
        for model, row in table.items():
            norm = 1.0 if high == low else (scores[model] - low) / (high - low)
            points.setdefault(model, ([], []))[0].append(row["fit_s"])
            points[model][1].append(norm)
    return points


def _scatter(ax, points: dict, *, xlabel: str) -> None:
    for model, (label, color, marker) in MODELS.items():
        if model not in points:
            continue
        times, norms = points[model]
        ax.scatter(times, norms, color=color, marker=marker, alpha=0.35, s=28)
        ax.scatter(
            np.median(times),
            np.median(norms),
            color=color,
            marker=marker,
            s=160,
            edgecolor="black",
            label=f"{label} (median {np.median(norms):.3f}, {np.median(times):.2f} s)",
        )
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="x-small")


def suites_figure() -> Figure:
    """Suite A (where the defaults were chosen) and suite B, side by side."""
    results = load(SUITES_FILE)
    rows = results["aggregate"]
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, suite in zip(axes, ("A", "B")):
        mine = [r for r in rows if r.get("suite") == suite]
        n = len({r["dataset"] for r in mine})
        _scatter(
            ax,
            _normalized_points(mine),
            xlabel="mean fit time per split (s, log scale, one torch thread)",
        )
        role = "defaults chosen here" if suite == "A" else "held out"
        ax.set_title(f"suite {suite}: {n} tables ({role})", fontsize="medium")
    axes[0].set_ylabel("normalized accuracy / R² (1 = best model)")
    config = results["config"]
    fig.suptitle(
        f"{config['splits']} splits, training rows capped at "
        f"{config['max_train_rows']:,} (commit "
        f"{results['machine']['git']['commit'][:7]})",
        fontsize="medium",
    )
    return fig


def tabular_figure() -> Figure:
    results = load("tabular_accuracy.json")
    points = _normalized_points(results["aggregate"])
    by_table = {r["dataset"] for r in results["aggregate"]}

    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.add_subplot()
    _scatter(
        ax, points, xlabel="mean fit time per fold (s, log scale, one torch thread)"
    )
    ax.set_ylabel("normalized accuracy / R² (1 = best of the four)")
    ax.set_title(
        f"{len(by_table)} real tables, 5 folds, all rows "
        f"(commit {results['machine']['git']['commit'][:7]})"
    )
    return fig


def transfer_figure() -> Figure:
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, len(TRANSFER), sharey=True)
    for ax, (name, title) in zip(axes, TRANSFER.items()):
        summary = load(name)["summary"]
        for arm, (label, color, marker) in ARMS.items():
            rows = sorted(
                (r for r in summary if r["arm"] == arm), key=lambda r: r["shots"]
            )
            if not rows:
                continue
            shots = [r["shots"] for r in rows]
            ax.errorbar(
                shots,
                [r["mean"] for r in rows],
                yerr=[r["std"] for r in rows],
                color=color,
                marker=marker,
                capsize=3,
                label=label,
            )
        seeds = len(summary[0]["seeds"])
        ax.set_title(f"{title} ({seeds} seeds)", fontsize="medium")
        ax.set_xscale("log")
        ax.set_xticks([1, 5, 20], labels=["1", "5", "20"])
        ax.set_xlabel("training images per class")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return fig


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fig in [
        ("tabular_accuracy_vs_time.png", tabular_figure()),
        ("tabular_suites_vs_time.png", suites_figure()),
        ("transfer_learning_arms.png", transfer_figure()),
    ]:
        fig.savefig(OUT / name, dpi=110)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
