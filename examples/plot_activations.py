"""Activation functions
====================

Their shapes, a comparison on real data, vanishing gradients.

Four measurements on scikit-learn's bundled digits (1,797 handwritten digits,
8x8 pixels as 64 numeric features, 10 classes), so this runs offline:

1. **Shapes**: each hidden activation skdl offers and its derivative,
   computed with autograd, saved as ``activation_functions.png``.
2. **Comparison**: a deep, narrow :class:`~skdl.TabularClassifier` (six hidden
   layers of 64 units) with each activation, scored by 3-fold stratified
   cross-validation (accuracy, fit time, epochs until early stopping).
3. **Vanishing gradients**: one forward and backward pass of all 1,797
   standardized digits through a freshly initialized 10-layer
   :class:`~skdl.modules.TabularMLP` (the module the tabular estimators
   build), printing and plotting the norm of each hidden layer's weight
   gradient, for sigmoid, sigmoid with batch normalization, tanh and ReLU
   (``vanishing_gradients.png``, log scale).
4. **Dying ReLU**: the share of ReLU units that output 0 for every training
   row, after training the deep net at three learning rates.

Figures go to the folder named by ``SKDL_EXAMPLES_OUT`` (default: a new
temporary folder). The script needs about 50 CPU-seconds, under a minute on
two CPU cores; ``SKDL_EXAMPLES_FAST=1`` runs a seconds-long smoke version
(three activations, five epochs).
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # draws off-screen (Agg), no pyplot needed
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from skdl import TabularClassifier
from skdl.modules import TabularMLP

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
OUT = Path(os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp())

COMPARED = (
    ["relu", "tanh", "sigmoid"]
    if FAST
    else [
        "relu",
        "leaky_relu",
        "prelu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "mish",
        "softplus",
        "tanh",
        "sigmoid",
        "identity",
    ]
)
HIDDEN = (64,) * 6  # deep and narrow, where the choice of activation shows
MAX_EPOCHS = 5 if FAST else 60
DEPTH = 10  # hidden layers of the net whose gradients are measured
N_JOBS = 1 if FAST else 2  # cross-validation folds fitted in parallel


def plot_shapes(path):
    """Draw each activation and its derivative (autograd) on [-4, 4]."""
    x = torch.linspace(-4, 4, 401, requires_grad=True)
    shown = {
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
        "relu": nn.ReLU(),
        "leaky_relu (slope 0.1 shown)": nn.LeakyReLU(0.1),
        "elu": nn.ELU(),
        "selu": nn.SELU(),
        "gelu": nn.GELU(),
        "silu": nn.SiLU(),
    }
    fig = Figure(figsize=(9, 3.6))
    ax_f, ax_d = fig.subplots(1, 2)
    for name, fn in shown.items():
        y = fn(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        style = "--" if name.startswith(("elu", "selu", "silu")) else "-"
        ax_f.plot(x.detach(), y.detach(), style, label=name)
        ax_d.plot(x.detach(), grad, style, label=name)
    ax_f.set(title="activation f(x)", xlabel="x", ylim=(-2, 4))
    ax_d.set(title="derivative f'(x)", xlabel="x", ylim=(-0.15, 1.85))
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
    ax_f.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def compare(X, y):
    """3-fold CV accuracy, fit time and epochs of the deep net per activation."""
    cv = StratifiedKFold(2 if FAST else 3, shuffle=True, random_state=0)
    rows = []
    for activation in COMPARED:
        clf = TabularClassifier(
            hidden_layer_sizes=HIDDEN,
            **PLAIN_MLP,
            activation=activation,
            max_epochs=MAX_EPOCHS,
            random_state=0,
        )
        res = cross_validate(clf, X, y, cv=cv, n_jobs=N_JOBS, return_estimator=True)
        rows.append(
            {
                "activation": activation,
                "accuracy": res["test_score"].mean(),
                "std": res["test_score"].std(),
                "fit time (s)": res["fit_time"].mean(),
                "epochs": np.mean([est.n_epochs_ for est in res["estimator"]]),
            }
        )
    table = pd.DataFrame(rows).sort_values("accuracy", ascending=False)
    return table.round({"accuracy": 3, "std": 3, "fit time (s)": 2, "epochs": 1})


def gradient_norms(X, y, activation, normalization=None, seed=0):
    """Weight-gradient norm of each hidden layer after one backward pass."""
    torch.manual_seed(seed)
    module = TabularMLP(
        n_numeric=X.shape[1],
        cardinalities=[],
        embedding_dims=[],
        hidden_layer_sizes=(64,) * DEPTH,
        activation=activation,
        dropout=0.0,
        normalization=normalization,
        n_outputs=10,
    )
    loss = nn.functional.cross_entropy(module(X), y)
    loss.backward()
    return [block[0].weight.grad.norm().item() for block in module.blocks]


#: Pixels enter the hidden layers directly (standardized, no numeric
#: embedding), the targets are not smoothed and the raw weights are kept
#: (no weight average) at scikit-learn's learning rate, so that the
#: activations act on the plain MLP this page is about.
PLAIN_MLP = dict(
    n_ensemble=1,  # one network, whose units and curves are read below
    scaling="standard",
    numeric_embedding=None,
    label_smoothing=0.0,
    calibration=None,
    ema_epochs=None,
    lr=1e-3,
)


def dead_relu_share(clf, X):
    """Share of each hidden layer's ReLU units that are 0 on every row of X."""
    h = torch.as_tensor(clf.encoder_.transform(X)["x_num"])
    shares = []
    module = clf.net_.module_.eval()
    with torch.no_grad():
        for block in module.blocks:
            h = block(h)
            shares.append((h <= 0).all(dim=0).float().mean().item())
    return shares


