"""negsamp.throughput: structure, interleaving, ratios of medians, end-to-end formula, errors.

A tiny random-weight Llama stands in for the real model (load_model is monkeypatched);
no test asserts a timing, only how timings are combined.
"""

from __future__ import annotations

import json
import statistics

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from negsamp import models  # noqa: E402
from negsamp import throughput as tp  # noqa: E402
from negsamp.cli import main  # noqa: E402
from negsamp.errors import InputError, UnknownNameError  # noqa: E402
from negsamp.throughput import for_report, primitives  # noqa: E402

SPECIAL = [0, 1, 2]


class TinyTokenizer:
    """Just what the throughput run reads from a tokenizer."""

    all_special_ids = SPECIAL

    def __len__(self) -> int:
        return 128


@pytest.fixture(autouse=True)
def small_bandwidth_copy(monkeypatch):
    """A 4 MiB copy is enough to exercise the bandwidth measurement in tests."""
    monkeypatch.setattr(primitives, "BANDWIDTH_BYTES_CPU", 4 * 2**20)


@pytest.fixture
def tiny_model(monkeypatch):
    """Monkeypatch `load_model` to build a tiny random Llama; records the calls."""
    from transformers import LlamaConfig, LlamaForCausalLM

    calls = []

    def fake_load_model(name, *, attn_implementation=None, dtype=None, device="auto"):
        calls.append({"name": name, "attn_implementation": attn_implementation})
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            bos_token_id=1, eos_token_id=2, pad_token_id=0,
        )
        model = LlamaForCausalLM._from_config(config, attn_implementation=attn_implementation or "sdpa",
                                              dtype=dtype if isinstance(dtype, torch.dtype) else torch.float32)
        return model.eval(), TinyTokenizer()

    monkeypatch.setattr(models, "load_model", fake_load_model)
    return calls


