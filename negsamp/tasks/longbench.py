"""LongBench v1 as a task source: rows from local files or the Hub, prompts under a protocol.

The task facts (template, budget, metric, chat template or not) are the `TaskConfig`s of
`negsamp.tasks.longbench_table`; prompts are built by `negsamp.tasks.longbench_prompts`
under protocol `longbench` (pred.py, the default) or `rethink` (the paper's evaluator).
See docs/tasks.md.

Rows follow the THUDM/LongBench schema: input, context, answers, length, dataset,
language, all_classes, _id. A bad row stops the load with an InputError naming the
file, the line and the field.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, UnknownNameError
from negsamp.records import Sample, content_id
from negsamp.tasks.config import TaskConfig
from negsamp.tasks.longbench_prompts import PROTOCOLS, BuiltPrompt, ChatTemplateFn, build_prompt
from negsamp.tasks.longbench_table import LONGBENCH_TASKS, longbench_configs

HUB_REPO = "THUDM/LongBench"

# Field -> (accepted types, description) of THUDM/LongBench rows.
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "input": ((str,), "a string"),
    "context": ((str,), "a string"),
    "answers": ((list,), "a list of strings"),
    "length": ((int,), "an integer"),
    "dataset": ((str,), "a string"),
    "language": ((str,), "a string"),
    "all_classes": ((list, type(None)), "a list of strings or null"),
    "_id": ((str,), "a string"),
}

def longbench_tasks() -> list[str]:
    """The LongBench v1 tasks this module can load, in LongBench's order."""
    return list(LONGBENCH_TASKS)


def check_task(task: str) -> TaskConfig:
    """The config of LongBench task `task`; UnknownNameError lists the known ones."""
    config = longbench_configs().get(task) if isinstance(task, str) else None
    if config is None:
        raise UnknownNameError(
            f"unknown LongBench task {task!r}; known LongBench tasks: {', '.join(longbench_tasks())}"
        )
    return config


