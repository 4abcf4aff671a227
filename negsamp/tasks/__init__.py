"""Tasks: what is asked, and how the answer is scored (one `TaskConfig` per task)."""

from negsamp.tasks.config import CATEGORIES, TaskConfig
from negsamp.tasks.longbench import load_longbench
from negsamp.tasks.registry import build_registry, get_task, known_tasks, register_task
from negsamp.tasks.source import TaskSource
from negsamp.tasks.sources import (
    available_sources,
    load_task_samples,
    parse_task_spec,
    register_source,
    validate_task_spec,
)
from negsamp.tasks.synthetic import known_families, make_samples

__all__ = [
    "CATEGORIES", "TaskConfig", "TaskSource", "available_sources", "build_registry", "get_task", "known_families",
    "known_tasks", "load_longbench", "load_task_samples", "make_samples", "parse_task_spec", "register_source",
    "register_task", "validate_task_spec",
]