@pytest.fixture
def no_model(monkeypatch):
    """load_model must not be called: input errors come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(models, "load_model", refuse)


def lengths(method="streamingllm:ratio=0.5,budget=0,sink=4,compress=context", model="tiny"):
    return tp.OutputLengths(source="test", model=model, method=method, samples=2,
                            baseline_output_tokens_mean=5.0, method_output_tokens_mean=15.0)


# --------------------------------------------------------------------------- the full run


PYRAMID_SPEC = ("pyramidkv:ratio=0.5,budget=0,variant=paper,window=8,pool=max,kernel=7,beta=20,gqa=mean,"
                "compress=context+question")
"""The canonical form of "pyramidkv:ratio=0.5" (every default written out)."""


def test_structure_interleaving_and_skipped_batch_sizes(tiny_model, tmp_path):
    report = tp.measure_throughput(
        "tiny", "pyramidkv:ratio=0.5", batch_sizes="2,1", prompt_len=24, gen_len=4,
        repeats=3, warmup=1, lengths_report=lengths(method=PYRAMID_SPEC),
    )
    assert report.version == tp.THROUGHPUT_VERSION == 2
    assert report.method == PYRAMID_SPEC
    assert report.batch_sizes == [1, 2]
    assert tiny_model == [{"name": "tiny", "attn_implementation": None}]  # one model for both sides

    # PyramidKV does not batch: measured at 1 only, the reason is recorded.
    one, two = report.results
    assert one.method is not None and one.ratios is not None and one.skipped is None
    assert two.method is None and two.ratios is None and two.end_to_end is None
    assert two.skipped.startswith("the method does not batch")
    assert any("batch size 1 only" in note for note in report.notes)

    # Warm-ups first, then repeats; within a repeat each batch size in turn, the side
    # order alternating between repeats; the method never runs at batch size 2.
    order = [(r.warmup, r.repeat, r.batch_size, r.side) for r in report.runs]
    assert order == [
        (True, 0, 1, "baseline"), (True, 0, 1, "method"), (True, 0, 2, "baseline"),
        (False, 0, 1, "baseline"), (False, 0, 1, "method"), (False, 0, 2, "baseline"),
        (False, 1, 1, "method"), (False, 1, 1, "baseline"), (False, 1, 2, "baseline"),
        (False, 2, 1, "baseline"), (False, 2, 1, "method"), (False, 2, 2, "baseline"),
    ]
    assert [r.index for r in report.runs] == list(range(len(report.runs)))

    # Eviction halves the prompt's KV; the baseline's grows by gen_len - 1 tokens.
    assert one.method.kv_bytes_prefill < one.baseline.kv_bytes_prefill
    assert one.ratios.kv_bytes_prefill == pytest.approx(
        one.method.kv_bytes_prefill / one.baseline.kv_bytes_prefill)
    per_token = 2 * 2 * 2 * 16 * 4  # layers x (k, v) x kv heads x head dim x float32
    assert one.baseline.kv_bytes_prefill == 24 * per_token
    assert two.baseline.kv_bytes_prefill == 2 * 24 * per_token

    # Figures come from the measured (non-warm-up) runs only.
    measured = [r for r in report.runs if not r.warmup and r.batch_size == 1 and r.side == "method"]
    assert one.method.ttft_s.n == 3
    assert one.method.ttft_s.median == statistics.median(r.ttft_s for r in measured)
    assert one.method.tpot_s.median == pytest.approx(statistics.median(r.decode_s / 3 for r in measured))
    assert one.method.decode_tok_s.median == pytest.approx(statistics.median(3 / r.decode_s for r in measured))
    assert one.method.prefill_tok_s.median == pytest.approx(statistics.median(24 / r.prefill_s for r in measured))
    for r in report.runs:
        assert r.prefill_s > 0 and r.ttft_s >= r.prefill_s and r.decode_s > 0
        assert r.peak_mem_bytes >= 0 and r.peak_mem_total_bytes > 0

    # Ratios of the medians; end to end from TTFT + (L - 1) x TPOT.
    assert one.ratios.decode_tok_s == one.method.decode_tok_s.median / one.baseline.decode_tok_s.median
    e = one.end_to_end
    assert e is not None
    assert e.baseline_request_s == pytest.approx(one.baseline.ttft_s.median + 4 * one.baseline.tpot_s.median)
    assert e.method_request_s == pytest.approx(one.method.ttft_s.median + 14 * one.method.tpot_s.median)
    assert e.end_to_end_speedup == pytest.approx(e.baseline_request_s / e.method_request_s)
    assert e.decode_speedup == one.ratios.decode_tok_s
    assert e.output_length_ratio == 3.0

    # Roofline: bandwidth / (weights + mean KV) x batch.
    assert report.weight_bytes == sum(p.numel() * 4 for p in set(_params()))
    b = one.baseline
    assert b.bytes_per_decode_step == report.weight_bytes + (b.kv_bytes_prefill + b.kv_bytes_end) / 2
    assert b.roofline_decode_tok_s == pytest.approx(report.bandwidth.bytes_per_s / b.bytes_per_decode_step)
    assert b.roofline_fraction == pytest.approx(b.decode_tok_s.median / b.roofline_decode_tok_s)
    assert report.bandwidth.bytes_per_s == max(report.bandwidth.samples_bytes_per_s) > 0

    assert report.summary.startswith("method/baseline batch 1: decode x")
    assert "end-to-end x" in report.summary

    # Writes JSON that reads back, the table and the plot.
    paths = tp.write_throughput(report, tmp_path / "out")
    assert tp.load_throughput(paths["json"]) == report
    table = paths["table"].read_text()
    assert "ratio" in table and "skipped" in table and "end to end" in table
    assert paths["plot"].read_bytes().startswith(b"\x89PNG")


def _params():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return list(LlamaForCausalLM(config).parameters())


def test_batching_method_runs_every_batch_size(tiny_model):
    report = tp.measure_throughput("tiny", "none", batch_sizes=[1, 2], prompt_len=8, gen_len=2,
                                   repeats=2, warmup=0)
    assert [r.batch_size for r in report.results] == [1, 2]
    assert all(r.method is not None and r.skipped is None for r in report.results)
    assert not report.notes
    order = [(r.repeat, r.batch_size, r.side) for r in report.runs]
    assert order == [(0, 1, "baseline"), (0, 1, "method"), (0, 2, "baseline"), (0, 2, "method"),
                     (1, 1, "method"), (1, 1, "baseline"), (1, 2, "method"), (1, 2, "baseline")]
    # The same method on both sides holds the same KV.
    assert all(r.ratios.kv_bytes_end == 1.0 for r in report.results)


EAGER_METHOD = "press:cls=kvpress:ObservedAttentionPress,attn=eager,compression_ratio=0.25"
"""A method that truly needs eager attention: kvpress's ObservedAttentionPress reads the attention weights."""


