"""Tabular data with pandas
========================

String, categorical and missing columns, as they come.

The Titanic passenger list (891 rows, the Kaggle training set as shipped with
seaborn) is read from the CSV as a raw DataFrame: strings, bools, integers
and floats, with missing ages, ports and decks. The script

1. fits :class:`~skdl.TabularClassifier` on the DataFrame as it is and shows
   how each column was treated (numeric: imputed with a missing indicator and
   scaled; string: a learned embedding);
2. makes ``pclass`` a pandas ``category`` so that it gets an embedding too;
3. puts a :class:`~sklearn.compose.ColumnTransformer` in front (log of the
   fare, family size) with ``set_output(transform="pandas")``, so the
   classifier still sees named, typed columns;
4. compares the classic scikit-learn preprocessing (impute and one-hot encode
   to a numeric array) and a logistic regression on it, for reference;
5. predicts for new passengers with a missing age and a deck never seen in
   training.

Scores are 5-fold stratified cross-validated accuracy. The data are read
from ``$SKDL_DATA`` (else ``shared/data`` next to the repository). It needs
about 75 CPU-seconds (each fit trains 5 networks: ``n_ensemble="auto"`` on
these 712-row folds), under a minute on two CPU cores;
``SKDL_EXAMPLES_FAST=1`` runs a seconds-long smoke version.
"""

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from skdl import TabularClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
DATA_HOME = Path(
    os.environ.get("SKDL_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
N_JOBS = 1 if FAST else 2


def load_titanic():
    frame = pd.read_csv(DATA_HOME / "tabular" / "seaborn_titanic.csv.gz")
    y = frame["survived"]
    # "alive" is the target spelled "yes"/"no" (leakage); "class" and
    # "embark_town" repeat "pclass" and "embarked"; "who" and "adult_male"
    # are derived from sex and age. Keep the passenger list's own columns.
    X = frame.drop(
        columns=["survived", "alive", "class", "embark_town", "who", "adult_male"]
    )
    return X, y


def classifier():
    return TabularClassifier(max_epochs=5 if FAST else 200, random_state=0)


def family_features(X):
    """Family size from sibsp + parch, as a new column."""
    return X.assign(family=X["sibsp"] + X["parch"] + 1)


def main():
    start = time.perf_counter()
    X, y = load_titanic()
    print(f"Titanic: {X.shape[0]} passengers, survival rate {y.mean():.3f}\n")
    summary = pd.DataFrame({"dtype": X.dtypes.astype(str), "missing": X.isna().sum()})
    print(summary.T.to_string(), "\n")

    # 1. The raw DataFrame, as it is.
    clf = classifier().fit(X, y)
    enc = clf.encoder_
    print("numeric columns (imputed, indicator, scaled):", enc.numeric_columns_)
    print("categorical columns (embedded):", enc.categorical_columns_)
    widths = [emb.embedding_dim for emb in clf.net_.module_.embeddings]
    for col, card, dim in zip(enc.categorical_columns_, enc.cardinalities_, widths):
        print(f"  {col}: {card - 2} categories + unknown + missing -> width {dim}")
    print(f"numeric input width (with missing indicators): {enc.n_numeric_out_}\n")

    # 2-4. Variants, all cross-validated on the same folds.
    categorical = make_column_selector(dtype_exclude="number")
    numeric = make_column_selector(dtype_include="number")
    engineer = ColumnTransformer(
        [("log_fare", FunctionTransformer(np.log1p), ["fare"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    one_hot = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )
    X_cat = X.astype({"pclass": "category"})
    variants = {
        "TabularClassifier on the raw DataFrame": (classifier(), X),
        "... with pclass as category": (classifier(), X_cat),
        "... after a ColumnTransformer (log fare, family size)": (
            make_pipeline(FunctionTransformer(family_features), engineer, classifier()),
            X_cat,
        ),
        "one-hot ColumnTransformer -> TabularClassifier": (
            make_pipeline(one_hot, classifier()),
            X_cat,
        ),
        "one-hot ColumnTransformer -> LogisticRegression": (
            make_pipeline(one_hot, LogisticRegression(max_iter=1000)),
            X_cat,
        ),
    }
    cv = StratifiedKFold(2 if FAST else 5, shuffle=True, random_state=0)
    rows = []
    for name, (model, data) in variants.items():
        res = cross_validate(model, data, y, cv=cv, n_jobs=N_JOBS)
        rows.append(
            {
                "model": name,
                "accuracy": res["test_score"].mean(),
                "std": res["test_score"].std(),
                "fit time (s)": res["fit_time"].mean(),
            }
        )
    table = pd.DataFrame(rows).round(3)
    print(f"{cv.get_n_splits()}-fold stratified cross-validation:\n")
    print(table.to_string(index=False))

    # 5. New passengers: a missing age, and a deck that training never saw.
    new = pd.DataFrame(
        {
            "pclass": [1, 3],
            "sex": ["female", "male"],
            "age": [np.nan, 30.0],
            "sibsp": [0, 0],
            "parch": [0, 0],
            "fare": [80.0, 8.0],
            "embarked": ["C", "S"],
            "deck": ["B", "Z"],  # "Z" is unknown: it maps to the unknown code
            "alone": [True, True],
        }
    )
    proba = clf.predict_proba(new)[:, 1]
    print("\nNew passengers (deck 'Z' never occurs in training):")
    print(new.assign(p_survived=proba.round(3)).to_string(index=False))
    print(f"\nTotal time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
