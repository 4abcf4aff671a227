"""`negsamp build` end to end on a tiny random model saved as a local folder.

The tiny model answers nothing right, so every baseline score is 0, the median
threshold is 0, and (paper rule, no min_baseline) every sample the methods also
get wrong is "negative": enough to exercise the whole pipeline, determinism and
kill-and-resume in seconds. The real model's build is `make demo`.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_tiny_recipe as write_recipe

from negsamp.errors import InputError
from negsamp.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def negsamp(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "negsamp", *args], cwd=ROOT, capture_output=True,
                          text=True, **kwargs)


def parquet_bytes(out: Path) -> dict[str, bytes]:
    data = out / "dataset" / "data"
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir):
    from negsamp.build import build

    base = tmp_path_factory.mktemp("build")
    recipe = load_recipe(write_recipe(base / "recipe.yaml", tiny_model_dir))
    return recipe, build(recipe, base / "out", progress=False)


def test_build_writes_a_loadable_dataset(built, monkeypatch, tmp_path):
    import datasets

    recipe, result = built
    splits = result.manifest.configs["tiny"].splits
    assert splits["negative"].rows > 0
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    ds = datasets.load_dataset(str(result.dataset_dir), "tiny", split="negative")
    assert len(ds) == splits["negative"].rows
    row = ds[0]
    from negsamp.methods import parse_method

    assert [m["method"] for m in row["methods"]] == [parse_method(s).spec for s in recipe.methods]
    assert isinstance(row["answers"], list) and isinstance(row["answers"][0], str)
    # Rows carry measured KV bytes: KIVI 2-bit must hold fewer than the baseline.
    kivi = row["methods"][1]
    assert 0 < kivi["kv_bytes_prefill"] < row["baseline"]["kv_bytes_prefill"]


def test_card_states_the_rule_and_counts(built):
    _, result = built
    card = (result.dataset_dir / "README.md").read_text(encoding="utf-8")
    assert "not (b * (1 - t) < o)" in card or "not (b*(1-t) < o)" in card
    assert "passkey" in card and "kv_retrieval" in card
    assert (result.dataset_dir / "manifest.json").is_file()
    generation = result.manifest.configs["tiny"].generation
    assert (generation["device"], generation["dtype"]) == ("cpu", "float32")  # what really ran


def test_rebuilding_from_the_store_is_byte_identical_without_generating(built, tmp_path, tiny_model_dir):
    from negsamp.build import build

    recipe, first = built
    out = first.dataset_dir.parent
    before = parquet_bytes(out)
    again = build(recipe, out, progress=False)
    assert parquet_bytes(out) == before
    assert again.manifest.content_hash == first.manifest.content_hash


def test_a_negatives_cap_keeps_a_seeded_sample_per_task_and_says_so(built, tmp_path):
    import shutil

    from negsamp import dataset as ds
    from negsamp.build import build
    from negsamp.recipe import NegativesConfig

    recipe, first = built
    all_negative = {r.sample_id: r.task for r in ds.read_rows(first.dataset_dir, split="negative")}
    shutil.copytree(first.dataset_dir.parent / "runs", tmp_path / "out" / "runs")  # no generation
    capped = recipe.model_copy(update={"negatives": NegativesConfig(per_task=1, seed=3)})
    result = build(capped, tmp_path / "out", progress=False)
    kept = {r.sample_id: r.task for r in ds.read_rows(result.dataset_dir, split="negative")}
    assert set(kept) <= set(all_negative)
    assert sorted(kept.values()) == sorted(set(all_negative.values()))  # one per task
    card = (result.dataset_dir / "README.md").read_text(encoding="utf-8")
    assert "seeded sample (seed 3) of at most 1 negatives per task" in card
    again = build(capped, tmp_path / "out", progress=False)
    assert again.manifest.content_hash == result.manifest.content_hash


def test_two_independent_builds_are_byte_identical(built, tmp_path, tiny_model_dir):
    from negsamp.build import build

    recipe, first = built
    second = build(recipe, tmp_path / "out", progress=False)
    assert parquet_bytes(tmp_path / "out") == parquet_bytes(first.dataset_dir.parent)
    assert second.manifest.content_hash == first.manifest.content_hash


def test_killed_build_resumes_to_the_same_dataset(tmp_path, tiny_model_dir):
    from negsamp.build import build

    # Enough samples that the build runs for a few seconds after its first row lands.
    big = {"tasks": ["passkey:lengths=200,count=40,seed=2", "kv_retrieval:lengths=200,count=40,seed=2"]}
    recipe_path = write_recipe(tmp_path / "recipe.yaml", tiny_model_dir, **big)
    build(load_recipe(recipe_path), tmp_path / "whole", progress=False)

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "negsamp", "build", str(recipe_path), "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(out.glob("runs/*/predictions.jsonl")):
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 2.0))  # kill -9 at a random point of the run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows_before = sum(len(p.read_text().splitlines()) for p in out.glob("runs/*/predictions.jsonl"))

    resumed = negsamp("build", str(recipe_path), "--out", str(out), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert parquet_bytes(out) == parquet_bytes(tmp_path / "whole")
    runs = sorted(out.glob("runs/*/predictions.jsonl"))
    assert len(runs) == 3
    for rows in runs:
        ids = [json.loads(line)["sample_id"] for line in rows.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == 80, rows
    assert rows_before <= 240


def test_bad_recipes_fail_before_any_model_loads(tmp_path, tiny_model_dir):
    with pytest.raises(InputError, match="colour"):
        load_recipe(write_recipe(tmp_path / "a.yaml", tiny_model_dir, colour="blue"))
    with pytest.raises(InputError, match="unknown method"):
        load_recipe(write_recipe(tmp_path / "b.yaml", tiny_model_dir, methods=["nosuch:ratio=0.5"]))
    with pytest.raises(InputError, match="ratio"):
        load_recipe(write_recipe(tmp_path / "c.yaml", tiny_model_dir, methods=["snapkv:ratio=1.5"]))
    with pytest.raises(InputError, match="none"):
        load_recipe(write_recipe(tmp_path / "d.yaml", tiny_model_dir, methods=["none"]))
    result = negsamp("build", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert "missing.yaml: recipe file not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("recipe", sorted((ROOT / "builders").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(recipe):
    loaded = load_recipe(recipe)
    assert loaded.methods and loaded.tasks