def test_eager_method_and_sdpa_baseline(tiny_model):
    threads = torch.get_num_threads()
    report = tp.measure_throughput("tiny", EAGER_METHOD, batch_sizes=[1], prompt_len=16, gen_len=2,
                                   repeats=1, warmup=0, threads=1)
    assert report.device == "cpu (1 threads)"
    assert torch.get_num_threads() == threads  # put back
    assert tiny_model == [{"name": "tiny", "attn_implementation": "eager"}]
    assert report.attn_method == "eager" and report.attn_baseline == "sdpa"
    assert any("sdpa" in note for note in report.notes)


def test_synthetic_prompt_avoids_special_tokens_and_is_seeded(tiny_model):
    model, tokenizer = models.load_model("tiny")
    a = tp.synthetic_prompt(tokenizer, model, 3, 500, seed=7)
    assert a.shape == (3, 500)
    assert not set(a.flatten().tolist()) & set(SPECIAL)
    assert int(a.max()) < 128
    assert torch.equal(a, tp.synthetic_prompt(tokenizer, model, 3, 500, seed=7))
    assert not torch.equal(a, tp.synthetic_prompt(tokenizer, model, 3, 500, seed=8))


# --------------------------------------------------------------------------- figures from records


def _record(i, side, prefill, ttft, decode, *, batch=2, kv=(100, 120), mem=1000):
    return tp.RunRecord(index=i, warmup=False, repeat=i, batch_size=batch, side=side, prefill_s=prefill,
                        ttft_s=ttft, decode_s=decode, kv_bytes_prefill=kv[0], kv_bytes_end=kv[1],
                        peak_mem_bytes=mem, peak_mem_total_bytes=mem * 10)


def test_ratios_are_ratios_of_medians():
    base = [_record(0, "baseline", 1.0, 1.1, 2.0), _record(1, "baseline", 3.0, 3.3, 8.0),
            _record(2, "baseline", 2.0, 2.2, 4.0)]
    meth = [_record(0, "method", 1.0, 1.5, 1.0, kv=(50, 70), mem=500),
            _record(1, "method", 9.0, 9.0, 2.0, kv=(50, 70), mem=700),
            _record(2, "method", 2.0, 2.0, 16.0, kv=(50, 70), mem=600)]
    kwargs = {"prompt_len": 10, "gen_len": 5, "weights": 1000, "bandwidth": 1e6}
    b, m = tp.side_figures(base, **kwargs), tp.side_figures(meth, **kwargs)
    # decode tok/s = batch x (gen_len - 1) / decode_s: baseline 4, 1, 2 -> median 2; method 8, 4, 0.5 -> 4
    assert b.decode_tok_s.median == 2.0 and m.decode_tok_s.median == 4.0
    assert (b.decode_tok_s.min, b.decode_tok_s.max) == (1.0, 4.0)
    assert b.tpot_s.median == 1.0  # 4 / 4
    assert b.prefill_tok_s.median == 10.0  # 2 x 10 / 2
    assert b.ttft_s.q1 == pytest.approx(1.65) and b.ttft_s.q3 == pytest.approx(2.75)
    q = tp.ratios(m, b)
    assert q.decode_tok_s == 2.0
    assert q.ttft_s == 2.0 / 2.2
    assert q.tpot_s == 0.5
    assert q.peak_mem_bytes == 0.6
    assert q.kv_bytes_prefill == 0.5 and q.kv_bytes_end == 70 / 120
    assert b.bytes_per_decode_step == 1110 and m.bytes_per_decode_step == 1060
    assert b.roofline_decode_tok_s == pytest.approx(1e6 / 1110 * 2)
    assert q.roofline_fraction == pytest.approx((4.0 / (1e6 / 1060 * 2)) / (2.0 / (1e6 / 1110 * 2)))


