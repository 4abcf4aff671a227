"""Who may import whom (docs/architecture.md, "Who may import whom"), enforced on the source.

Every import in negsamp/ (at module level or inside a function) is read with `ast`.
A module may import only from its own layer or a lower one; the pure-data modules
never touch model code; nothing below the CLI imports the CLI; `evaluate` is
imported only by the metric module shipped for it; and module-level imports have
no cycle. A new module needs a layer here and in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "negsamp"

LAYERS: list[set[str]] = [
    # 0 foundation: errors, files, records
    {"errors", "atomic", "jsonl", "records", "outdir", "formats", "runlock"},
    # 1 definitions: what a task, metric, rule, method and model are (no generation)
    {"specs", "plugins", "tasks", "metrics", "mining", "methods", "display", "models", "kvcache", "paper_scores"},
    # 2 execution: generate predictions into run stores
    {"backends", "runs", "runcheck", "runner", "distributed"},
    # 3 results: score, mine, build, evaluate, publish, measure, predict, render
    {"scoring", "recipe", "dataset", "plots", "evaluator", "report", "submission", "build", "publish",
     "throughput", "predict", "import_scores", "leaderboard", "hf_metric"},
    # 4 interface
    {"cli", "__main__"},
]
PURE_DATA = {"errors", "atomic", "jsonl", "records", "outdir", "formats", "runlock", "specs", "plugins", "tasks",
             "metrics", "mining", "paper_scores", "runs", "runcheck", "scoring", "dataset"}
"""Scoring, mining and the dataset run (and test) anywhere in milliseconds: no model code."""
MODEL_CODE = {"torch", "transformers", "kvpress", "vllm", "negsamp.models", "negsamp.backends",
              "negsamp.runner", "negsamp.kvcache", "negsamp.methods", "negsamp.throughput"}
EVALUATE_ONLY_IN = {"negsamp/hf_metric/negsamp_longbench.py"}


def _unit(module: str) -> str | None:
    """`negsamp.dataset.write` -> `dataset`; the root package itself (`__version__`) -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "negsamp" and len(parts) > 1 else None


def _is_module(name: str) -> bool:
    if not name.startswith("negsamp."):
        return False
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(tree: ast.AST, *, top_level_only: bool = False) -> list[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from negsamp.tasks import registry` imports the module negsamp.tasks.registry;
            # `from negsamp.tasks import get_task` imports the package negsamp.tasks.
            named = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = [name for name in named if _is_module(name)]
            found += submodules if len(submodules) == len(named) else [node.module, *submodules]
    return found


def _sources() -> dict[str, tuple[str, ast.AST]]:
    """{'negsamp/x/y.py': (unit, tree)} for every file of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        unit = _unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)) or "__init__"
        out[rel] = (unit, ast.parse(path.read_text(encoding="utf-8")))
    return out


def _layer(unit: str) -> int:
    for index, members in enumerate(LAYERS):
        if unit in members:
            return index
    raise AssertionError(f"negsamp.{unit} has no layer: add it to docs/architecture.md and to LAYERS here")


def test_every_import_goes_down_the_layers():
    problems = []
    for rel, (unit, tree) in _sources().items():
        if unit == "__init__":  # the root package re-exports `load` from dataset, and nothing else
            assert {_unit(m) for m in _imports(tree) if _unit(m)} <= {"dataset"}, rel
            continue
        for target in {_unit(m) for m in _imports(tree)} - {None, unit}:
            if _layer(target) > _layer(unit):
                problems.append(f"{rel} (layer {_layer(unit)}) imports negsamp.{target} (layer {_layer(target)})")
    assert not problems, "\n".join(problems)


def test_pure_data_modules_import_no_model_code():
    problems = []
    for rel, (unit, tree) in _sources().items():
        if unit not in PURE_DATA:
            continue
        for module in _imports(tree):
            if any(module == banned or module.startswith(banned + ".") for banned in MODEL_CODE):
                problems.append(f"{rel} imports {module}")
    assert not problems, "\n".join(problems)


def test_only_the_metric_module_imports_evaluate_and_nothing_imports_the_cli():
    for rel, (unit, tree) in _sources().items():
        modules = _imports(tree)
        uses_evaluate = any(m == "evaluate" or m.startswith("evaluate.") for m in modules)
        assert uses_evaluate == (rel in EVALUATE_ONLY_IN), rel
        if unit not in ("cli", "__main__"):
            assert not any(m.startswith("negsamp.cli") for m in modules), rel


def test_module_level_imports_have_no_cycle():
    graph: dict[str, set[str]] = {}
    for rel, (_, tree) in _sources().items():
        name = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        graph[name] = {m for m in _imports(tree, top_level_only=True) if m.startswith("negsamp")}
    modules = set(graph)
    # `from negsamp.dataset import X` may name a submodule or an attribute: keep the module it names.
    edges = {m: {t for t in targets if t in modules and t != m} for m, targets in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_the_layering_test_can_fail():
    # A made-up import from the pure-data layer into the engine must be caught.
    tree = ast.parse("def f():\n    from negsamp.runner import run_method\n")
    bad = [m for m in _imports(tree) if _layer(_unit(m)) > _layer("mining")]
    assert bad == ["negsamp.runner"]


def test_the_documented_layers_are_the_enforced_ones():
    import re

    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d) [a-z ]+ \| (.+?) \| .+ \|$", doc, flags=re.MULTILINE)
    documented = [set(re.findall(r"`([a-z_]+)`", modules)) for _, modules in rows]
    assert documented == LAYERS
