"""builders/paper-llama3-8b.yaml: the paper's model, protocol, configs and rule, validated."""

from __future__ import annotations

from pathlib import Path

from negsamp.methods import parse_method
from negsamp.methods.paper import paper_spec
from negsamp.recipe import load_recipe
from negsamp.tasks.sources import parse_task_spec

RECIPE = Path(__file__).resolve().parents[1] / "builders" / "paper-llama3-8b.yaml"
# The paper's evaluator's task list (3_neg_samples/0_neg_evaluator.py), duplicates removed.
PAPER_TASKS = {"qmsum", "2wikimqa", "gov_report", "hotpotqa", "lcc", "multi_news", "multifieldqa_en",
               "passage_count", "passage_retrieval_en", "qasper", "repobench-p", "samsum", "trec", "triviaqa"}


def test_paper_recipe_is_the_papers_setting():
    recipe = load_recipe(RECIPE)
    assert (recipe.model, recipe.config_name, recipe.max_length) == \
        ("meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama-3-8b-instruct", 8192)
    sources = [parse_task_spec(spec) for spec in recipe.tasks]
    assert {s.task for s in sources} == PAPER_TASKS and len(sources) == len(PAPER_TASKS)
    assert {s.protocol for s in sources} == {"rethink"}
    methods = {m.name: [] for m in map(parse_method, recipe.methods)}
    for method in map(parse_method, recipe.methods):
        methods[method.name].append(method)
    h2o, = methods["h2o"]
    assert (h2o.budget, h2o.variant, h2o.window, h2o.gqa) == (2048, "rethink", 8, "repeat")
    streaming, = methods["streamingllm"]
    assert (streaming.budget, streaming.sink) == (2048, 4)
    assert sorted(m.bits for m in methods["kivi"]) == [2, 4]
    assert {(m.group, m.residual) for m in methods["kivi"]} == {(32, 128)}
    assert sorted(m.bits for m in methods["gear"]) == [4, 8]
    assert (recipe.rule.statistic, recipe.rule.t, recipe.rule.mode) == ("mean", 0.1, "any")


def test_paper_recipe_methods_are_the_papers_released_configs():
    """Each mining method is what `negsamp methods --paper` maps the paper's config name to."""
    recipe = load_recipe(RECIPE)
    ours = {parse_method(spec).spec for spec in recipe.methods}
    paper = {paper_spec(f"{name}_8192_b1_{config}") for name, config in [
        ("h2o", "c2048_w32_k7_maxpool"), ("streamingllm", "c2048_w32_k7_maxpool"),
        ("kivi", "4bits_group32_residual128"), ("kivi", "2bits_group32_residual128"),
        ("gear", "8bits"), ("gear", "4bits")]}
    assert ours == paper