def test_end_to_end_formula_and_floor():
    base = tp.side_figures([_record(0, "baseline", 1.0, 0.5, 4.0, batch=1)], prompt_len=10, gen_len=5,
                           weights=1, bandwidth=1.0)  # TTFT 0.5, TPOT 1.0
    meth = tp.side_figures([_record(0, "method", 1.0, 0.5, 2.0, batch=1)], prompt_len=10, gen_len=5,
                           weights=1, bandwidth=1.0)  # TTFT 0.5, TPOT 0.5
    e = tp.end_to_end(meth, base, lengths())  # L_b = 5, L_m = 15
    assert e.baseline_request_s == 0.5 + 4 * 1.0
    assert e.method_request_s == 0.5 + 14 * 0.5
    assert e.decode_speedup == 2.0  # twice as fast per token ...
    assert e.end_to_end_speedup == pytest.approx(4.5 / 7.5)  # ... but slower per request
    assert e.request_time_ratio == pytest.approx(7.5 / 4.5)
    assert tp.request_seconds(base, 0.0) == 0.5  # an empty output costs the first token only


def test_output_lengths_from_an_evaluation_report(tmp_path):
    from negsamp.evaluator import EvaluationReport, SampleResult

    def sample(i, out, base):
        return SampleResult.model_construct(sample_id=str(i), output_tokens=out, baseline_output_tokens=base)

    report = EvaluationReport.model_construct(model="m", method="kivi:bits=2,group=32,residual=128",
                                              source="method", samples=[sample(0, 10, 4), sample(1, 20, 6)])
    got = tp.output_lengths(report, "r")
    assert (got.samples, got.baseline_output_tokens_mean, got.method_output_tokens_mean) == (2, 5.0, 15.0)
    report.samples = [sample(0, None, 4)]
    with pytest.raises(InputError, match="no method output lengths"):
        tp.output_lengths(report, "r")


def test_stat_of_one_value():
    s = tp.Stat.of([3.0])
    assert (s.median, s.min, s.max, s.q1, s.q3, s.n) == (3.0, 3.0, 3.0, 3.0, 3.0, 1)


def test_peak_memory_sees_an_allocation():
    with tp.PeakMemory(torch.device("cpu")) as memory:
        block = torch.ones(16 * 2**20)  # 64 MiB, written
        import time

        time.sleep(0.05)
        del block
    assert memory.increase >= 32 * 2**20


def test_bandwidth_is_positive():
    bw = tp.measure_bandwidth("cpu", nbytes=2**20, repeats=2)
    assert bw.copy_bytes == 2**20 and len(bw.samples_bytes_per_s) == 2 and bw.bytes_per_s > 0


# --------------------------------------------------------------------------- errors before loading


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_sizes": [0]}, "must be >= 1"),
        ({"batch_sizes": "1,x"}, "not an integer"),
        ({"batch_sizes": ""}, "at least one"),
        ({"prompt_len": 0}, "prompt_len"),
        ({"gen_len": 1}, "gen_len"),
        ({"repeats": 0}, "repeats"),
        ({"warmup": -1}, "warmup"),
        ({"lengths_report": "/nonexistent/report.json"}, "not found"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "int8"}, "dtype"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_input_fails_before_loading(no_model, kwargs, match):
    with pytest.raises(InputError, match=match):
        tp.measure_throughput("tiny", "none", **kwargs)


def test_unknown_method_fails_before_loading(no_model):
    with pytest.raises(UnknownNameError, match="unknown method"):
        tp.measure_throughput("tiny", "nosuchmethod")


def test_lengths_file_that_is_not_a_report(no_model, tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputError, match="not an evaluation report"):
        tp.measure_throughput("tiny", "none", lengths_report=bad)
    bad.write_text("{")
    with pytest.raises(InputError, match="not a JSON"):
        tp.measure_throughput("tiny", "none", lengths_report=bad)


