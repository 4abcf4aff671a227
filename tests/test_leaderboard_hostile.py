"""Hostile and broken submissions: each is rejected with its named reason, and none reaches the page.

The corpus is generated here rather than committed: every case needs the content
hash of the dataset the test builds, and one case is a 10 MB method name.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import socket
from collections.abc import Callable

import pytest
from test_leaderboard import make_board, predictions_for, submission_for, write_rebuilt

from negsamp.dataset import verify_dataset
from negsamp.leaderboard import (
    Registry,
    SubmissionRejected,
    build_leaderboard,
    parse_submission,
    validate_submission,
)
from negsamp.leaderboard import submissions as lb_submissions

MARKER = "xss-marker"
PAYLOAD = f'<script>alert("{MARKER}")</script><img src=x onerror=alert(1)>'
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A board, its registry, a valid submission (as JSON data) and the hash of a stale release."""
    tmp = tmp_path_factory.mktemp("hostile")
    root, evaluation = make_board(tmp / "leaderboard")
    rows = [row for _, row in evaluation.all_rows()]
    correct = {rows[0].sample_id, rows[1].sample_id}  # the two hotpotqa negatives
    submission = submission_for(evaluation, predictions_for(rows, correct))
    samples = evaluation.score(predictions_for(rows, correct))
    stale = verify_dataset(write_rebuilt(tmp / "rebuilt")).content_hash
    assert stale != evaluation.manifest.content_hash
    return {
        "root": root, "registry": Registry.load(root), "evaluation": evaluation, "rows": rows,
        "data": json.loads(submission.model_dump_json()), "stale": stale,
        "sample": samples[0].model_dump(mode="json"),
    }


def check(world, case: dict | bytes):
    raw = case if isinstance(case, bytes) else json.dumps(case).encode()
    return validate_submission(parse_submission(raw, "case"), world["registry"], entry_id="case")


def rejected(world, case: dict | bytes) -> list[str]:
    with pytest.raises(SubmissionRejected) as caught:
        check(world, case)
    return [str(p) for p in caught.value.problems]


def with_number(data: dict, setter: Callable[[dict], None], literal: str) -> bytes:
    """The submission with one number replaced by a raw JSON token (NaN, Infinity, 1e999)."""
    setter(data)
    return json.dumps(data).replace('"__NUMBER__"', literal).encode()


def _set(path: str, value):
    """A mutation setting a dotted/indexed field path, e.g. `report.by_task[0].recovered`."""
    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]

    def mutate(data: dict) -> None:
        target = data
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value(target[parts[-1]]) if callable(value) else value

    return mutate


def _delete(path: str):
    def mutate(data: dict) -> None:
        del data[path]

    return mutate


def _duplicate(data):
    data["predictions"].append(dict(data["predictions"][0]))


def _missing(data):
    data["predictions"].pop()


def _task_missing(data):
    data["report"]["by_task"].pop()


