"""Inputs as users have them: arrays, sparse matrices, mixed DataFrames."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdl import TabularClassifier, TabularRegressor
from skdl.tabular._encoding import TabularEncoder, embedding_size

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
ALL_ROWS = dict(FAST, early_stopping=False)  # the encoder sees every row


def _mixed_frame(n=160, seed=0):
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = rng.choice(["S", "M", "L", "XL"], size=n).astype(object)
    size[rng.random(n) < 0.15] = None
    city = pd.Series(rng.choice(["Oslo", "Rome"], size=n), dtype="str")
    city[rng.random(n) < 0.1] = np.nan
    x = rng.normal(size=n)
    x_gaps = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
    X = pd.DataFrame(
        {
            "x": x,
            "x_gaps": x_gaps,
            "count": rng.integers(0, 10, size=n),
            "flag": rng.random(n) < 0.5,
            "colour": pd.Categorical(colour),
            "size": size,
            "city": city,
        }
    )
    y = np.where((x > 0) ^ (colour == "red"), "yes", "no")
    return X, y


# ----------------------------------------------------------------- DataFrames
def test_mixed_frame_column_kinds_and_network_inputs():
    X, y = _mixed_frame()
    clf = TabularClassifier(**ALL_ROWS).fit(X, y)
    enc = clf.encoder_
    assert enc.numeric_columns_ == ["x", "x_gaps", "count", "flag"]
    assert enc.categorical_columns_ == ["colour", "size", "city"]
    # Four numeric columns plus one missing-value indicator (x_gaps).
    assert enc.n_numeric_out_ == 5
    # Observed categories plus the reserved unknown and missing codes.
    assert enc.cardinalities_ == [3 + 2, 4 + 2, 2 + 2]
    embeddings = clf.net_.module_.embeddings
    assert [e.num_embeddings for e in embeddings] == enc.cardinalities_
    assert [e.embedding_dim for e in embeddings] == [
        embedding_size(c) for c in enc.cardinalities_
    ]
    # The five numeric inputs go through the periodic embedding (default).
    numeric = clf.net_.module_.numeric_embedding
    assert numeric.n_features == 5
    first = clf.net_.module_.blocks[0][0]
    assert first.in_features == numeric.out_features + sum(
        e.embedding_dim for e in embeddings
    )
    assert clf.n_features_in_ == 7
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.all(np.isfinite(proba))


def test_mixed_frame_is_learned():
    X, y = _mixed_frame(n=400)
    clf = TabularClassifier((32,), lr=0.01, max_epochs=40, random_state=0)
    clf.fit(X.iloc[:300], y[:300])
    # The label depends on a numeric and a categorical column jointly.
    assert clf.score(X.iloc[300:], y[300:]) > 0.85


def test_embedding_dim_sets_every_embedding_width():
    X, y = _mixed_frame()
    clf = TabularClassifier(embedding_dim=3, **FAST).fit(X, y)
    assert [e.embedding_dim for e in clf.net_.module_.embeddings] == [3, 3, 3]


def test_missing_numeric_is_imputed_with_median_and_indicator():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 10.0, np.nan, 2.0] * 5})
    y = np.array([0, 1] * 15)
    clf = TabularClassifier(scaling=None, **ALL_ROWS).fit(X, y)
    x_num = clf.encoder_.transform(X)["x_num"]
    assert x_num.shape == (30, 2)
    gaps = X["a"].isna().to_numpy()
    np.testing.assert_array_equal(x_num[:, 1], gaps.astype(np.float32))
    assert np.all(x_num[gaps, 0] == np.nanmedian(X["a"]))
    np.testing.assert_array_equal(x_num[~gaps, 0], X["a"][~gaps])


def test_missing_numeric_at_predict_time_in_a_column_without_gaps():
    X, y = _mixed_frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    X_new = X.head(3).copy()
    X_new.loc[:, "x"] = np.nan
    assert np.all(np.isfinite(clf.predict_proba(X_new)))


def test_unseen_category_maps_to_the_zero_unknown_embedding():
    X, y = _mixed_frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    X_new = X.head(4).copy()
    X_new["size"] = ["XXL", "tiny", "S", "M"]
    X_new["colour"] = pd.Categorical(["purple", "red", "green", "pink"])
    codes = clf.encoder_.transform(X_new)["x_cat"]
    assert list(codes[:, 1][:2]) == [0, 0] and codes[2, 1] >= 2
    assert codes[0, 0] == 0 and codes[3, 0] == 0 and codes[1, 0] >= 2
    # The unknown slot stays the neutral zero vector through training.
    for emb in clf.net_.module_.embeddings:
        assert not emb.weight[0].any()
    proba = clf.predict_proba(X_new)
    assert np.all(np.isfinite(proba))
    # Two different unseen values are the same "unknown" to the network.
    a = X_new.iloc[[0]].copy()
    b = a.copy()
    b["size"] = "never-seen"
    np.testing.assert_array_equal(clf.predict_proba(a), clf.predict_proba(b))


def _category_codes(X_fit, X_new):
    encoder = TabularEncoder().fit(X_fit)
    return encoder.transform(X_fit)["x_cat"], encoder.transform(X_new)["x_cat"]


@pytest.mark.parametrize(
    "fit_values, new_values",
    [
        # A code column turns float as soon as it has a gap.
        ([1.0, 2.0, 3.0, np.nan] * 5, [1, 2, 3, 1] * 5),
        ([1, 2, 3, 1] * 5, [1.0, 2.0, 3.0, np.nan] * 5),
    ],
)
@pytest.mark.parametrize("dtype", ["category", object])
def test_integral_floats_and_ints_are_the_same_category(fit_values, new_values, dtype):
    X_fit = pd.DataFrame({"c": pd.Series(fit_values).astype(dtype)})
    X_new = pd.DataFrame({"c": pd.Series(new_values).astype(dtype)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no "mostly unknown" warning
        fit_codes, new_codes = _category_codes(X_fit, X_new)
    present = X_new["c"].notna().to_numpy()
    assert np.all(new_codes[present, 0] >= 2)
    # Value v gets the code it had in training.
    lookup = dict(zip(pd.Series(fit_values).dropna(), fit_codes[:, 0]))
    expected = [lookup[v] for v in X_new["c"][present]]
    np.testing.assert_array_equal(new_codes[present, 0], expected)


def test_category_spelling_keeps_bools_and_fractions_apart():
    values = pd.Series([True, 1, 1.5, 1e20, "1.5"] * 4, dtype=object)
    X = pd.DataFrame({"c": values})
    _, codes = _category_codes(X, X.assign(c=values.replace({1e20: 10**20})))
    codes = codes[:5, 0]
    assert len(set(codes[:4])) == 4  # True, 1, 1.5 and 1e20 stay distinct
    assert codes[3] >= 2  # the float 1e20 matches the int 10**20
    assert codes[4] == codes[2]  # "1.5" and 1.5 share a spelling, as before


def test_mostly_unknown_categories_at_predict_time_warn():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=30), "c": rng.choice(["a", "b"], 30)})
    encoder = TabularEncoder().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.transform(X.assign(c=["a"] * 28 + ["new", None]))  # a few: fine
    with pytest.warns(UserWarning, match=r"Column 'c': 30 of 30 .*not seen"):
        encoder.transform(X.assign(c=X["c"].str.upper()))


def test_high_cardinality_column_does_not_warn_during_fit():
    # The validation split of an ID-like column is mostly unseen by design;
    # only new data at predict time is worth a warning.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "id": [f"r{i}" for i in range(200)]})
    y = (X["x"] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = TabularClassifier(**FAST).fit(X, y)
    with pytest.warns(UserWarning, match="Column 'id'"):
        clf.predict(X.assign(id=[f"s{i}" for i in range(200)]))


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_category_at_predict_time(missing):
    X, y = _mixed_frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    X_new = X.head(3).copy()
    # "size" had gaps in training (missing code 1); "colour" had none.
    X_new["size"] = pd.Series([missing, "S", missing], dtype=object).to_numpy()
    X_new["colour"] = pd.Categorical([None, "red", None])
    codes = clf.encoder_.transform(X_new)["x_cat"]
    assert codes[0, 1] == 1 and codes[2, 1] == 1
    assert codes[0, 0] in (0, 1)
    proba = clf.predict_proba(X_new)
    assert np.all(np.isfinite(proba))
    reference = X_new.copy()
    reference["size"] = [None, "S", None]
    np.testing.assert_array_equal(proba, clf.predict_proba(reference))


def test_nullable_pandas_dtypes_are_numeric_with_gaps():
    n = 120
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "i": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "f": pd.array(rng.normal(size=n), dtype="Float64"),
            "b": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )
    X.loc[::7, "i"] = pd.NA
    X.loc[::5, "b"] = pd.NA
    y = rng.integers(0, 2, n)
    clf = TabularClassifier(**ALL_ROWS).fit(X, y)
    assert clf.encoder_.numeric_columns_ == ["i", "f", "b"]
    assert clf.encoder_.n_numeric_out_ == 5  # two indicator columns
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_only_categorical_columns():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 150)})
    y = (X["c"] == "a").to_numpy()
    clf = TabularClassifier((8,), lr=0.05, max_epochs=30, random_state=0).fit(X, y)
    assert clf.encoder_.n_numeric_out_ == 0
    assert clf.score(X, y) == 1.0


def test_integer_column_names_give_no_feature_names():
    X, y = make_classification(100, 4, random_state=0)
    clf = TabularClassifier(**FAST).fit(pd.DataFrame(X), y)
    assert not hasattr(clf, "feature_names_in_")
    assert clf.n_features_in_ == 4
    clf.fit(pd.DataFrame(X, columns=list("abcd")), y)
    assert list(clf.feature_names_in_) == list("abcd")
    clf.fit(X, y)
    assert not hasattr(clf, "feature_names_in_")


# --------------------------------------------------------------- scaling
def _scaled(scaling, X):
    reg = TabularRegressor(scaling=scaling, **ALL_ROWS).fit(X, X[:, 0])
    return reg.encoder_.transform(X)["x_num"].astype(np.float64)


@pytest.fixture(scope="module")
def skewed():
    rng = np.random.default_rng(0)
    return np.column_stack([rng.exponential(5.0, 300), 1e4 + rng.normal(size=300)])


def test_standard_scaling(skewed):
    x = _scaled("standard", skewed)
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-4)


def test_robust_scaling(skewed):
    x = _scaled("robust", skewed)
    np.testing.assert_allclose(np.median(x, 0), 0, atol=1e-5)
    q75, q25 = np.percentile(x, [75, 25], axis=0)
    np.testing.assert_allclose(q75 - q25, 1, atol=1e-4)


def test_minmax_scaling(skewed):
    x = _scaled("minmax", skewed)
    np.testing.assert_allclose(x.min(0), -1, atol=1e-6)
    np.testing.assert_allclose(x.max(0), 1, atol=1e-6)


def test_quantile_scaling_is_normal_and_monotonic(skewed):
    x = _scaled("quantile", skewed)
    order = np.argsort(skewed[:, 0])
    assert np.all(np.diff(x[order, 0]) >= 0)
    assert abs(stats.skew(x[:, 0])) < 0.2 < stats.skew(skewed[:, 0])
    np.testing.assert_allclose(np.median(x, 0), 0, atol=0.05)


def test_no_scaling_keeps_values(skewed):
    np.testing.assert_allclose(_scaled(None, skewed), skewed, rtol=1e-6)


# -------------------------------------------------- arrays and sparse input
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
def test_numeric_array_dtypes(dtype):
    X, y = make_classification(100, 4, random_state=0)
    X = (X * 10).astype(dtype)
    clf = TabularClassifier(**FAST).fit(X, y)
    assert clf.n_features_in_ == 4
    assert not hasattr(clf, "feature_names_in_")
    proba = clf.predict_proba(X)
    assert proba.shape == (100, 2) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(
        clf.predict_proba(X.astype(np.float64)), proba, rtol=1e-6
    )


@pytest.mark.parametrize("sparse_format", [sp.csr_matrix, sp.csc_array, sp.coo_matrix])
def test_sparse_input_gives_the_dense_model(sparse_format):
    X, y = make_classification(100, 6, random_state=0)
    X[np.abs(X) < 0.7] = 0.0
    X = X.astype(np.float32).astype(np.float64)  # sparse input is float32
    dense = TabularClassifier(**FAST).fit(X, y)
    X_sparse = sparse_format(X)
    sparse = TabularClassifier(**FAST).fit(X_sparse, y)
    np.testing.assert_allclose(
        sparse.predict_proba(X_sparse), dense.predict_proba(X), rtol=1e-5
    )


def test_column_transformer_output_in_a_pipeline():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=300), "c": rng.choice(["x", "y", "z"], size=300)}
    )
    y = ((X["a"] > 0) ^ (X["c"] == "x")).astype(int)
    for sparse_output in (True, False):
        pipe = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(sparse_output=sparse_output), ["c"]),
                (StandardScaler(), ["a"]),
            ),
            TabularClassifier((16,), lr=0.02, max_epochs=40, random_state=0),
        )
        pipe.fit(X.iloc[:200], y[:200])
        assert pipe[-1].n_features_in_ == 4
        assert pipe.score(X.iloc[200:], y[200:]) > 0.85