def test_too_long_for_the_model(tiny_model):
    with pytest.raises(InputError, match="exceeds the model's 256 positions"):
        tp.measure_throughput("tiny", "none", prompt_len=250, gen_len=10)


def test_measure_for_report_needs_a_method_run():
    from negsamp.evaluator import EvaluationReport

    report = EvaluationReport.model_construct(model="m", method="predictions:x.jsonl", source="predictions")
    with pytest.raises(InputError, match="needs a method"):
        tp.measure_for_report(report)


def test_measure_for_report_uses_the_reports_method_and_lengths(tiny_model, monkeypatch):
    from negsamp.evaluator import EvaluationReport, SampleResult

    monkeypatch.setattr(for_report, "REPORT_PROMPT_LEN", 16)
    monkeypatch.setattr(for_report, "REPORT_GEN_LEN", 3)
    monkeypatch.setattr(for_report, "REPORT_REPEATS", 1)
    samples = [SampleResult.model_construct(sample_id="a", output_tokens=8, baseline_output_tokens=4)]
    report = EvaluationReport.model_construct(model="tiny", method="none", source="method", samples=samples)
    got = tp.measure_for_report(report, progress=False)
    assert isinstance(got, tp.AttachedThroughput) and got.version == tp.THROUGHPUT_VERSION
    assert got.method == "none" and got.model == "tiny"
    assert got.batch_sizes == [1, 4]
    assert got.lengths.method_output_tokens_mean == 8.0
    assert got.results[0].end_to_end.output_length_ratio == 2.0
    assert "ratio" in got.table and got.summary.startswith("method/baseline") and got.ratio > 0
    assert tp.AttachedThroughput.model_validate_json(got.model_dump_json()) == got


def test_measure_for_report_takes_shorter_settings(tiny_model, monkeypatch):
    """`evaluate --throughput-batch-sizes 1 --throughput-prompt-len N --throughput-repeats R` (the seed script's
    THROUGHPUT=1): only what the leaderboard shows, batch size 1."""
    from negsamp.evaluator import EvaluationReport, SampleResult

    monkeypatch.setattr(for_report, "REPORT_GEN_LEN", 3)
    samples = [SampleResult.model_construct(sample_id="a", output_tokens=4, baseline_output_tokens=4)]
    report = EvaluationReport.model_construct(model="tiny", method="knorm:ratio=0.5", source="method",
                                              samples=samples)
    got = tp.measure_for_report(report, progress=False, batch_sizes=[1], prompt_len=16, repeats=1)
    assert got.batch_sizes == [1] and got.prompt_len == 16 and got.repeats == 1 and got.ratio > 0


def test_evaluate_throughput_options_need_throughput(tmp_path, capsys):
    rc = main(["evaluate", "--dataset", str(tmp_path), "--method", "none", "--out", str(tmp_path / "o"),
               "--throughput-batch-sizes", "1"])
    assert rc != 0 and "--throughput-batch-sizes only apply with --throughput" in capsys.readouterr().err
    rc = main(["evaluate", "--dataset", str(tmp_path), "--method", "none", "--out", str(tmp_path / "o"),
               "--throughput", "--throughput-batch-sizes", "0"])
    assert rc != 0 and "batch size 0 must be >= 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- CLI


def test_cli_writes_outputs_and_prints_the_table(tiny_model, tmp_path, capsys):
    out = tmp_path / "tp"
    rc = main(["throughput", "--model", "tiny", "--method", "knorm:ratio=0.5", "--batch-sizes", "1",
               "--prompt-len", "16", "--gen-len", "3", "--repeats", "1", "--warmup", "0",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ratio" in printed and "wall time" in printed
    assert {p.name for p in out.iterdir()} == {"throughput.json", "throughput.txt", "throughput.png"}
    data = json.loads((out / "throughput.json").read_text())
    assert data["method"].startswith("knorm:ratio=0.5")


def test_cli_bad_batch_size_is_one_line(no_model, tmp_path, capsys):
    rc = main(["throughput", "--method", "none", "--batch-sizes", "1,0", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.strip() == "negsamp throughput: error: batch size 0 must be >= 1"
    assert not any(tmp_path.iterdir())