# (case id, mutation of the valid submission's data (or raw bytes), field of the reported problem, text in it)
CORPUS: list[tuple[str, Callable | bytes, str, str]] = [
    ("name-10MB", _set("name", "A" * TEN_MB), "name", "over the limit"),
    ("method-10MB", _set("report.method", "m" * TEN_MB), "report.method", "over the limit"),
    ("method-spec-too-long", _set("report.method", "m" * 501), "report.method", "over the limit of 500"),
    ("prediction-too-long", _set("predictions[0].prediction", "p" * 100_001), "predictions[0].prediction",
     "over the limit of 100000"),
    ("nan", lambda d: with_number(d, _set("report.overall.recovery_rate", "__NUMBER__"), "NaN"),
     "report.overall.recovery_rate", "NaN is not a finite number"),
    ("infinity", lambda d: with_number(d, _set("report.overall.relative_score", "__NUMBER__"), "Infinity"),
     "report.overall.relative_score", "Infinity is not a finite number"),
    ("minus-infinity", lambda d: with_number(d, _set("predictions[1].output_tokens", "__NUMBER__"), "-Infinity"),
     "predictions[1].output_tokens", "-Infinity is not a finite number"),
    ("overflow", lambda d: with_number(d, _set("report.by_task[0].mean_score", "__NUMBER__"), "1e999"),
     "report.by_task[0].mean_score", "1e999 is not a finite number"),
    ("huge-int", lambda d: with_number(d, _set("predictions[0].output_tokens", "__NUMBER__"), "1" + "0" * 400),
     "predictions[0].output_tokens", "is out of range"),
    ("int-over-2-53", _set("predictions[0].kv_bytes_prefill", 2**60), "predictions[0].kv_bytes_prefill",
     "is out of range"),
    ("int-5000-digits", lambda d: with_number(d, _set("report.overall.negatives", "__NUMBER__"), "9" * 5000),
     "report.overall.negatives", "is out of range"),
    ("string-for-number", _set("report.overall.recovery_rate", "0.5"), "report.overall.recovery_rate",
     "valid number"),
    ("float-for-int", _set("report.overall.negatives", 3.0), "report.overall.negatives", "valid integer"),
    ("bool-for-int", _set("predictions[0].output_tokens", True), "predictions[0].output_tokens", "valid integer"),
    ("number-for-name", _set("name", 42), "name", "valid string"),
    ("object-for-list", _set("predictions", {}), "predictions", "valid list"),
    ("version-string", _set("version", "1"), "version", "Input should be 1"),
    ("version-bool", _set("version", True), "version", "not a boolean"),
    ("unknown-field", _set("admin", True), "admin", "Extra inputs are not permitted"),
    ("missing-field", _delete("predictions"), "predictions", "Field required"),
    ("negative-tokens", _set("predictions[0].output_tokens", -5), "predictions[0].output_tokens",
     "greater than or equal to 0"),
    ("wrong-hash", _set("report.dataset.content_hash", "0" * 64), "report.dataset.content_hash", "wrong or stale"),
    ("stale-hash", None, "report.dataset.content_hash", "wrong or stale"),  # set from the fixture
    ("hash-is-html", _set("report.dataset.content_hash", PAYLOAD), "report.dataset.content_hash", "wrong or stale"),
    ("unknown-release", _set("report.dataset.name", PAYLOAD), "report.dataset", "not a known release"),
    ("wrong-version", _set("report.dataset.dataset_version", "9.9.9"), "report.dataset", "not a known release"),
    ("wrong-config", _set("report.dataset.config", "llama-3-8b"), "report.dataset.config", "not a config"),
    ("wrong-model", _set("report.model", "llama-3-8b"), "report.model", "is for model 'smollm2-135m'"),
    ("model-mismatch", _set("report.model_mismatch", True), "report.model_mismatch", "must be false"),
    ("duplicate-id", _duplicate, "predictions[5].sample_id", "appears twice (first at entry 0)"),
    ("missing-id", _missing, "predictions", "no prediction for 1 of the dataset's 5"),
    ("unknown-id", _set("predictions[2].sample_id", PAYLOAD), "predictions[2].sample_id", "is not a sample"),
    ("claimed-recovery", _set("report.overall.recovery_rate", 1.0), "report.overall.recovery_rate",
     "claimed 1.0, recomputed 0.6666666666666666"),
    ("claimed-task-count", _set("report.by_task[0].recovered", lambda v: v + 1), "report.by_task[0].recovered",
     "claimed 3, recomputed 2"),
    ("claimed-length-shift", _set("report.length_shift.mean", lambda v: v + 1), "report.length_shift.mean",
     "claimed"),
    ("claimed-task-dropped", _task_missing, "report.by_task", "no figures for 'trec'"),
    ("claimed-kv", _set("report.overall.kv_kept", 0.01), "report.overall.kv_kept", "claimed 0.01, recomputed 0.4"),
    ("rule-changed", _set("report.rule.t", 0.5), "report.rule", "the release's is"),
    ("javascript-url", _set("paper_url", "javascript:alert(1)"), "paper_url", "http:// or https://"),
    ("data-url", _set("paper_url", f"data:text/html,{PAYLOAD}"), "paper_url", "http:// or https://"),
    ("url-breaks-attribute", _set("paper_url", 'https://x.org/"onmouseover="alert(1)'), "paper_url",
     "http:// or https://"),
    ("date-is-html", _set("submitted", PAYLOAD), "submitted", "not a date"),
    ("date-invalid", _set("submitted", "2025-02-30"), "submitted", "not a valid date"),
    ("name-newline", _set("name", "ok\n## heading"), "name", "control characters or line breaks"),
    ("name-blank", _set("name", "   "), "name", "blank"),
    ("samples-smuggled", None, "report.samples", "must be empty"),  # set from the fixture
    ("source-is-html", _set("report.source", PAYLOAD), "report.source", "Input should be"),
    ("statistic-is-html", _set("report.rule.statistic", PAYLOAD), "report.rule.statistic", "Input should be"),
    ("group-is-html", _set("report.overall.group", PAYLOAD), "report.overall.group", "claimed"),
    ("task-is-html", _set("report.by_task[0].group", PAYLOAD), "report.by_task", "no figures for 'hotpotqa'"),
    ("throughput-text", _set("report.throughput", {"ratio": "fast"}), "report.throughput.ratio", "positive finite"),
    ("throughput-negative", _set("report.throughput", {"ratio": -2}), "report.throughput.ratio", "positive finite"),
    ("huge-key", _set("report.environment", {"k" * 200_000: "v"}), "report.environment", "a key of 200000"),
    ("not-json", b"{", "(file)", "not valid JSON"),
    ("empty-file", b"", "(file)", "not valid JSON"),
    ("not-utf8", b'\xff\xfe{"name": 1}', "(file)", "not UTF-8"),
    ("top-level-list", b"[]", "(file)", "expected a JSON object"),
    ("deep-nesting", b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "(file)", "nested too deeply"),
    ("nesting-65", b'{"name": ' + b"[" * 65 + b"]" * 65 + b"}", "(file)", "nested too deeply (66 levels"),
    ("ten-million-values", b'{"name": [' + b"0," * 1_500_000 + b'0]}', "(file)", "JSON values, over the limit"),
    ("name-zero-width", _set("name", "snap\u200bkv"), "name", "invisible format character (U+200B)"),
    ("name-rtl-override", _set("name", "\u202evkpans"), "name", "invisible format character (U+202E)"),
    ("name-zalgo", _set("name", "s\u0301\u0302\u0303\u0304napkv"), "name", "combining marks"),
    ("name-trailing-space", _set("name", "snapkv "), "name", "leading or trailing space"),
    ("name-private-use", _set("name", "snap\ue000kv"), "name", "private-use"),
    ("method-zero-width", _set("report.method", "snapkv:ratio=0.5\u200b"), "report.method", "invisible"),
    ("date-2999", _set("submitted", "2999-01-01"), "submitted", "in the future"),
    ("throughput-1e300", _set("report.throughput", {"ratio": 1e300}), "report.throughput.ratio", "up to 1000"),
]


