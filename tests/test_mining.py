"""The paper's negative-sample rule (negsamp.mining) and the `negsamp mine` command."""

from __future__ import annotations

import argparse
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negsamp import mining
from negsamp.errors import InputError, UnknownNameError


def table(baseline: dict[str, list[float]], **methods: dict[str, list[float]]) -> pl.DataFrame:
    """A long score table: per task, sample i of each method is sample_id i."""
    rows = []
    for method, per_task in {"none": baseline, **methods}.items():
        for task, scores in per_task.items():
            rows.extend(
                {"task": task, "sample_id": i, "method": method, "score": s} for i, s in enumerate(scores)
            )
    return pl.DataFrame(
        rows, schema={"task": pl.String, "sample_id": pl.Int64, "method": pl.String, "score": pl.Float64}
    )


def shuffled(frame: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


# --------------------------------------------------------------------------- the float64 form

# (b, o, t, negative?) where `not (b * (1 - t) < o)` in float64 disagrees with a rewriting.
BOUNDARY_CASES = [
    (1.0, 0.92, 0.08, True),  # 1.0 * (1 - 0.08) == 0.92 exactly; b - o = 0.07999999999999996 < t * b
    (0.5, 0.45, 0.10, True),  # tie: 0.5 * 0.9 == 0.45 exactly
    (0.7, 0.63, 0.10, True),
    (0.05, 0.046000000000000006, 0.08, True),  # `o <= b - b * t` says no
    (0.1, 0.068, 0.32, False),  # `b - o >= t * b` says yes
    (0.15, 0.114, 0.24, False),  # `o / b <= 1 - t` says yes
]

REWRITINGS = {
    "b - o >= t * b": lambda b, o, t: b - o >= t * b,
    "o <= b - b * t": lambda b, o, t: o <= b - b * t,
    "o / b <= 1 - t": lambda b, o, t: o / b <= 1 - t,
}


@pytest.mark.parametrize("b,o,t,expected", BOUNDARY_CASES)
def test_boundary_cases_follow_the_exact_float64_form(b, o, t, expected):
    assert (not (b * (1 - t) < o)) is expected
    assert any(f(b, o, t) is not expected for f in REWRITINGS.values()), "case would not catch a rewriting"
    scores = table({"task": [b]}, m={"task": [o]})
    result = mining.mine(scores, ["m"], mining.make_rule(t=t))
    assert result.counts.get_column("negatives").to_list() == [int(expected)]


def test_boundary_cases_in_one_sweep_both_paths():
    # One task per case (single-sample tasks: the median is the sample itself, so every sample is good).
    base = {f"c{i}": [b] for i, (b, _, _, _) in enumerate(BOUNDARY_CASES)}
    other = {f"c{i}": [o] for i, (_, o, _, _) in enumerate(BOUNDARY_CASES)}
    scores = table(base, m=other)
    ts = sorted({t for _, _, t, _ in BOUNDARY_CASES})
    for frame in (scores, shuffled(scores)):
        sweep = mining.count_sweep(frame, {"m": ["m"]}, ts)
        for i, (_, _, t, expected) in enumerate(BOUNDARY_CASES):
            row = sweep.filter((pl.col("task") == f"c{i}") & (pl.col("t") == t))
            assert row.get_column("count").to_list() == [int(expected)]


# --------------------------------------------------------------------------- thresholds


def test_median_threshold_is_numpy_median_and_inclusive():
    base = [0.2, 0.4, 0.6, 0.8, 0.5, 0.5]  # even n: median = (0.5 + 0.5) / 2 = 0.5
    scores = table({"a": base}, m={"a": [0.0] * 6})
    thr = mining.thresholds(scores)
    assert thr.get_column("threshold").to_list() == [float(np.median(base))] == [0.5]
    assert thr.get_column("n").to_list() == [6]
    assert thr.get_column("n_good").to_list() == [4]  # 0.6, 0.8 and both 0.5 (inclusive)
    negs = mining.negatives(scores, ["m"])
    assert sorted(negs.get_column("sample_id").to_list()) == [2, 3, 4, 5]


def test_even_count_median_is_average_of_middle_values():
    scores = table({"a": [0.1, 0.3, 0.2, 0.9]}, m={"a": [0.0] * 4})
    assert mining.thresholds(scores).get_column("threshold").item() == (0.2 + 0.3) / 2


def test_mean_threshold_uses_numpy_pairwise_summation():
    # 109 two-decimal scores whose numpy mean is exactly 0.5 while a left-to-right sum
    # (and polars' mean) gives 0.5000000000000003: the two samples scoring 0.5 are
    # baseline-good only under numpy's mean, which the paper's scripts used.
    cents = [60, 73, 58, 17, 65, 93, 74, 50, 48, 75, 87, 76, 5, 36, 6, 5, 13, 98, 82, 33, 19, 31, 64, 42, 7, 53, 16,
             65, 67, 88, 41, 10, 64, 82, 4, 62, 41, 27, 89, 51, 83, 28, 89, 68, 27, 100, 85, 55, 22, 71, 78, 5, 45, 58,
             89, 84, 85, 52, 58, 35, 83, 49, 93, 34, 59, 46, 73, 25, 41, 34, 84, 84, 77, 47, 2, 89, 97, 43, 54, 74, 36,
             1, 96, 43, 40, 30, 15, 15, 52, 59, 40, 14, 15, 41, 3, 74, 31, 29, 63, 50, 75, 20, 9, 63, 27, 28, 21, 16,
             62]  # fmt: skip
    base = [c / 100 for c in cents]
    assert np.mean(base) == 0.5 and sum(base) / len(base) != 0.5
    scores = table({"a": base}, m={"a": [0.0] * len(base)})
    thr = mining.thresholds(scores, statistic="mean")
    assert thr.get_column("threshold").item() == 0.5
    expected_good = sum(b >= 0.5 for b in base)
    assert thr.get_column("n_good").item() == expected_good
    for frame in (scores, shuffled(scores)):
        result = mining.mine(frame, ["m"], mining.make_rule(statistic="mean", t=0.1))
        assert result.counts.get_column("negatives").item() == sum(b >= 0.5 and b > 0 for b in base)


# --------------------------------------------------------------------------- zero median, min_baseline


def zero_median_table() -> pl.DataFrame:
    # passage_count-like: median baseline 0, so 0 -> 0 samples count as negative.
    return table(
        {"count": [0.0, 0.0, 0.0, 0.0, 1.0, 1.0], "qa": [0.2, 0.4, 0.6, 0.8, 1.0, 0.0]},
        m={"count": [0.0, 0.0, 1.0, 0.5, 0.0, 1.0], "qa": [0.0] * 6},
    )


def test_zero_median_task_counts_zero_to_zero_samples_and_warns():
    result = mining.mine(zero_median_table(), ["m"])
    counts = dict(result.counts.select("task", "negatives").iter_rows())
    assert counts == {"count": 3, "qa": 3}  # count: ids 0, 1 (0 -> 0) and 4 (1 -> 0)
    assert (
        len(result.warnings) == 1 and "'count'" in result.warnings[0] and "min_baseline" in result.warnings[0]
    )
    thr = mining.thresholds(zero_median_table())
    assert dict(thr.select("task", "zero_threshold").iter_rows()) == {"count": True, "qa": False}


def test_min_baseline_excludes_zero_baselines_and_is_inclusive():
    rule = mining.make_rule(min_baseline=1e-9)
    result = mining.mine(zero_median_table(), ["m"], rule)
    assert dict(result.counts.select("task", "negatives").iter_rows()) == {"count": 1, "qa": 3}
    assert result.warnings == ()
    # inclusive: b == min_baseline still counts
    result = mining.mine(zero_median_table(), ["m"], mining.make_rule(min_baseline=0.6))
    assert dict(result.counts.select("task", "negatives").iter_rows()) == {"count": 1, "qa": 3}
    result = mining.mine(zero_median_table(), ["m"], mining.make_rule(min_baseline=0.61))
    assert dict(result.counts.select("task", "negatives").iter_rows()) == {"count": 1, "qa": 2}


def test_sweep_warnings_and_min_baseline_in_sweep():
    sweep = mining.count_sweep(zero_median_table(), {"m": ["m"]}, [0.1], ["median", "mean"])
    notes = mining.sweep_warnings(sweep)
    assert len(notes) == 1 and "median" in notes[0] and "'count'" in notes[0]
    guarded = mining.count_sweep(zero_median_table(), {"m": ["m"]}, [0.1], min_baseline=0.01)
    assert dict(guarded.select("task", "count").iter_rows()) == {"count": 1, "qa": 3}
    assert mining.sweep_warnings(guarded, 0.01) == []


# --------------------------------------------------------------------------- modes and outputs


def two_method_table() -> pl.DataFrame:
    return table(
        {"a": [1.0, 1.0, 1.0, 1.0, 0.0]},
        x={"a": [0.0, 0.0, 1.0, 1.0, 0.0]},
        y={"a": [0.0, 1.0, 0.0, 1.0, 0.0]},
    )


def test_intersection_and_union():
    scores = two_method_table()
    assert mining.negatives(scores, ["x", "y"], mode="all").get_column("sample_id").to_list() == [0]
    assert mining.negatives(scores, ["x", "y"], mode="any").get_column("sample_id").to_list() == [0, 1, 2]


def test_negatives_frame_layout():
    negs = mining.negatives(two_method_table(), ["x", "y"], mode="any")
    assert negs.columns == ["task", "sample_id", "baseline_score", "threshold", "x", "y"]
    assert negs.row(1, named=True) == {
        "task": "a",
        "sample_id": 1,
        "baseline_score": 1.0,
        "threshold": 1.0,
        "x": 0.0,
        "y": 1.0,
    }


def test_sample_flags():
    flags = mining.sample_flags(two_method_table(), ["x", "y"])
    assert flags.columns == [
        "task", "sample_id", "baseline_score", "threshold", "good", "neg:x", "neg:y", "negative", "x", "y",
    ]  # fmt: skip
    assert flags.get_column("good").to_list() == [True, True, True, True, False]
    assert flags.get_column("neg:x").to_list() == [True, True, False, False, False]
    assert flags.get_column("negative").to_list() == [True, False, False, False, False]


def test_count_sweep_matches_mine_for_every_setting():
    scores = pl.concat([zero_median_table(), table({}, n={"count": [0.5] * 6, "qa": [0.3] * 6})])
    sets = {"m": ["m"], "n": ["n"], "m+n": ["m", "n"]}
    ts = [0.0, 0.1, 0.5, 1.0]
    for mode in ("all", "any"):
        sweep = mining.count_sweep(scores, sets, ts, ["median", "mean"], mode=mode)
        assert sweep.columns == ["statistic", "method_set", "t", "task", "threshold", "count"]
        assert sweep.height == 2 * 3 * 4 * 2
        for row in sweep.iter_rows(named=True):
            rule = mining.make_rule(t=row["t"], statistic=row["statistic"], mode=mode)
            counts = mining.mine(scores, sets[row["method_set"]], rule).counts
            assert counts.filter(pl.col("task") == row["task"]).get_column("negatives").item() == row["count"]


def test_mining_rule_records_every_field():
    schema = mining.MiningRule.model_json_schema()
    for field in ("version", "baseline", "statistic", "t", "mode", "min_baseline"):
        assert schema["properties"][field].get("description"), field
    rule = mining.MiningRule()
    assert (rule.version, rule.statistic, rule.t, rule.mode, rule.min_baseline) == (
        1,
        "median",
        0.10,
        "all",
        None,
    )
    assert mining.MiningRule.model_validate_json(rule.model_dump_json()) == rule


# --------------------------------------------------------------------------- errors


def test_error_missing_columns():
    with pytest.raises(InputError, match="lacks column.*score"):
        mining.negatives(pl.DataFrame({"task": ["a"], "sample_id": [0], "method": ["none"]}), ["m"])


def test_error_nan_and_out_of_range_and_null():
    good = table({"a": [0.5, 0.5]}, m={"a": [0.2, 0.3]})
    nan = good.with_columns(
        pl.when(pl.col("method") == "m").then(float("nan")).otherwise(pl.col("score")).alias("score")
    )
    with pytest.raises(InputError, match="NaN"):
        mining.negatives(nan, ["m"])
    high = good.with_columns(
        pl.when(pl.col("method") == "m").then(1.5).otherwise(pl.col("score")).alias("score")
    )
    with pytest.raises(InputError, match=r"outside \[0, 1\].*method='m'"):
        mining.negatives(high, ["m"])
    null = good.with_columns(
        pl.when(pl.col("method") == "m").then(None).otherwise(pl.col("score")).alias("score")
    )
    with pytest.raises(InputError, match="null"):
        mining.negatives(null, ["m"])


def test_problems_in_other_methods_rows_are_ignored():
    scores = pl.concat(
        [
            table({"a": [0.5, 0.5]}, m={"a": [0.2, 0.3]}),
            pl.DataFrame(
                {"task": ["a"], "sample_id": [0], "method": ["junk"], "score": [None]},
                schema={"task": pl.String, "sample_id": pl.Int64, "method": pl.String, "score": pl.Float64},
            ),
        ]
    )
    assert mining.negatives(scores, ["m"]).height == 2


def test_error_duplicates():
    scores = table({"a": [0.5, 0.5]}, m={"a": [0.2, 0.3]})
    dup = pl.concat([scores, scores.filter(pl.col("method") == "m").head(1)])
    for frame in (dup, shuffled(dup)):
        with pytest.raises(InputError, match="duplicate.*task='a', sample_id=0, method='m'"):
            mining.negatives(frame, ["m"])


def test_error_method_lacks_samples_or_has_extra():
    scores = table({"a": [0.5, 0.5, 0.5], "b": [1.0]}, m={"a": [0.2, 0.3]})
    with pytest.raises(
        InputError, match=r"method 'm' has no score for samples the baseline.*task='a', sample_id=2"
    ):
        mining.negatives(scores, ["m"])
    scores = table({"a": [0.5]}, m={"a": [0.2, 0.3]})
    with pytest.raises(InputError, match=r"baseline 'none' has no score.*method 'm'.*sample_id=1"):
        mining.negatives(scores, ["m"])
    scores = table({"a": [0.5]}, m={"a": [0.2], "b": [0.1]})
    with pytest.raises(InputError, match=r"baseline 'none' has no score.*task='b'"):
        mining.negatives(scores, ["m"])


def test_error_unknown_names():
    scores = table({"a": [0.5]}, m={"a": [0.2]})
    with pytest.raises(UnknownNameError, match="method 'zz'.*m, none"):
        mining.negatives(scores, ["zz"])
    with pytest.raises(UnknownNameError, match="baseline 'ref'"):
        mining.negatives(scores, ["m"], baseline="ref")
    with pytest.raises(UnknownNameError, match="statistic 'mode'"):
        mining.negatives(scores, ["m"], statistic="mode")
    with pytest.raises(UnknownNameError, match="mode 'some'"):
        mining.negatives(scores, ["m"], mode="some")


def test_error_bad_arguments():
    scores = table({"a": [0.5]}, m={"a": [0.2]})
    with pytest.raises(InputError, match="outside"):
        mining.negatives(scores, ["m"], t=10)
    with pytest.raises(InputError, match="min_baseline"):
        mining.negatives(scores, ["m"], min_baseline=-1)
    with pytest.raises(InputError, match="no compared methods"):
        mining.negatives(scores, [])
    with pytest.raises(InputError, match="also listed"):
        mining.negatives(scores, ["m", "none"])
    with pytest.raises(InputError, match="must be numeric"):
        mining.negatives(scores.with_columns(pl.col("score").cast(pl.String)), ["m"])


def test_string_sample_ids_and_categorical_columns():
    scores = table({"a": [0.9, 0.1, 0.5]}, m={"a": [0.0, 0.0, 0.5]}).with_columns(
        pl.format("s{}", pl.col("sample_id")).alias("sample_id"), pl.col("task").cast(pl.Categorical)
    )
    negs = mining.negatives(shuffled(scores), ["m"])
    assert negs.get_column("sample_id").to_list() == ["s0"]


# --------------------------------------------------------------------------- properties

SPECIAL = [0.0, 1.0, 0.92, 0.9, 0.5, 0.45, 0.63, 0.7, 0.068, 0.1]
score_value = st.one_of(st.sampled_from(SPECIAL), st.floats(0.0, 1.0, allow_nan=False))


@st.composite
def score_tables(draw):
    n_tasks = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 12)) for _ in range(n_tasks)]

    def scores_for():
        return {f"t{i}": draw(st.lists(score_value, min_size=n, max_size=n)) for i, n in enumerate(sizes)}

    frame = table(scores_for(), x=scores_for(), y=scores_for(), z=scores_for())
    return shuffled(frame, draw(st.integers(0, 3))) if draw(st.booleans()) else frame


