"""The task registry: every known `TaskConfig` by name, built by one function.

`build_registry()` assembles the tables (`negsamp.tasks.longbench_table`, the synthetic
families in `negsamp.tasks.synthetic`); nothing registers itself on import. `get_task`
reads the built registry plus what `register_task` added at run time (a plug-in task
scored from external predictions, tests).
"""

from __future__ import annotations

from functools import cache

from negsamp.errors import UnknownNameError
from negsamp.tasks.config import CATEGORIES, TaskConfig
from negsamp.tasks.longbench_table import LONGBENCH_TASKS, longbench_configs
from negsamp.tasks.synthetic import synthetic_configs

__all__ = ["CATEGORIES", "LONGBENCH_TASKS", "TaskConfig", "build_registry", "get_task", "known_tasks",
           "register_task"]

_extra: dict[str, TaskConfig] = {}


def build_registry() -> dict[str, TaskConfig]:
    """The built-in tasks: LongBench v1's 21, then the synthetic families."""
    tasks = dict(longbench_configs())
    for name, config in synthetic_configs().items():
        if name in tasks:
            raise ValueError(f"synthetic family {name!r} has a LongBench task's name")
        tasks[name] = config
    return tasks


@cache
def _builtin() -> dict[str, TaskConfig]:
    return build_registry()


def register_task(config: TaskConfig, *, replace: bool = False) -> TaskConfig:
    """Add a task at run time. The same config twice is a no-op; a different config under
    a known name is refused unless `replace=True`."""
    if not isinstance(config, TaskConfig):
        raise TypeError(f"register_task expects a TaskConfig, got {type(config).__name__}")
    old = _extra.get(config.name) or _builtin().get(config.name)
    if old is not None and old != config and not replace:
        raise ValueError(f"task {config.name!r} is already registered as {old}; pass replace=True to change it")
    _extra[config.name] = config
    return config


def get_task(name: str) -> TaskConfig:
    """The task called `name`; UnknownNameError lists the known ones."""
    config = _extra.get(name) if isinstance(name, str) else None
    config = config or (_builtin().get(name) if isinstance(name, str) else None)
    if config is None:
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {', '.join(known_tasks())}")
    return config


def known_tasks() -> list[str]:
    """Names of all tasks, sorted."""
    return sorted({*_builtin(), *_extra})