def load_longbench(
    task: str,
    *,
    path: str | os.PathLike[str] | None = None,
    tokenizer: Any,
    max_length: int,
    chat_template_fn: ChatTemplateFn | None = None,
    limit: int | None = None,
    protocol: str = "longbench",
) -> list[Sample]:
    """LongBench v1 samples of `task`, with prompts built under `protocol`.

    `path`: a JSONL (also `.json` holding JSON lines) or parquet file in THUDM/LongBench's
    schema, or a folder holding `<task>.jsonl` / `<task>.parquet` (or `data/<task>.jsonl`,
    the layout of LongBench's data.zip). None loads `THUDM/LongBench` from the Hub, which
    needs a network; offline this raises an InputError that suggests `path`.
    `tokenizer`: the model's Hugging Face tokenizer (truncation, chat template).
    `max_length`: the model's prompt budget in tokens (pred.py's `model2maxlen`); longer
    prompts are cut in the middle.
    `chat_template_fn`: builds the chat prompt from the plain one, instead of
    `tokenizer.apply_chat_template` (protocol `longbench` only).
    `limit`: keep only the first `limit` rows.
    `protocol`: `longbench` (LongBench's pred.py) or `rethink` (the paper's evaluator);
    see `negsamp.tasks.longbench_prompts`.
    """
    config = check_task(task)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise InputError(f"max_length must be an integer >= 2, got {max_length!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    source, rows = task_rows(task, path)
    samples: list[Sample] = []
    for index, (where, line, row) in enumerate(rows):
        if limit is not None and index >= limit:
            break
        fields = validate_row(row, task=task, where=where, line=line)
        built = build_prompt(config, fields["context"], fields["input"], tokenizer=tokenizer,
                             max_length=max_length, protocol=protocol, answers=fields["answers"],
                             chat_template_fn=chat_template_fn)
        samples.append(make_sample(config, fields, built, source=source, index=index, protocol=protocol))
    return samples


def task_rows(task: str, path: str | os.PathLike[str] | None) -> tuple[str, Iterator[tuple[str, int, Any]]]:
    """`(source, rows)` of `task`: from the local file or folder `path`, or the Hub when None;
    rows are `(where, line, raw row)` in file order, not yet validated."""
    if path is None:
        return f"longbench:hub:{HUB_REPO}", _hub_rows(task)
    file = resolve_local_file(task, path)
    return f"longbench:local:{file}", read_rows(file)


def make_sample(config: TaskConfig, fields: dict[str, Any], built: BuiltPrompt, *, source: str,
                index: int, protocol: str) -> Sample:
    """The `Sample` of one validated row and its built prompt."""
    # The id covers the prompt but not the protocol name: the same prompt is the same sample.
    return Sample(
        sample_id=content_id("longbench", config.name, fields["_id"], built.prompt, fields["answers"]),
        task=config.name,
        category=config.category,
        source=source,
        source_index=index,
        context=fields["context"],
        input=fields["input"],
        answers=fields["answers"],
        all_classes=fields["all_classes"],
        length=fields["length"],
        prompt=built.prompt,
        question_start=built.question_start,
        max_new_tokens=built.max_new_tokens,
        chat_template=built.chat_template,
        protocol=protocol,
        stop_texts=list(built.stop_texts),
        min_new_tokens=built.min_new_tokens,
    )


# --------------------------------------------------------------------------- rows


def validate_row(row: Any, *, task: str, where: str, line: int) -> dict[str, Any]:
    """Check one LongBench row; InputError names the file, the line and the field."""
    at = f"{where}, line {line}"
    if not isinstance(row, dict):
        raise InputError(f"{at}: a LongBench row must be a JSON object, got {type(row).__name__}")
    for field, (types, kind) in _FIELDS.items():
        if field not in row:
            raise InputError(f"{at}: field {field!r} is missing (LongBench rows need {', '.join(_FIELDS)})")
        value = row[field]
        if not isinstance(value, types) or isinstance(value, bool):
            raise InputError(f"{at}: field {field!r} must be {kind}, got {type(value).__name__}")
    for field in ("answers", "all_classes"):
        value = row[field]
        if value is None:
            continue
        for item in value:
            if not isinstance(item, str):
                raise InputError(f"{at}: field {field!r} must hold strings only, got {type(item).__name__} "
                                 f"{item!r}")
    if not row["answers"]:
        raise InputError(f"{at}: field 'answers' is empty; a sample needs at least one answer")
    if row["dataset"] not in (task, f"{task}_e"):
        raise InputError(f"{at}: field 'dataset' is {row['dataset']!r}, but the task is {task!r}")
    return {field: row[field] for field in _FIELDS}


def resolve_local_file(task: str, path: str | os.PathLike[str]) -> Path:
    """The file to read for `task` at `path` (a file, or a folder holding `<task>.jsonl`...)."""
    given = Path(path)
    if given.is_dir():
        candidates = [given / f"{task}.jsonl", given / f"{task}.parquet", given / "data" / f"{task}.jsonl"]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise InputError(f"folder {given} holds none of {', '.join(c.name for c in candidates[:2])} "
                         f"(nor data/{task}.jsonl) for LongBench task {task!r}")
    if not given.exists():
        raise InputError(f"LongBench file {given} does not exist (task {task!r})")
    if not given.is_file():
        raise InputError(f"LongBench path {given} is not a file or folder")
    if given.suffix.lower() not in (".jsonl", ".json", ".parquet"):
        raise InputError(f"LongBench file {given}: expected a .jsonl, .json (JSON lines) or .parquet file")
    if not os.access(given, os.R_OK):
        raise InputError(f"LongBench file {given} is not readable")
    return given


def read_rows(file: Path) -> Iterator[tuple[str, int, Any]]:
    """`(file name, 1-based line or row number, row)` for each row of a local file."""
    if file.suffix.lower() == ".parquet":
        return _parquet_rows(file)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read LongBench file {file}: {err.strerror or err}") from err
    return _jsonl_rows(str(file), data)


def _jsonl_rows(where: str, data: bytes) -> Iterator[tuple[str, int, Any]]:
    from negsamp.jsonl import iter_jsonl

    for number, row in iter_jsonl(where, data):
        yield where, number, row


def _parquet_rows(file: Path) -> Iterator[tuple[str, int, Any]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(file).to_pylist()
    except OSError as err:
        raise InputError(f"cannot read LongBench parquet file {file}: {err}") from err
    except Exception as err:  # pyarrow's own errors (ArrowInvalid...) for a damaged file
        raise InputError(f"LongBench parquet file {file} is not valid parquet: {err}") from err
    for number, row in enumerate(rows, start=1):
        yield str(file), number, row


def _hub_rows(task: str) -> Iterator[tuple[str, int, Any]]:
    """Rows of `task` from the Hub: `datasets.load_dataset(THUDM/LongBench, task)`, else
    the repository's data.zip (datasets >= 4 no longer runs LongBench's loading script)."""
    where = f"{HUB_REPO} ({task}, test split)"
    errors: list[str] = []
    try:
        import datasets

        dataset = datasets.load_dataset(HUB_REPO, task, split="test")
        rows = [dict(row) for row in dataset]
    except Exception as err:  # script datasets unsupported, ...: try the zip next
        errors.append(f"load_dataset: {_short(err)}")
        if _is_offline(err):  # the zip would only retry the same unreachable host
            raise _hub_error(task, errors) from None
    else:
        return ((where, number, row) for number, row in enumerate(rows, start=1))
    try:
        from huggingface_hub import hf_hub_download

        archive = hf_hub_download(HUB_REPO, "data.zip", repo_type="dataset")
        with zipfile.ZipFile(archive) as opened:
            data = opened.read(f"data/{task}.jsonl")
    except Exception as err:
        errors.append(f"data.zip: {_short(err)}")
        raise _hub_error(task, errors) from None
    return _jsonl_rows(f"{HUB_REPO} data.zip:data/{task}.jsonl", data)


def _hub_error(task: str, errors: list[str]) -> InputError:
    return InputError(
        f"cannot load LongBench task {task!r} from the Hugging Face Hub ({HUB_REPO}): "
        f"{'; '.join(errors)}. Without a network, pass a local file in LongBench's schema, "
        f"e.g. `longbench:{task}:path=data/{task}.jsonl` (load_longbench(..., path=...))"
    )


_OFFLINE_NAMES = ("ConnectionError", "ConnectError", "Timeout", "LocalEntryNotFoundError", "OfflineModeIsEnabled")


def _is_offline(err: BaseException) -> bool:
    """Whether `err` (or an exception it came from) says the Hub cannot be reached."""
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, ConnectionError | TimeoutError) or "Couldn't reach" in str(current) \
                or any(name in type(current).__name__ for name in _OFFLINE_NAMES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."
