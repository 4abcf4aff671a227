"""LongBench v1 as a task source: rows from local files or the Hub, prompts as pred.py builds them.

Prompt templates and generation budgets are LongBench's own (`config/dataset2prompt.json`,
`config/dataset2maxlen.json`), written out here as a table. `load_longbench` follows
LongBench's `pred.py`:

1. `prompt = template.format(context=..., input=...)`;
2. if the tokenized prompt (special tokens included, as `tokenizer(prompt)` gives it) is
   longer than `max_length`, keep its first `int(max_length / 2)` and last
   `int(max_length / 2)` tokens and decode each half with `skip_special_tokens=True`;
3. wrap the result in the model's chat template, except for trec, triviaqa, samsum,
   lsht, lcc and repobench-p (pred.py's list: completion-style tasks).

Where pred.py calls a hand-written, model-specific `build_chat`, we call
`tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
add_generation_prompt=True)` (or the caller's `chat_template_fn`). A tokenizer without
a chat template gets the plain prompt, as pred.py's `build_chat` returns it unchanged
for models it does not know. See docs/tasks.md.

Rows follow the THUDM/LongBench schema: input, context, answers, length, dataset,
language, all_classes, _id. A bad row stops the load with an InputError naming the
file, the line and the field.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, UnknownNameError
from negsamp.records import Sample, content_id
from negsamp.tasks.registry import get_task
from negsamp.tasks.spec import TaskSpec, locate_in_wrapped, register_spec

HUB_REPO = "THUDM/LongBench"

# pred.py: "chat models are better off without build prompts on these tasks".
NO_CHAT_TASKS = ("trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p")

_QA_MULTI_DOC = (
    "Answer the question based on the given passages. Only give me the answer and do not output any "
    "other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the "
    "given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\n"
    "Answer:"
)
# task: (prompt template, max_new_tokens) -- LongBench v1 dataset2prompt / dataset2maxlen.
LONGBENCH_PROMPTS: dict[str, tuple[str, int]] = {
    "narrativeqa": (
        # "asconcisely" is LongBench's own typo, kept so prompts are identical.
        "You are given a story, which can be either a novel or a movie script, and a question. Answer the "
        "question asconcisely as you can, using a single phrase if possible. Do not provide any explanation."
        "\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you can, "
        "using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\n"
        "Answer:",
        128,
    ),
    "qasper": (
        "You are given a scientific article and a question. Answer the question as concisely as you can, "
        "using a single phrase or sentence if possible. If the question cannot be answered based on the "
        "information in the article, write \"unanswerable\". If the question is a yes/no question, answer "
        "\"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n "
        "Answer the question based on the above article as concisely as you can, using a single phrase or "
        "sentence if possible. If the question cannot be answered based on the information in the article, "
        "write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or "
        "\"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
        128,
    ),
    "multifieldqa_en": (
        "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question "
        "based on the above text, only give me the answer and do not output any other words.\n\n"
        "Question: {input}\nAnswer:",
        64,
    ),
    "multifieldqa_zh": (
        "阅读以下文字并用中文简短回答：\n\n{context}\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，"
        "不要输出任何其他字词。\n\n问题：{input}\n回答：",
        64,
    ),
    "hotpotqa": (_QA_MULTI_DOC, 32),
    "2wikimqa": (_QA_MULTI_DOC, 32),
    "musique": (_QA_MULTI_DOC, 32),
    "dureader": (
        "请基于给定的文章回答下述问题。\n\n文章：{context}\n\n请基于上述文章回答下面的问题。\n\n问题：{input}\n回答：",
        128,
    ),
    "gov_report": (
        "You are given a report by a government agency. Write a one-page summary of the report.\n\n"
        "Report:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:",
        512,
    ),
    "qmsum": (
        "You are given a meeting transcript and a query containing a question or instruction. Answer the "
        "query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the "
        "above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:",
        512,
    ),
    "multi_news": (
        "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}"
        "\n\nNow, write a one-page summary of all the news.\n\nSummary:",
        512,
    ),
    "vcsum": (
        "下面有一段会议记录，请你阅读后，写一段总结，总结会议的内容。\n会议记录：\n{context}\n\n会议总结：",
        512,
    ),
    "trec": (
        "Please determine the type of the question below. Here are some examples of questions.\n\n"
        "{context}\n{input}",
        64,
    ),
    "triviaqa": (
        "Answer the question based on the given passage. Only give me the answer and do not output any "
        "other words. The following are some examples.\n\n{context}\n\n{input}",
        32,
    ),
    "samsum": (
        "Summarize the dialogue into a few short sentences. The following are some examples.\n\n"
        "{context}\n\n{input}",
        128,
    ),
    "lsht": ("请判断给定新闻的类别，下面是一些例子。\n\n{context}\n{input}", 64),
    "passage_count": (
        "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please "
        "carefully read these paragraphs and determine how many unique paragraphs there are after removing "
        "duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\n"
        "Please enter the final count of unique paragraphs after removing duplicates. The output format "
        "should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ",
        32,
    ),
    "passage_retrieval_en": (
        "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph "
        "the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter "
        "the number of the paragraph that the abstract is from. The answer format must be like "
        "\"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: ",
        32,
    ),
    "passage_retrieval_zh": (
        "以下是若干段落文字，以及其中一个段落的摘要。请确定给定的摘要出自哪一段。\n\n{context}\n\n下面是一个摘要\n\n"
        "{input}\n\n请输入摘要所属段落的编号。答案格式必须是\"段落1\"，\"段落2\"等格式\n\n答案是：",
        32,
    ),
    "lcc": ("Please complete the code given below. \n{context}Next line of code:\n", 64),
    "repobench-p": ("Please complete the code given below. \n{context}{input}Next line of code:\n", 64),
}

LONGBENCH_SPECS: dict[str, TaskSpec] = {}
for _name, (_template, _max_new) in LONGBENCH_PROMPTS.items():
    _info = get_task(_name)  # registered by negsamp.tasks.registry
    LONGBENCH_SPECS[_name] = register_spec(TaskSpec(
        name=_name,
        prompt_template=_template,
        max_new_tokens=_max_new,
        chat_template=_name not in NO_CHAT_TASKS,
        metric=_info.metric,
        category=_info.category,
    ))

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

ChatTemplateFn = Callable[[str], str]


def longbench_tasks() -> list[str]:
    """The LongBench v1 tasks this module can load, in LongBench's order."""
    return list(LONGBENCH_PROMPTS)


