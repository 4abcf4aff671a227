"""Build recipes: a YAML file that says what to run and how to mine it.

A recipe is validated into `Recipe` (unknown keys rejected) and every task and
method spec in it is checked before any model is loaded, so a typo fails in
milliseconds, not after an hour of generation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from negsamp.errors import InputError, NegsampError
from negsamp.mining import BASELINE, MiningRule

RECIPE_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControlConfig(_Strict):
    """The control split: baseline-good samples that no compared method broke."""

    per_task: int = Field(5, ge=0)
    """How many control samples to draw per task (fewer when a task has fewer)."""
    seed: int = 0
    """Seed of the draw."""


class NegativesConfig(_Strict):
    """The negative split: every mined negative, or a seeded sample of them per task.

    A sample keeps the split small enough that evaluating on it stays a fraction of a
    full run when the mined methods break much of the pool (the card says how many were
    mined and how many kept).
    """

    per_task: int | None = Field(None, ge=1)
    """At most this many negatives per task, drawn like the control split; None keeps all."""
    seed: int = 0
    """Seed of the draw."""


class Recipe(_Strict):
    """A dataset build: model, task pool, methods, rule, control split, name and version."""

    version: Literal[1] = RECIPE_VERSION
    """Schema version of the recipe file."""
    name: str = Field(min_length=1)
    """Dataset name, e.g. `negsamp-tiny`."""
    dataset_version: str = Field(min_length=1)
    """Version of the dataset this recipe builds, e.g. `0.1.0`."""
    description: str = ""
    """One paragraph for the dataset card."""
    model: str = Field(min_length=1)
    """Model name (`smollm2-135m-instruct`, a Hugging Face id or a local folder)."""
    config: str | None = None
    """Dataset config name; defaults to a slug of the model name."""
    max_length: int = Field(4096, gt=0)
    """Prompts longer than this many tokens are truncated in the middle (LongBench's rule)."""
    batch_size: int = Field(4, ge=1)
    """Samples generated together where the method allows it."""
    device: str = "auto"
    """Where to run: auto (CUDA when torch sees a GPU, else CPU), cpu, cuda or cuda:N."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype: auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16 or float16."""
    tasks: list[str] = Field(min_length=1)
    """Task-source specs, e.g. `passkey:lengths=500+1000,count=10,seed=0` or `longbench:qasper:path=...`."""
    methods: list[str] = Field(min_length=1)
    """Compressed methods to mine with, as method specs (`streamingllm:ratio=0.5`)."""
    rule: MiningRule = MiningRule(baseline=BASELINE)
    """How negatives are mined (`negsamp.mining.MiningRule`); the baseline is always the `none` method."""
    control: ControlConfig = ControlConfig()
    """How the control split is drawn."""
    negatives: NegativesConfig = NegativesConfig()
    """Whether the negative split keeps every mined negative (the default) or a seeded sample per task."""
    held_out: list[str] = Field(default_factory=list)
    """Methods never used to mine this release: what benchmarks/bench_eval_cost.py compares and
    `make release-smollm2` seeds the leaderboard with. Not part of the dataset."""

    @property
    def config_name(self) -> str:
        if self.config:
            return self.config
        from negsamp.runs import run_slug

        return run_slug(Path(self.model).name).lower()

    def validate_specs(self) -> None:
        """Check every task and method spec without loading a model."""
        from negsamp.methods import parse_method
        from negsamp.tasks.sources import validate_task_spec

        for spec in self.tasks:
            validate_task_spec(spec, max_length=self.max_length)
        parsed = [parse_method(spec) for spec in self.methods]
        if any(m.spec == BASELINE for m in parsed):
            raise InputError("methods: `none` is the baseline and is always run; list only compressed methods")
        if self.rule.baseline != BASELINE:
            raise InputError("rule.baseline: the baseline of a build is always `none`; leave the field out")
        canonical = [m.spec for m in parsed]
        if len(set(canonical)) != len(canonical):
            raise InputError(f"methods: a method is listed twice: {canonical}")
        mined_too = [m.spec for m in map(parse_method, self.held_out) if m.spec in canonical or m.spec == BASELINE]
        if mined_too:
            raise InputError(f"held_out: {', '.join(mined_too)} also mines this release (or is the baseline)")


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file; errors name the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError(f"{path}: recipe file not found") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: a recipe is a YAML mapping, got {type(data).__name__}")
    try:
        if isinstance(data.get("rule"), dict):
            data["rule"].setdefault("baseline", BASELINE)
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in e['loc'])!r}: {e['msg']}" for e in err.errors()
        )
        raise InputError(f"{path}: {problems}") from err
    try:
        recipe.validate_specs()
    except NegsampError as err:
        raise InputError(f"{path}: {err}") from err
    return recipe
