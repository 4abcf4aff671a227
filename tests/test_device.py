"""Device and dtype: what `load_model` picks, one-line refusals before anything loads, what
manifests and cards record, and models built from a config alone (random weights)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_tiny_samples, write_tiny_recipe

from negsamp import models
from negsamp.cli import main
from negsamp.errors import InputError


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CUDA, and a load_model that must not be reached."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the device was checked")

    monkeypatch.setattr(models, "load_model", refuse)
    monkeypatch.setattr(models, "load_tokenizer", refuse)


def one_line_cuda_error(capsys) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA device" in err and "Traceback" not in err


def test_device_cuda_without_a_gpu_fails_in_one_line_everywhere(no_cuda, tmp_path, capsys):
    assert main(["run", "--model", "m", "--method", "none", "--tasks", "passkey:lengths=200,count=1",
                 "--out", str(tmp_path / "runs"), "--device", "cuda"]) == 1
    one_line_cuda_error(capsys)
    assert main(["throughput", "--method", "none", "--out", str(tmp_path / "tp"), "--device", "cuda:0"]) == 1
    one_line_cuda_error(capsys)
    recipe = write_tiny_recipe(tmp_path / "recipe.yaml", tmp_path / "no-model")
    assert main(["build", str(recipe), "--out", str(tmp_path / "b"), "--device", "cuda"]) == 1
    one_line_cuda_error(capsys)
    gpu_recipe = write_tiny_recipe(tmp_path / "gpu.yaml", tmp_path / "no-model", device="cuda", dtype="bfloat16")
    assert main(["build", str(gpu_recipe), "--out", str(tmp_path / "b")]) == 1
    one_line_cuda_error(capsys)
    assert main(["evaluate", "--dataset", str(tmp_path / "missing"), "--method", "none", "--out",
                 str(tmp_path / "e"), "--device", "cuda"]) == 1
    one_line_cuda_error(capsys)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "b").exists()


def test_auto_choices_on_cpu_and_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = models.resolve_device("auto")
    assert cpu.type == "cpu" and models.resolve_dtype("auto", cpu) == torch.float32
    assert models.resolve_attention(cpu) == "sdpa" and models.resolve_attention(cpu, "eager") == "eager"
    cuda = torch.device("cuda")
    assert models.resolve_dtype("auto", cuda) == torch.bfloat16
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    assert models.resolve_attention(cuda) == "sdpa"
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: object() if name == "flash_attn" else None)
    assert models.resolve_attention(cuda) == "flash_attention_2"
    assert models.resolve_attention(cuda, "eager") == "eager"  # a method's need wins
    with pytest.raises(InputError, match="dtype='int8'"):
        models.resolve_dtype("int8", cpu)
    with pytest.raises(InputError, match="device='tpu'"):
        models.resolve_device("tpu")


def test_recipe_rejects_a_bad_dtype(tmp_path):
    from negsamp.recipe import load_recipe

    with pytest.raises(InputError, match="dtype"):
        load_recipe(write_tiny_recipe(tmp_path / "r.yaml", tmp_path, dtype="float8"))


def test_model_from_a_config_has_random_weights_and_no_tokenizer(tmp_path, tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    path = tmp_path / "tiny_config.json"
    path.write_text(json.dumps(config))
    model, tokenizer = models.load_model(str(path), dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu"
    assert model.config._attn_implementation == "sdpa"
    assert len(tokenizer) == config["vocab_size"] and config["eos_token_id"] in tokenizer.all_special_ids
    with pytest.raises(InputError, match="random weights"):
        tokenizer("some text")
    folder = tmp_path / "config-only"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    assert models.config_only(str(folder)) == folder / "config.json"
    assert models.config_only(str(tiny_model_dir)) is None  # it has weights


def test_run_manifest_and_card_record_device_dtype_and_attention(tmp_path, tiny_model_dir):
    from negsamp.runner import ModelPool, run_method
    from negsamp.runs import RunStore

    pool = ModelPool(str(tiny_model_dir), device="cpu")
    store = RunStore(tmp_path / "runs")
    from negsamp.methods import parse_method

    # kvpress's ObservedAttentionPress reads the attention weights: the model is loaded with eager
    eager = "press:cls=kvpress:ObservedAttentionPress,attn=eager,compression_ratio=0.5"
    for spec, attention in (("none", "sdpa"), (eager, "eager")):
        result = run_method(store, str(tiny_model_dir), parse_method(spec), make_tiny_samples(1), progress=False,
                            pool=pool)
        generation = result.run.manifest()["generation"]
        assert (generation["device"], generation["dtype"], generation["attention"]) == ("cpu", "float32", attention)
    assert pool.get("eager")[0].config._attn_implementation == "eager"
