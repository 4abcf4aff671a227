"""Tasks: what is asked, and how the answer is scored."""

from negsamp.tasks.registry import CATEGORIES, TaskInfo, get_task, known_tasks, register_task

__all__ = ["CATEGORIES", "TaskInfo", "get_task", "known_tasks", "register_task"]

# Task sources (prompt specs, synthetic families, LongBench). Importing them registers the
# synthetic families' TaskInfo, so `get_task("passkey")` works after `import negsamp.tasks`.
from negsamp.tasks.longbench import load_longbench  # noqa: E402
from negsamp.tasks.sources import load_task_samples, parse_task_spec, validate_task_spec  # noqa: E402
from negsamp.tasks.spec import TaskSpec, get_spec, known_specs  # noqa: E402
from negsamp.tasks.synthetic import known_families, make_samples  # noqa: E402

__all__ += [
    "TaskSpec", "get_spec", "known_specs", "known_families", "make_samples", "load_longbench",
    "load_task_samples", "parse_task_spec", "validate_task_spec",
]
