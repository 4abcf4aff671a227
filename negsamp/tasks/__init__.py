"""Tasks: what is asked, and how the answer is scored."""

from negsamp.tasks.registry import CATEGORIES, TaskInfo, get_task, known_tasks, register_task

__all__ = ["CATEGORIES", "TaskInfo", "get_task", "known_tasks", "register_task"]
