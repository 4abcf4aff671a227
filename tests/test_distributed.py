"""`build --ray` / `run --ray`: (method x sample-shard) tasks on a local 2-CPU Ray cluster.

One cluster per module (starting one takes ~7 s), with its temp dir under pytest's
tmp folder. The tiny random model over a few synthetic samples keeps each build to
seconds; shards of one or two batches make several tasks per method.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import write_tiny_recipe

from negsamp.cli import main
from negsamp.recipe import load_recipe

TESTS = Path(__file__).resolve().parent
TASKS = ["passkey:lengths=200,count=4,seed=3", "kv_retrieval:lengths=200,count=4,seed=3"]
# Ray puts unix sockets under its temp dir (<temp>/session_<date>_<pid>/sockets/plasma_store);
# their paths must stay under the kernel's 107-byte limit.
MAX_RAY_TEMP = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    temp = tmp_path_factory.mktemp("ray")
    short = None
    if len(str(temp)) > MAX_RAY_TEMP:  # a long --basetemp: fall back to a short folder we remove
        short = temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    plan = temp / "crash-plan.json"
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, _temp_dir=str(temp), include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS), "NEGSAMP_TEST_CRASH_PLAN": str(plan)},
                          "worker_process_setup_hook": "ray_fault.install"})
    try:
        yield SimpleNamespace(ray=ray, crash_plan=plan)
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved
        if short is not None:
            import shutil

            shutil.rmtree(short, ignore_errors=True)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_model_dir):
    path = tmp_path_factory.mktemp("recipe") / "recipe.yaml"
    return load_recipe(write_tiny_recipe(path, tiny_model_dir, tasks=TASKS))


@pytest.fixture(scope="module")
def single(tmp_path_factory, recipe):
    """The same recipe built in this process, without Ray."""
    from negsamp.build import build

    out = tmp_path_factory.mktemp("single")
    return out, build(recipe, out, progress=False)


def parquet_bytes(out: Path) -> dict[str, bytes]:
    data = out / "dataset" / "data"
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*.parquet"))}


def stored_ids(out: Path) -> dict[str, list[str]]:
    return {p.parent.name: [json.loads(line)["sample_id"] for line in p.read_text().splitlines()]
            for p in sorted(out.glob("runs/*/predictions.jsonl"))}


def assert_every_sample_once(out: Path, samples: int) -> None:
    runs = stored_ids(out)
    assert len(runs) == 3
    for name, ids in runs.items():
        assert len(ids) == len(set(ids)) == samples, name


def test_ray_build_is_byte_identical_to_the_single_process_build(cluster, recipe, single, tmp_path):
    from negsamp.build import build
    from negsamp.distributed import RayOptions

    out, reference = single
    result = build(recipe, tmp_path, progress=False, ray=RayOptions(shard_batches=1))
    assert result.manifest.content_hash == reference.manifest.content_hash
    assert parquet_bytes(tmp_path) == parquet_bytes(out)
    assert_every_sample_once(tmp_path, 8)


def test_a_worker_killed_mid_shard_is_retried_and_its_shard_lands_once(cluster, recipe, single, tmp_path):
    from negsamp.build import build, recipe_samples
    from negsamp.distributed import RayOptions
    from negsamp.methods import parse_method
    from negsamp.models import load_tokenizer

    samples = recipe_samples(recipe, load_tokenizer(recipe.model))
    marker = tmp_path / "crashed"
    # Shards of 2 batches of 2 samples: sample 2 opens the second batch of the first
    # shard, so the worker dies after generating (and holding) that shard's first batch.
    plan = {"method": parse_method(recipe.methods[0]).spec, "sample_id": samples[2].sample_id, "marker": str(marker)}
    cluster.crash_plan.write_text(json.dumps(plan), encoding="utf-8")
    try:
        result = build(recipe, tmp_path / "out", progress=False, ray=RayOptions(shard_batches=2))
    finally:
        cluster.crash_plan.unlink()
    assert marker.is_file(), "no worker died: the fault was not injected"
    assert int(marker.read_text()) != os.getpid()
    assert result.manifest.content_hash == single[1].manifest.content_hash
    assert parquet_bytes(tmp_path / "out") == parquet_bytes(single[0])
    assert_every_sample_once(tmp_path / "out", 8)


def test_resubmitted_run_skips_finished_shards(cluster, recipe, single, tmp_path):
    import shutil

    from negsamp.build import BASELINE, build, recipe_samples
    from negsamp.distributed import RayOptions, run_methods_on_ray
    from negsamp.methods import parse_method
    from negsamp.models import load_tokenizer
    from negsamp.runs import RunStore

    shutil.copytree(single[0] / "runs", tmp_path / "runs")
    samples = recipe_samples(recipe, load_tokenizer(recipe.model))
    methods = [parse_method(BASELINE)] + [parse_method(s) for s in recipe.methods]
    store = RunStore(tmp_path / "runs")
    options = RayOptions(shard_batches=1)

    def resubmit() -> dict:
        runs = run_methods_on_ray(store, recipe.model, methods, samples, batch_size=recipe.batch_size,
                                  options=options, progress=False)
        return {spec: (r.shards, r.shards_run, r.result.generated) for spec, r in runs.items()}

    assert resubmit() == {m.spec: (4, 0, 0) for m in methods}
    # Lose the last two rows of the KIVI run and leave half a line, as a kill -9 mid-append would.
    kivi = store.run(recipe.model, methods[2].spec).predictions_path
    lines = kivi.read_text().splitlines(keepends=True)
    kivi.write_text("".join(lines[:-2]) + lines[-2][:30])
    lost = {json.loads(line)["sample_id"] for line in lines[-2:]}
    shards_hit = len({i // recipe.batch_size for i, s in enumerate(samples) if s.sample_id in lost})
    counts = resubmit()
    assert counts[methods[2].spec] == (4, shards_hit, 2)
    assert counts[BASELINE] == counts[methods[1].spec] == (4, 0, 0)
    rebuilt = build(recipe, tmp_path, progress=False, ray=options)
    assert rebuilt.manifest.content_hash == single[1].manifest.content_hash
    assert_every_sample_once(tmp_path, 8)


def test_run_cli_with_ray_fills_the_store_like_without(cluster, recipe, single, tmp_path, capsys):
    args = ["run", "--model", recipe.model, "--tasks", *TASKS, "--batch-size", str(recipe.batch_size),
            "--max-length", str(recipe.max_length), "--out", str(tmp_path), "--no-progress",
            "--method", "none", "--method", recipe.methods[1]]
    assert main([*args, "--ray"]) == 0
    assert "8 generated, 0 already done" in capsys.readouterr().out
    runs = {p.parent.name: p for p in tmp_path.glob("*/predictions.jsonl")}
    assert len(runs) == 2
    for name, path in runs.items():
        rows = {json.loads(line)["sample_id"]: json.loads(line) for line in path.read_text().splitlines()}
        reference = single[0] / "runs" / name / "predictions.jsonl"
        expected = {json.loads(line)["sample_id"]: json.loads(line) for line in reference.read_text().splitlines()}
        strip = ("prefill_s", "decode_s")
        assert {k: {f: v for f, v in r.items() if f not in strip} for k, r in rows.items()} == \
            {k: {f: v for f, v in r.items() if f not in strip} for k, r in expected.items()}
    assert main([*args, "--ray"]) == 0
    assert "0 generated, 8 already done" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["build", "run"])
def test_ray_flag_without_ray_installed_is_one_line_naming_the_extra(command, recipe, tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(json.dumps(recipe.model_dump(mode="json")), encoding="utf-8")
    args = {"build": ["build", str(recipe_path), "--out", str(tmp_path / "out"), "--ray"],
            "run": ["run", "--model", recipe.model, "--tasks", TASKS[0], "--method", "none",
                    "--out", str(tmp_path / "runs"), "--ray", "auto"]}[command]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'negsamp[ray]'" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_a_shard_failing_on_bad_input_raises_its_error_and_keeps_the_other_shards(cluster, recipe, tmp_path,
                                                                                  tiny_samples):
    from negsamp.distributed import RayOptions, run_methods_on_ray
    from negsamp.errors import InputError
    from negsamp.methods import parse_method
    from negsamp.runs import RunStore

    good, bad = tiny_samples(2)
    # A chat-template prompt gets no special tokens added, so an empty one has no tokens at all.
    bad = bad.model_copy(update={"prompt": "", "context": "", "question_start": 0, "chat_template": True})
    store = RunStore(tmp_path)
    with pytest.raises(InputError, match=f"sample {bad.sample_id}: the prompt has no tokens"):
        run_methods_on_ray(store, recipe.model, [parse_method("none")], [good, bad], batch_size=1,
                           options=RayOptions(shard_batches=1), progress=False)
    assert store.run(recipe.model, "none").done_ids() == {good.sample_id}
