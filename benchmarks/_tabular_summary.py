"""The summaries and tables of ``tabular_accuracy.py``.

``aggregate`` averages the records over splits; ``compare`` counts skdl's
wins, ties and losses against each peer and the median normalized scores;
``by_suite`` and ``targets`` give those per suite (A, B and all tables)
with the numbers issue 17 sets targets for; ``report`` and
``targets_report`` print them as markdown.
"""

from __future__ import annotations

import numpy as np
from _common import BY_NAME, CLF, REG, SUITES, markdown_table

#: |skdl - peer| at or below these counts as a tie, per metric.
TIES = {"accuracy": 0.002, "log_loss": 0.005, "r2": 0.005, "rmse_rel": 0.01}
METRICS = {CLF: ("accuracy", "log_loss"), REG: ("r2", "rmse")}
HIGHER_IS_BETTER = {"accuracy": True, "log_loss": False, "r2": True, "rmse": False}


# -------------------------------------------------------------------- summary
def aggregate(records: list[dict]) -> list[dict]:
    """Mean over splits per (dataset, model); errors are kept as such."""
    rows = []
    keys = sorted({(r["dataset"], r["model"]) for r in records}, key=_order)
    for dataset, model in keys:
        mine = [r for r in records if r["dataset"] == dataset and r["model"] == model]
        ok = [r for r in mine if "error" not in r]
        row = {
            "dataset": dataset,
            "task": mine[0]["task"],
            "suite": mine[0].get("suite") or _suite_of(dataset),
            "model": model,
            "n_train": mine[0]["n_train"],
            "n_splits": len(ok),
        }
        if len(ok) < len(mine):
            row["error"] = next(r["error"] for r in mine if "error" in r)
        if ok:
            for key in (*METRICS[row["task"]], "fit_s", "predict_s"):
                row[key] = float(np.mean([r[key] for r in ok]))
            first = METRICS[row["task"]][0]
            row[first + "_std"] = float(np.std([r[first] for r in ok]))
        rows.append(row)
    return rows


def _suite_of(dataset: str) -> str:
    """The suite of a dataset (records saved before suites existed lack it)."""
    return BY_NAME[dataset].suite if dataset in BY_NAME else "A"


def _order(key):
    dataset, model = key
    names = list(BY_NAME)
    return (names.index(dataset) if dataset in names else len(names), model)


def _score(row: dict | None, metric: str) -> float | None:
    if row is None or "error" in row or metric not in row:
        return None
    return row[metric]