TS = [0.0, 0.01, 0.02, 0.04, 0.08, 0.1, 0.16, 0.24, 0.32, 0.5, 1.0]
SETS = {"x": ["x"], "y": ["y"], "z": ["z"], "x+y": ["x", "y"], "x+y+z": ["x", "y", "z"]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(score_tables(), st.sampled_from(["median", "mean"]), st.sampled_from([None, 0.0, 0.3]))
def test_property_counts_never_grow_with_t(scores, statistic, min_baseline):
    for mode in ("all", "any"):
        sweep = mining.count_sweep(scores, SETS, TS, [statistic], mode=mode, min_baseline=min_baseline)
        per = sweep.sort("t").group_by("method_set", "task", maintain_order=True).agg(pl.col("count"))
        for counts in per.get_column("count").to_list():
            assert all(a >= b for a, b in zip(counts, counts[1:]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(score_tables(), st.sampled_from(TS), st.sampled_from(["median", "mean"]))
def test_property_intersection_within_each_within_union(scores, t, statistic):
    def ids(methods, mode):
        negs = mining.negatives(scores, methods, t=t, statistic=statistic, mode=mode)
        return set(negs.select("task", "sample_id").iter_rows())

    both = ids(["x", "y", "z"], "all")
    either = ids(["x", "y", "z"], "any")
    singles = [ids([m], "all") for m in ("x", "y", "z")]
    assert singles == [ids([m], "any") for m in ("x", "y", "z")]
    for single in singles:
        assert both <= single <= either
    assert both == set.intersection(*singles)
    assert either == set.union(*singles)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(score_tables(), st.sampled_from(TS), st.sampled_from(["median", "mean"]))
def test_property_matches_a_per_sample_loop(scores, t, statistic):
    func = np.median if statistic == "median" else np.mean
    expected = set()
    ordered = scores.sort("task", "sample_id")
    for task in ordered.get_column("task").unique().to_list():
        rows = ordered.filter(pl.col("task") == task)
        b = rows.filter(pl.col("method") == "none").get_column("score").to_list()
        xs = rows.filter(pl.col("method") == "x").get_column("score").to_list()
        ys = rows.filter(pl.col("method") == "y").get_column("score").to_list()
        thr = func(b)
        for i in range(len(b)):
            if b[i] >= thr and not (b[i] * (1 - t) < xs[i]) and not (b[i] * (1 - t) < ys[i]):
                expected.add((task, i))
    negs = mining.negatives(scores, ["x", "y"], t=t, statistic=statistic)
    assert set(negs.select("task", "sample_id").iter_rows()) == expected


# --------------------------------------------------------------------------- `negsamp mine`


def run_cli(argv: list[str]) -> int:
    from negsamp.cli import mine

    parser = argparse.ArgumentParser(prog="negsamp")
    mine.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_mine_cli_parquet(tmp_path, capsys):
    src = tmp_path / "scores.parquet"
    two_method_table().write_parquet(src)
    out = tmp_path / "neg.parquet"
    assert run_cli(["mine", str(src), "--methods", "x,y", "--mode", "any", "-o", str(out)]) == 0
    assert pl.read_parquet(out).get_column("sample_id").to_list() == [0, 1, 2]
    text = capsys.readouterr().out
    assert "TOTAL" in text and "mode=any" in text


def test_mine_cli_jsonl_sweep_and_warning(tmp_path, capsys):
    src = tmp_path / "scores.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in zero_median_table().iter_rows(named=True)) + "\n")
    out = tmp_path / "sweep.parquet"
    assert run_cli(["mine", str(src), "--methods", "m", "--sweep", "0.01,0.1,0.5", "-o", str(out)]) == 0
    sweep = pl.read_parquet(out)
    assert sorted(set(sweep.get_column("t").to_list())) == [0.01, 0.1, 0.5]
    captured = capsys.readouterr()
    assert "warning" in captured.err and "'count'" in captured.err
    assert "t=0.1" in captured.out


def test_mine_cli_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_cli(["mine", str(tmp_path / "none.parquet"), "--methods", "m", "-o", str(tmp_path / "o.parquet")])
    src = tmp_path / "scores.parquet"
    two_method_table().write_parquet(src)
    with pytest.raises(InputError, match=r"\.parquet or \.jsonl"):
        run_cli(["mine", str(src), "--methods", "x", "-o", str(tmp_path / "o.csv")])
    with pytest.raises(InputError, match="--sweep"):
        run_cli(["mine", str(src), "--methods", "x", "--sweep", "a,b", "-o", str(tmp_path / "o.parquet")])
    assert not (tmp_path / "o.parquet").exists()