def main():
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    print(f"digits: {X.shape[0]} images, {X.shape[1]} pixel features, 10 classes")

    # 1. Shapes.
    plot_shapes(OUT / "activation_functions.png")

    # 2. The same deep net with each activation, cross-validated.
    table = compare(X, y)
    print(
        f"\nTabularClassifier(hidden_layer_sizes={HIDDEN}), early stopping, "
        f"max_epochs={MAX_EPOCHS}; {len(X)} digits, stratified 3-fold CV:\n"
    )
    print(table.to_string(index=False))

    # 3. Gradient norm per layer at initialization, one pass over all digits.
    X_std = torch.as_tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    y_t = torch.as_tensor(y)
    setups = {
        "sigmoid": (nn.Sigmoid, None),
        'sigmoid, normalization="batch"': (nn.Sigmoid, "batch"),
        "tanh": (nn.Tanh, None),
        "relu": (nn.ReLU, None),
    }
    norms = {
        name: gradient_norms(X_std, y_t, act, norm)
        for name, (act, norm) in setups.items()
    }
    grads = pd.DataFrame(norms, index=pd.RangeIndex(1, DEPTH + 1, name="layer"))
    print(
        f"\nWeight-gradient norm of each hidden layer of a fresh {DEPTH}-layer "
        "TabularMLP (64 units each), one backward pass over all digits "
        "(layer 1 is next to the input):\n"
    )
    with pd.option_context("display.float_format", "{:.2e}".format):
        print(grads.to_string())
    ratio = grads.iloc[-1] / grads.iloc[0]
    print("\nlayer 10 / layer 1:", ", ".join(f"{k} {v:.0f}x" for k, v in ratio.items()))

    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for name, values in grads.items():
        ax.semilogy(grads.index, values, "o-", label=name)
    ax.set(
        xlabel="hidden layer (1 = next to the input)",
        ylabel="norm of the weight gradient",
        title=f"Gradients at initialization, {DEPTH} layers x 64 units, digits",
        xticks=grads.index,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "vanishing_gradients.png", dpi=90)

    # 4. Dying ReLU: units silent on every training row, by learning rate.
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    rows = {}
    for lr in [1e-3] if FAST else [1e-3, 1e-2, 3e-2]:
        clf = TabularClassifier(
            hidden_layer_sizes=HIDDEN,
            **{**PLAIN_MLP, "lr": lr},
            max_epochs=MAX_EPOCHS,
            random_state=0,
        ).fit(X_train, y_train)
        shares = dead_relu_share(clf, X_train)
        rows[f"lr={lr:g}"] = [*shares, np.mean(shares), clf.score(X_test, y_test)]
    dead = pd.DataFrame(
        rows,
        index=[f"layer {i}" for i in range(1, len(HIDDEN) + 1)]
        + ["all layers", "test accuracy"],
    ).T
    print(
        "\nShare of ReLU units that output 0 on every training row, after "
        f"training {HIDDEN} with Adam (test accuracy on 30% held out):\n"
    )
    with pd.option_context("display.precision", 2, "display.width", 120):
        print(dead.to_string())

    print(f"\nSaved activation_functions.png and vanishing_gradients.png to {OUT}")
    print(f"Total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