def check_task(task: str) -> TaskSpec:
    """The spec of LongBench task `task`; UnknownNameError lists the known ones."""
    spec = LONGBENCH_SPECS.get(task) if isinstance(task, str) else None
    if spec is None:
        raise UnknownNameError(
            f"unknown LongBench task {task!r}; known LongBench tasks: {', '.join(longbench_tasks())}"
        )
    return spec


def load_longbench(
    task: str,
    *,
    path: str | os.PathLike[str] | None = None,
    tokenizer: Any,
    max_length: int,
    chat_template_fn: ChatTemplateFn | None = None,
    limit: int | None = None,
) -> list[Sample]:
    """LongBench v1 samples of `task`, with prompts built as LongBench's pred.py builds them.

    `path`: a JSONL (also `.json` holding JSON lines) or parquet file in THUDM/LongBench's
    schema, or a folder holding `<task>.jsonl` / `<task>.parquet` (or `data/<task>.jsonl`,
    the layout of LongBench's data.zip). None loads `THUDM/LongBench` from the Hub, which
    needs a network; offline this raises an InputError that suggests `path`.
    `tokenizer`: the model's Hugging Face tokenizer (truncation, chat template).
    `max_length`: the model's prompt budget in tokens (pred.py's `model2maxlen`: the
    context window minus room for the answer); longer prompts are cut in the middle.
    `chat_template_fn`: builds the chat prompt from the plain one, instead of
    `tokenizer.apply_chat_template` (for models whose template needs something else).
    `limit`: keep only the first `limit` rows.
    """
    spec = check_task(task)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise InputError(f"max_length must be an integer >= 2, got {max_length!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    if path is None:
        source = f"longbench:hub:{HUB_REPO}"
        rows: Iterator[tuple[str, int, Any]] = _hub_rows(task)
    else:
        file = resolve_local_file(task, path)
        source = f"longbench:local:{file}"
        rows = read_rows(file)
    info = get_task(task)
    samples: list[Sample] = []
    for index, (where, line, row) in enumerate(rows):
        if limit is not None and index >= limit:
            break
        fields = validate_row(row, task=task, where=where, line=line)
        prompt, question_start, used_chat = build_prompt(
            spec, fields["context"], fields["input"], tokenizer=tokenizer, max_length=max_length,
            chat_template_fn=chat_template_fn,
        )
        samples.append(Sample(
            sample_id=content_id("longbench", task, fields["_id"], prompt, fields["answers"]),
            task=task,
            category=info.category,
            source=source,
            source_index=index,
            context=fields["context"],
            input=fields["input"],
            answers=fields["answers"],
            all_classes=fields["all_classes"],
            length=fields["length"],
            prompt=prompt,
            question_start=question_start,
            max_new_tokens=spec.max_new_tokens,
            chat_template=used_chat,
        ))
    return samples


# --------------------------------------------------------------------------- prompts


def build_prompt(
    spec: TaskSpec,
    context: str,
    input: str,
    *,
    tokenizer: Any,
    max_length: int,
    chat_template_fn: ChatTemplateFn | None = None,
) -> tuple[str, int, bool]:
    """`(prompt, question_start, chat_template_used)` for one row, as pred.py builds it."""
    head_template, tail_template = spec.split_template()
    head = head_template.format(input=input)
    tail = tail_template.format(input=input)
    prompt = head + context + tail
    question_start = len(head) + len(context)
    ids = list(tokenizer(prompt, truncation=False)["input_ids"])
    if len(ids) > max_length:
        half = int(max_length / 2)
        first = tokenizer.decode(ids[:half], skip_special_tokens=True)
        last = tokenizer.decode(ids[-half:], skip_special_tokens=True)
        prompt = first + last
        # The question starts where the template's tail does, if the kept end still holds it
        # all; otherwise the cut went through the question, which then starts at the cut.
        found = prompt.rfind(tail, len(first)) if tail else len(prompt)
        question_start = found if found >= 0 else len(first)
    if not spec.chat_template:
        return prompt, question_start, False
    if chat_template_fn is not None:
        wrapped = chat_template_fn(prompt)
        if not isinstance(wrapped, str):
            raise TypeError(f"chat_template_fn must return a str, got {type(wrapped).__name__}")
    elif getattr(tokenizer, "chat_template", None):
        wrapped = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    else:
        return prompt, question_start, False
    return wrapped, locate_in_wrapped(wrapped, prompt, question_start), True


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