def compare(rows: list[dict], models: list[str]) -> dict:
    """Wins/ties/losses of skdl against each peer and normalized scores.

    A model that failed on a dataset loses against one that did not, and
    gets the normalized score 0 there. Ties use ``TIES`` (absolute for
    accuracy, log-loss and R², relative for RMSE); ``skdl_vs_peer_strict``
    counts the same comparisons with no margin (a tie only for equal means).
    ``fit_time`` has each model's median fit seconds over the datasets and,
    against ``hgb``, the ratio of those medians and the median of the
    per-dataset ratios.
    """
    table = {(r["dataset"], r["model"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    wtl: dict = {}
    strict: dict = {}
    normalized: dict = {m: {} for m in models}
    for dataset in datasets:
        task = next(r["task"] for r in rows if r["dataset"] == dataset)
        for metric in METRICS[task]:
            kind = "primary" if metric == METRICS[task][0] else "secondary"
            sign = 1 if HIGHER_IS_BETTER[metric] else -1
            scores = {m: _score(table.get((dataset, m)), metric) for m in models}
            valid = [v for v in scores.values() if v is not None]
            if valid:
                best = max(valid, key=lambda v: sign * v)
                worst = min(valid, key=lambda v: sign * v)
                for m, v in scores.items():
                    if (dataset, m) not in table:
                        continue
                    if v is None:
                        norm = 0.0
                    elif best == worst:
                        norm = 1.0
                    else:
                        norm = (v - worst) / (best - worst)
                    normalized[m].setdefault(kind, []).append(norm)
            if (dataset, "skdl") not in table:
                continue
            mine = scores["skdl"]
            for peer in models:
                if peer == "skdl" or (dataset, peer) not in table:
                    continue
                other = scores[peer]
                for margin, tally in ((True, wtl), (False, strict)):
                    outcome = _outcome(mine, other, metric, sign, margin=margin)
                    if outcome is None:
                        continue
                    counts = tally.setdefault(peer, {}).setdefault(
                        metric, {"wins": 0, "ties": 0, "losses": 0}
                    )
                    counts[outcome] += 1
    median_norm = {
        m: {k: float(np.median(v)) for k, v in kinds.items()}
        for m, kinds in normalized.items()
    }
    return {
        "skdl_vs_peer": wtl,
        "skdl_vs_peer_strict": strict,
        "median_normalized_score": median_norm,
        "fit_time": _fit_times(rows, models),
    }


def by_suite(rows: list[dict], models: list[str]) -> dict:
    """``compare`` and ``targets`` for each suite present and for all tables."""
    out = {}
    suites = [s for s in SUITES if any(r["suite"] == s for r in rows)]
    for name in [*suites, "all"] if len(suites) > 1 else suites:
        mine = rows if name == "all" else [r for r in rows if r["suite"] == name]
        summary = compare(mine, models)
        out[name] = {**summary, "targets": targets(mine, summary)}
    return out


def targets(rows: list[dict], summary: dict) -> dict:
    """What issue 17 asks of skdl, from one suite's (or all) aggregate rows
    and their ``compare`` summary.

    * ``beats_mlp``: share of tables where skdl's mean primary score
      (accuracy or R²) is strictly higher than the scikit-learn MLP's;
    * ``median_normalized``: skdl's and RealMLP's median normalized scores;
    * ``fit_time_ratio``: skdl's median fit time over RealMLP's and over
      HistGradientBoosting's (ratios of the medians over the tables).
    """
    table = {(r["dataset"], r["model"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    out: dict = {"n_tables": len(datasets)}
    if any(model == "mlp" for _, model in table):
        wins = total = 0
        for d in datasets:
            task = table.get((d, "skdl"), table.get((d, "mlp")))["task"]
            first = METRICS[task][0]
            mine, other = (
                _score(table.get((d, "skdl")), first),
                _score(table.get((d, "mlp")), first),
            )
            if mine is None and other is None:
                continue
            total += 1
            wins += other is None or (mine is not None and mine > other)
        out["beats_mlp"] = {"tables": wins, "of": total, "share": wins / max(total, 1)}
    norm = summary["median_normalized_score"]
    out["median_normalized"] = {m: norm[m] for m in ("skdl", "realmlp") if m in norm}
    times = summary["fit_time"]
    if "skdl" in times:
        for peer in ("realmlp", "hgb"):
            if peer in times:
                out.setdefault("fit_time_ratio", {})[peer] = (
                    times["skdl"]["median_fit_s"] / times[peer]["median_fit_s"]
                )
    return out


def targets_report(suites: dict) -> str:
    """One line per suite: the numbers issue 17 sets targets for."""
    lines = []
    for name, summary in suites.items():
        t = summary["targets"]
        norm = t.get("median_normalized", {})
        beats = t.get("beats_mlp", {})
        ratio = t.get("fit_time_ratio", {})
        lines.append(
            {
                "suite": name,
                "tables": t["n_tables"],
                "skdl norm": "{:.3f} / {:.3f}".format(
                    norm.get("skdl", {}).get("primary", float("nan")),
                    norm.get("skdl", {}).get("secondary", float("nan")),
                ),
                "realmlp norm": "{:.3f} / {:.3f}".format(
                    norm.get("realmlp", {}).get("primary", float("nan")),
                    norm.get("realmlp", {}).get("secondary", float("nan")),
                ),
                "beats mlp": f"{beats.get('tables')} of {beats.get('of')}",
                "fit vs realmlp": ratio.get("realmlp"),
                "fit vs hgb": ratio.get("hgb"),
            }
        )
    return (
        "### Per suite (normalized: accuracy or R² / log-loss or RMSE; fit: "
        "ratio of skdl's median fit time to the peer's)\n\n"
        + markdown_table(
            lines,
            [
                "suite",
                "tables",
                "skdl norm",
                "realmlp norm",
                "beats mlp",
                ("fit vs realmlp", "fit vs realmlp", ".3f"),
                ("fit vs hgb", "fit vs hgb", ".2f"),
            ],
        )
    )


def _fit_times(rows: list[dict], models: list[str]) -> dict:
    """Median fit seconds per model; ratios to ``hgb`` both ways of taking them."""
    fit = {(r["dataset"], r["model"]): r["fit_s"] for r in rows if r.get("fit_s")}
    hgb = {d: v for (d, m), v in fit.items() if m == "hgb"}
    out: dict = {}
    for m in models:
        mine = {d: v for (d, mm), v in fit.items() if mm == m}
        if not mine:
            continue
        out[m] = {"median_fit_s": float(np.median(list(mine.values())))}
        both = [d for d in mine if d in hgb]
        if m != "hgb" and both:
            out[m]["ratio_of_medians_to_hgb"] = out[m]["median_fit_s"] / float(
                np.median(list(hgb.values()))
            )
            out[m]["median_ratio_to_hgb"] = float(
                np.median([mine[d] / hgb[d] for d in both])
            )
    return out


def _outcome(mine, other, metric, sign, *, margin: bool = True) -> str | None:
    if mine is None and other is None:
        return None
    if mine is None:
        return "losses"
    if other is None:
        return "wins"
    diff = sign * (mine - other)
    if metric == "rmse":
        tol = TIES["rmse_rel"] * abs(other)
    else:
        tol = TIES[metric]
    if not margin:
        tol = 0.0
    if abs(diff) <= tol:
        return "ties"
    return "wins" if diff > 0 else "losses"


def report(rows: list[dict], summary: dict, models: list[str]) -> str:
    """The markdown tables printed at the end of a run."""
    out = []
    for task in (CLF, REG):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows:
            continue
        first, second = METRICS[task]
        datasets = list(dict.fromkeys(r["dataset"] for r in task_rows))
        table = {(r["dataset"], r["model"]): r for r in task_rows}
        wide = []
        for d in datasets:
            n_train = next(r["n_train"] for r in task_rows if r["dataset"] == d)
            line = {"dataset": d, "n_train": n_train}
            for m in models:
                r = table.get((d, m))
                if r is None:
                    continue
                line[m] = "error" if _score(r, first) is None else r[first]
                line[m + " fit s"] = r.get("fit_s")
            wide.append(line)
        cols = ["dataset", "n_train"]
        cols += [(m, f"{m} {first}", ".4f") for m in models]
        cols += [(m + " fit s", f"{m} fit s", ".2f") for m in models]
        out.append(f"### {task}: {first} (mean over splits) and fit time\n")
        out.append(markdown_table(wide, cols))
        detail = [{**r, "error": r.get("error", "")[:60]} for r in task_rows]
        out.append(f"\n### {task}: all metrics\n")
        out.append(
            markdown_table(
                detail,
                [
                    "dataset",
                    "model",
                    (first, first, ".4f"),
                    (first + "_std", "std", ".4f"),
                    (second, second, ".4g"),
                    ("fit_s", "fit s", ".2f"),
                    ("predict_s", "predict s", ".3f"),
                    "error",
                ],
            )
        )
        out.append("")
    wtl = summary["skdl_vs_peer"]
    strict = summary.get("skdl_vs_peer_strict", {})
    if wtl:
        lines = []
        for peer, metrics in wtl.items():
            for metric, c in metrics.items():
                s = strict.get(peer, {}).get(metric, {})
                lines.append(
                    {
                        "peer": peer,
                        "metric": metric,
                        "skdl wins": c["wins"],
                        "ties": c["ties"],
                        "losses": c["losses"],
                        "strict": f"{s.get('wins')} / {s.get('ties')} / "
                        f"{s.get('losses')}",
                    }
                )
        out.append(
            "### skdl against each peer (ties: "
            + _ties_text()
            + "; strict: wins / ties / losses with no margin)\n"
        )
        out.append(
            markdown_table(
                lines, ["peer", "metric", "skdl wins", "ties", "losses", "strict"]
            )
        )
        out.append("")
    norm = summary["median_normalized_score"]
    out.append("### Median normalized score (1 = best model on a dataset, 0 = worst)\n")
    out.append(
        markdown_table(
            [
                {
                    "model": m,
                    "primary": norm.get(m, {}).get("primary"),
                    "secondary": norm.get(m, {}).get("secondary"),
                }
                for m in models
            ],
            [
                "model",
                ("primary", "accuracy / R²", ".3f"),
                ("secondary", "log-loss / RMSE", ".3f"),
            ],
        )
    )
    times = summary.get("fit_time", {})
    if times:
        out.append("\n### Fit time (median over datasets of the mean per split)\n")
        out.append(
            markdown_table(
                [{"model": m, **times[m]} for m in models if m in times],
                [
                    "model",
                    ("median_fit_s", "median fit s", ".2f"),
                    ("ratio_of_medians_to_hgb", "ratio of medians to hgb", ".1f"),
                    ("median_ratio_to_hgb", "median per-dataset ratio", ".1f"),
                ],
            )
        )
    return "\n".join(out)


def _ties_text() -> str:
    return (
        f"accuracy ±{TIES['accuracy']}, log-loss ±{TIES['log_loss']}, "
        f"R² ±{TIES['r2']}, RMSE ±{TIES['rmse_rel']:.0%}"
    )
