"""scripts/gpu_check.sh's CPU-runnable parts: the shell script parses, the 8B config is the
Llama-3.1-8B shape, a config-only model runs `throughput`, and gpu_report.py writes both tables."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "leaderboard" / "releases" / "negsamp-tiny-0.1.0"


def gpu_report():
    spec = importlib.util.spec_from_file_location("gpu_report", ROOT / "scripts" / "gpu_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_parses_and_refuses_unknown_options():
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")]).returncode == 0
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


def test_llama31_8b_config_has_the_real_shape():
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(ROOT / "scripts" / "llama31_8b_config.json")
    assert (config.num_hidden_layers, config.hidden_size, config.num_key_value_heads, config.head_dim) == (32, 4096, 8, 128)
    assert config.vocab_size == 128256 and config.intermediate_size == 14336
    # 128 KiB of bf16 KV per token, as Llama-3.1-8B holds
    assert config.num_hidden_layers * 2 * config.num_key_value_heads * config.head_dim * 2 == 128 * 1024


def test_report_compares_builds_and_tabulates_throughput(tmp_path):
    from negsamp.throughput import measure_throughput, write_throughput

    report = measure_throughput(str(ROOT / "scripts" / "tiny_llama_config.json"), "streamingllm:budget=16",
                                batch_sizes=[1, 2], prompt_len=32, gen_len=2, repeats=1, warmup=0, device="cpu")
    assert report.dtype == "float32" and report.results[1].method is not None  # StreamingLLM batches now
    write_throughput(report, tmp_path / "tp")
    out = tmp_path / "gpu_check.md"
    assert gpu_report().main(["--release", str(RELEASE), "--built", str(RELEASE), "--throughput",
                              str(tmp_path / "tp"), "--hbm", "1e11", "--out", str(out)]) == 0
    text = out.read_text()
    assert "10 agree, 0 only in the release, 0 only in the build" in text
    assert "baseline predictions identical on 13/13" in text
    rows = [line for line in text.splitlines() if line.startswith("| 32 |")]
    assert len(rows) == 4 and sum("`none`" in r for r in rows) == 2
    assert all(r.split("|")[-2].strip() != "-" for r in rows)  # the HBM roofline column is filled
