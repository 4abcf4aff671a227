"""benchmarks/bench_eval_cost.py end to end on a tiny random model: rows, figures, card, resume.

The tiny model is never right, so the figures it prints mean nothing; what is checked
is that every held-out method is measured both ways, that its row is saved as soon as
it is measured and not measured again on a re-run, that the size sweep reads the build's
run store, and that --attach puts the three figures and the summary on the card of a
dataset that still verifies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = ["snapkv:ratio=0.5", "kivi:bits=4,group=4,residual=8"]


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_eval_cost.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_bench_measures_every_held_out_method_attaches_its_figures_and_resumes(tmp_path, tiny_model_dir):
    from negsamp.build import build
    from negsamp.dataset import verify_dataset
    from negsamp.recipe import load_recipe

    path = write_tiny_recipe(tmp_path / "recipe.yaml", tiny_model_dir, held_out=HELD_OUT,
                             negatives={"per_task": 2, "seed": 0})
    result = build(load_recipe(path), tmp_path / "out", progress=False)
    before = result.manifest.content_hash
    args = ["--recipe", str(path), "--dataset", str(result.dataset_dir), "--work", str(tmp_path / "bench")]
    first = bench(*args, "--attach")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "size sweep" in first.stdout and "negatives + control cost" not in first.stderr
    saved = json.loads((tmp_path / "bench" / "results.json").read_text(encoding="utf-8"))
    assert [r["method"] for r in saved["rows"]] == HELD_OUT
    assert all(len(r["pool_scores"]) == 6 and r["pool_s"] > 0 and r["dataset_s"] > 0 for r in saved["rows"])
    assert [r["cap"] for r in saved["size_sweep"]][-1] is None
    manifest = verify_dataset(result.dataset_dir)
    assert manifest.content_hash != before
    entry = manifest.configs["tiny"]
    assert sum("Evaluation cost" in f.caption or "Rank agreement" in f.caption or "Held-out" in f.caption
               for f in entry.figures) == 3
    assert any(n.startswith("Benchmark (benchmarks/bench_eval_cost.py") for n in entry.notes)

    again = bench(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("measured earlier") == len(HELD_OUT)