def build_case(world, case_id: str, mutate) -> dict | bytes:
    if isinstance(mutate, bytes):
        return mutate
    data = copy.deepcopy(world["data"])
    if case_id == "stale-hash":
        mutate = _set("report.dataset.content_hash", world["stale"])
    elif case_id == "samples-smuggled":
        mutate = _set("report.samples", [world["sample"]])
    out = mutate(data)
    return out if isinstance(out, bytes) else data


def test_the_base_submission_is_valid(world):
    entry = check(world, world["data"])
    assert entry.overall.recovered == 2 and entry.overall.negatives == 3


@pytest.mark.parametrize(("case_id", "mutate", "field", "text"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_case_is_rejected_with_its_reason(world, case_id, mutate, field, text):
    problems = rejected(world, build_case(world, case_id, mutate))
    assert any(p.startswith(f"{field}: ") and text in p for p in problems), problems
    assert all(len(p) < 1000 for p in problems)  # a 10 MB value is never echoed back


def test_brackets_inside_strings_are_not_counted_as_nesting(world):
    data = copy.deepcopy(world["data"])
    data["report"]["environment"] = {"k": "[{" * 400}
    assert check(world, data).overall.recovered == 2


def test_a_hostile_file_is_refused_with_bounded_memory(world):
    import tracemalloc

    raw = b'{"name": [' + b"1.5," * 3_000_000 + b'1.5]}'  # 12 MB of numbers: gigabytes once parsed
    tracemalloc.start()
    with pytest.raises(SubmissionRejected, match="JSON values, over the limit"):
        parse_submission(raw, "case")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6 * len(raw), peak


def test_a_symlinked_submission_is_refused(world, tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("/etc/passwd")
    with pytest.raises(SubmissionRejected, match="symbolic link"):
        validate_submission(link, world["registry"])


def test_look_alike_names_and_identical_predictions_are_rejected_on_the_board(world, tmp_path):
    root = tmp_path / "leaderboard"
    (root / "submissions").mkdir(parents=True)
    (root / "releases.json").write_text((world["root"] / "releases.json").read_text())
    shutil.copytree(world["root"] / "releases", root / "releases")
    variants = {"a": "snapkv:ratio=0.5", "b": "snapkv:ratio=0.5", "c": "snаpkv:ratio=0.5",  # Cyrillic a
                "d": "SNAPKV:RATIO=0.5", "e": "ｓｎａｐｋｖ:ratio=0.5", "f": "other name"}
    for file_id, name in variants.items():
        data = copy.deepcopy(world["data"])
        data["name"] = name
        if file_id not in "af":  # b-e differ from a in predictions: caught by their names alone
            data["predictions"][-1]["prediction"] += f" zz{file_id}"  # a miss stays a miss
        (root / "submissions" / f"{file_id}.json").write_text(json.dumps(data, ensure_ascii=False))
    result = build_leaderboard(root, write=False)
    assert [e.id for e in result.entries] == ["a"]
    reasons = {r.file: r.reason for r in result.rejected}
    for file_id in "bcde":
        assert "looks the same as 'snapkv:ratio=0.5' (a.json)" in reasons[f"{file_id}.json"]
    assert "identical to the predictions of" in reasons["f.json"]


def test_a_file_over_the_size_cap_is_refused_before_reading(world, tmp_path, monkeypatch):
    monkeypatch.setattr(lb_submissions, "MAX_SUBMISSION_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(world["data"]))
    with pytest.raises(SubmissionRejected, match=r"\(file\): \d+ bytes, over the limit of 1000"):
        validate_submission(path, world["registry"])


# --------------------------------------------------------------------------- script and HTML in every text field


def _text_fields(data, loc=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _text_fields(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _text_fields(value, (*loc, index))
    elif isinstance(data, str):
        yield loc


def _name(loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))


# Free text that is shown (escaped) or never shown: accepted as it is. Everything else is checked
# against the release or a fixed vocabulary, so the payload is rejected there, under this field:
# The serving estimate (`negsamp plan` figures in report.json) is never shown on the board.
INERT = re.compile(r"name|report\.method|report\.negsamp_version|report\.dataset\.location|report\.environment\..*"
                   r"|report\.estimate\..*")
REJECTED_AS = [
    (re.compile(r"report\.dataset\.(name|dataset_version)"), "report.dataset"),
    (re.compile(r"report\.rule\.baseline"), "report.rule"),
    (re.compile(r"report\.(by_task|by_category)\[\d+\]\.group"), None),  # the list: "no figures for ..."
    (re.compile(r"predictions\[\d+\]\.prediction"), "report."),  # re-scored: the claims may no longer match
]
SCORED = re.compile(r"predictions\[\d+\]\.prediction")


def test_script_and_html_in_every_text_field(world, tmp_path):
    fields = [loc for loc in _text_fields(world["data"])]
    assert len(fields) > 20
    accepted = []
    for loc in fields:
        name = _name(loc)
        data = copy.deepcopy(world["data"])
        _set(name, PAYLOAD)(data)
        if INERT.fullmatch(name):
            accepted.append((name, check(world, data)))
            continue
        if SCORED.fullmatch(name):  # a miss stays a miss (accepted); a hit turns into a miss (claims differ)
            original = world["data"]["predictions"][loc[1]]
            row = next(r for r in world["rows"] if r.sample_id == original["sample_id"])
            if original["prediction"] != row.answers[0]:
                accepted.append((name, check(world, data)))
                continue
        problems = rejected(world, data)
        expected = next((prefix for pattern, prefix in REJECTED_AS if pattern.fullmatch(name)), name)
        if expected is None:
            expected = name.rsplit("[", 1)[0]
        assert any(p.startswith(expected) for p in problems), (name, problems)
    assert {n for n, _ in accepted} >= {"name", "report.method"}


def test_hostile_predictions_with_honest_claims_are_scored_and_never_shown(world, tmp_path):
    rows = world["rows"]
    hostile = predictions_for(rows, set(), text=PAYLOAD)
    submission = submission_for(world["evaluation"], hostile)
    entry = validate_submission(submission, world["registry"], entry_id="x")
    assert entry.overall.recovered == 0


# --------------------------------------------------------------------------- none reaches the page


def test_build_with_the_whole_corpus_renders_only_the_valid_entry(world, tmp_path):
    root = tmp_path / "leaderboard"
    (root / "submissions").mkdir(parents=True)
    (root / "releases.json").write_text((world["root"] / "releases.json").read_text())
    shutil.copytree(world["root"] / "releases", root / "releases")  # a symlinked release folder is refused
    for case_id, mutate, _, _ in CORPUS:
        case = build_case(world, case_id, mutate)
        raw = case if isinstance(case, bytes) else json.dumps(case).encode()
        (root / "submissions" / f"{case_id}.json").write_bytes(raw)
    # Valid but hostile-looking: shown, as text.
    good = copy.deepcopy(world["data"])
    good["name"] = "<b onmouseover=alert(1)>bold</b> & <i>co</i>"
    good["report"]["method"] = "h2o:ratio=0.5</td><td>"
    (root / "submissions" / "zz-valid.json").write_text(json.dumps(good))

    result = build_leaderboard(root)
    assert [e.id for e in result.entries] == ["zz-valid"]
    assert sorted(r.file for r in result.rejected) == sorted(f"{c[0]}.json" for c in CORPUS)
    by_file = {r.file: r for r in result.rejected}
    for case_id, _, field, text in CORPUS:
        reasons = [str(p) for p in by_file[f"{case_id}.json"].problems]
        assert any(p.startswith(f"{field}: ") and text in p for p in reasons), (case_id, reasons)

    page = (root / "site" / "index.html").read_text()
    table = (root / "site" / "leaderboard.json").read_text()
    readme = (root / "README.md").read_text()
    for text in (page, table):
        assert MARKER not in text  # no rejected submission reaches the page or its data
        assert "AAAAAAAAAA" not in text and "mmmmmmmmmm" not in text
    assert "&lt;b onmouseover=alert(1)&gt;bold&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt;" in page
    assert "h2o:ratio=0.5&lt;/td&gt;&lt;td&gt;" in page
    assert "<b " not in page and "<i>" not in page and "</td><td></td>" not in page
    for text in (readme,):
        assert "<script" not in text and "<img" not in text and "<b " not in text
        assert len(text) < 200_000  # rejection reasons never quote a huge value
    assert "Rejected submissions" in readme and "name-10MB.json" in readme.replace("\\", "")

