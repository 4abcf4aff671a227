"""The leaderboard: registry, validation with re-scoring, build, rendering (no model, no network)."""

from __future__ import annotations

import ast
import datetime as dt
import html
import json
import re
import socket
import statistics
from pathlib import Path

import pytest
from dataset_factory import context, control_rows, negative_rows, write_example

from negsamp.cli import main
from negsamp.dataset import write_dataset
from negsamp.errors import InputError
from negsamp.evaluator import Evaluation
from negsamp.leaderboard import (
    Registry,
    SubmissionRejected,
    add_release,
    build_leaderboard,
    md_text,
    parse_submission,
    validate_submission,
)
from negsamp.submission import make_submission

REPO = Path(__file__).resolve().parents[1]
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & co'
DATE = dt.date(2025, 6, 1)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


# --------------------------------------------------------------------------- helpers (used by the other files)


def make_board(root: Path, **overrides) -> tuple[Path, Evaluation]:
    """A leaderboard folder with one release: the hand-made dataset of `dataset_factory`."""
    source = root.parent / f"{root.name}-dataset"
    write_example(source, **overrides)
    root.mkdir(parents=True, exist_ok=True)
    release = add_release(root, source)
    return root, Evaluation(Registry.load(root).folder(release), config=release.config)


def write_rebuilt(path: Path) -> Path:
    """The same dataset name and version with other rows (one control sample fewer): another content hash."""
    write_dataset(path, name="negsamp-test", version="0.1.0", config="smollm2-135m",
                  negative_rows=negative_rows(), control_rows=control_rows()[:1], card_context=context())
    return path


def predictions_for(rows, correct: set[str], *, tokens: int = 12, kv: int | None = 400,
                    text: str | None = None) -> dict[str, tuple[str, int | None, int | None]]:
    """sample_id -> (prediction, output tokens, KV bytes): the gold answer for `correct`, else a miss."""
    return {
        r.sample_id: (text if text is not None else (r.answers[0] if r.sample_id in correct else "no idea"),
                      tokens, kv)
        for r in rows
    }


def submission_for(evaluation: Evaluation, predictions, *, name: str = "Test method",
                   method: str = "snapkv:ratio=0.25", paper_url: str | None = "https://arxiv.org/abs/2503.24000"):
    results = evaluation.score(predictions)
    report = evaluation.report(results, model=evaluation.entry.model, method=method, source="method")
    return make_submission(report, name=name, paper_url=paper_url, date=DATE)


def write_submission(root: Path, evaluation: Evaluation, file_id: str, predictions, **kwargs) -> Path:
    path = root / "submissions" / f"{file_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(submission_for(evaluation, predictions, **kwargs).model_dump_json(indent=1) + "\n")
    return path


@pytest.fixture
def board(tmp_path):
    root, evaluation = make_board(tmp_path / "leaderboard")
    rows = [row for _, row in evaluation.all_rows()]
    return root, evaluation, rows


# --------------------------------------------------------------------------- registry


def test_add_release_copies_verifies_and_registers(tmp_path):
    root, evaluation = make_board(tmp_path / "lb")
    registry = Registry.load(root)
    (release,) = registry.releases
    assert release.path == "releases/negsamp-test-0.1.0"
    assert release.content_hash == evaluation.manifest.content_hash
    assert release.model == "smollm2-135m" and release.config == "smollm2-135m"
    before = (root / "releases.json").read_bytes()
    add_release(root, tmp_path / "lb-dataset")  # same content again: nothing changes
    assert (root / "releases.json").read_bytes() == before

    other = write_rebuilt(tmp_path / "other")
    with pytest.raises(InputError, match="already has negsamp-test 0.1.0"):
        add_release(root, other)
    replaced = add_release(root, other, replace=True)
    assert replaced.content_hash != release.content_hash
    assert [r.content_hash for r in Registry.load(root).releases] == [replaced.content_hash]


def test_tampered_release_is_an_error_not_a_rejection(board):
    root, evaluation, rows = board
    write_submission(root, evaluation, "one", predictions_for(rows, set()))
    registry = json.loads((root / "releases.json").read_text())
    registry["releases"][0]["content_hash"] = "0" * 64
    (root / "releases.json").write_text(json.dumps(registry))
    with pytest.raises(InputError, match="registry says content_hash"):
        build_leaderboard(root)
    registry["releases"][0]["path"] = "../elsewhere"
    (root / "releases.json").write_text(json.dumps(registry))
    with pytest.raises(InputError, match="without '..'"):
        build_leaderboard(root)


# --------------------------------------------------------------------------- validation and re-scoring


def test_valid_submission_is_rescored_from_predictions(board):
    root, evaluation, rows = board
    hotpot = {r.sample_id for r in rows if r.task == "hotpotqa"}
    path = write_submission(root, evaluation, "good", predictions_for(rows, hotpot, tokens=15, kv=250))
    entry = validate_submission(path, Registry.load(root))
    # hotpotqa negatives are recovered by the gold answer; trec's answers are not among its classes: never.
    o = entry.overall
    assert (o.negatives, o.recovered, o.control, o.control_retained) == (3, 2, 2, 1)
    assert o.recovery_rate == pytest.approx(2 / 3)
    assert o.kv_kept == pytest.approx(0.25)  # 250 submitted bytes / 1000 baseline bytes
    baseline_tokens = [r.baseline.output_tokens for r in rows]
    assert o.output_length_ratio == pytest.approx(15 / (sum(baseline_tokens) / len(baseline_tokens)))
    assert [g.group for g in entry.by_task] == ["hotpotqa", "trec"]
    assert entry.by_task[0].recovered == 2 and entry.by_task[1].recovered == 0
    assert entry.id == "good" and entry.submitted == "2025-06-01"
    assert entry.claims_checked > 40


def test_claims_are_ignored_and_a_disagreement_rejects(board):
    root, evaluation, rows = board
    path = write_submission(root, evaluation, "liar", predictions_for(rows, set()))
    data = json.loads(path.read_text())
    data["report"]["overall"]["recovery_rate"] = 0.9
    data["report"]["overall"]["recovered"] = 3
    data["report"]["by_task"][0]["kv_kept"] = 0.01
    path.write_text(json.dumps(data))
    with pytest.raises(SubmissionRejected) as caught:
        validate_submission(path, Registry.load(root))
    found = {str(p) for p in caught.value.problems}
    assert "report.overall.recovery_rate: claimed 0.9, recomputed 0.0" in found
    assert "report.overall.recovered: claimed 3, recomputed 0" in found
    assert any(p.startswith("report.by_task[0].kv_kept: claimed 0.01, recomputed 0.4") for p in found)
    # Within tolerance is agreement.
    data = json.loads(write_submission(root, evaluation, "close", predictions_for(rows, set())).read_text())
    data["report"]["overall"]["relative_score"] += 1e-12
    assert validate_submission(parse_submission(json.dumps(data).encode()), Registry.load(root))


def test_validate_accepts_a_parsed_submission(board):
    root, evaluation, rows = board
    submission = submission_for(evaluation, predictions_for(rows, set()))
    entry = validate_submission(submission, Registry.load(root), entry_id="x")
    assert entry.id == "x" and entry.overall.recovered == 0


# --------------------------------------------------------------------------- CLI


def test_cli_validate(board, capsys):
    root, evaluation, rows = board
    good = write_submission(root, evaluation, "good", predictions_for(rows, {rows[0].sample_id}))
    assert main(["leaderboard", "validate", str(good), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "negatives recovered: 1/3 (33.3%)" in out
    bad = root / "bad.json"
    data = json.loads(good.read_text())
    data["predictions"].append(data["predictions"][0])
    data["report"]["dataset"]["content_hash"] = "f" * 64
    bad.write_text(json.dumps(data))
    assert main(["leaderboard", "validate", str(bad), "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "rejected" in err and "report.dataset.content_hash:" in err


def test_cli_build_check_and_strict(board, capsys):
    root, evaluation, rows = board
    write_submission(root, evaluation, "a", predictions_for(rows, set()))
    assert main(["leaderboard", "build", "--root", str(root), "--check"]) == 1  # nothing rendered yet
    assert main(["leaderboard", "build", "--root", str(root)]) == 0
    assert main(["leaderboard", "build", "--root", str(root), "--check"]) == 0
    (root / "submissions" / "broken.json").write_text("{")
    capsys.readouterr()
    assert main(["leaderboard", "build", "--root", str(root), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "1 submission(s) accepted, 1 rejected" in out and "rejected broken.json: (file): not valid JSON" in out


def test_cli_add_release(tmp_path, capsys):
    write_example(tmp_path / "ds")
    assert main(["leaderboard", "add-release", str(tmp_path / "ds"), "--root", str(tmp_path / "lb")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "lb" / "releases" / "negsamp-test-0.1.0")


# --------------------------------------------------------------------------- build and rendering


def _three(root, evaluation, rows):
    everything = {r.sample_id for r in rows}
    write_submission(root, evaluation, "all", predictions_for(rows, everything), name="Gold oracle")
    write_submission(root, evaluation, "none", predictions_for(rows, set()), name="Misses all", paper_url=None)
    write_submission(root, evaluation, "hostile", predictions_for(rows, {rows[0].sample_id}), name=HOSTILE_NAME,
                     method="h2o:ratio=0.5|<b>bold</b>", paper_url="https://example.org/p?a=1&b=(2)")


def write_verification(root: Path, file_id: str, kv_kept: float | None, *, verified: bool = True) -> None:
    """A verification record as `negsamp leaderboard verify` writes it (the re-run itself needs a real model)."""
    from negsamp.leaderboard import VERIFIED_DIR, Registry, Verification
    from negsamp.leaderboard.verify import file_sha256

    path = root / "submissions" / f"{file_id}.json"
    (release,) = Registry.load(root).releases
    record = Verification(submission_sha256=file_sha256(path), content_hash=release.content_hash, method="x",
                          samples=5, matching=5 if verified else 4, verified=verified, kv_kept=kv_kept,
                          negsamp_version="0", environment={})
    (root / VERIFIED_DIR).mkdir(exist_ok=True)
    (root / VERIFIED_DIR / f"{file_id}.json").write_text(record.model_dump_json())


def test_build_renders_sorted_escaped_and_deterministic(board):
    root, evaluation, rows = board
    _three(root, evaluation, rows)
    for file_id in ("all", "hostile", "none"):
        write_verification(root, file_id, 0.4)
    result = build_leaderboard(root)
    assert [e.id for e in result.entries] == ["all", "hostile", "none"]  # by recovery, best first
    assert not result.rejected
    readme = (root / "README.md").read_text()
    page = (root / "site" / "index.html").read_text()
    data = json.loads((root / "site" / "leaderboard.json").read_text())
    assert [e["name"] for e in data["entries"]] == ["Gold oracle", HOSTILE_NAME, "Misses all"]
    assert [e["rank"] for e in data["entries"]] == [1, 2, 3]
    assert {e["budget_class"] for e in data["entries"]} == {"KV ≤ 50%"}

    # Markdown: table rows in order, submitted text inert, the pipe in the spec does not split a cell.
    table = [line for line in readme.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[0] for line in table] == ["| 1", "| 2", "| 3"]
    assert "Gold oracle" in table[0] and "Misses all" in table[2]
    assert "<img" not in readme and "<script" not in readme and "<b>" not in readme
    assert md_text(HOSTILE_NAME) in table[1]
    assert "h2o:ratio=0.5\\|&lt;b&gt;bold&lt;/b&gt;" in table[1]
    assert all(line.count(" | ") == 13 for line in table)
    assert "(https://example.org/p?a=1&b=%282%29)" in table[1]
    assert "66.7% (2/3)" in table[0]
    # type badge, relative score (mean(o) / mean(b) over negatives and control), verified badge
    gold, misses = data["entries"][0], data["entries"][2]
    assert gold["method_type"] == "eviction" and data["entries"][1]["method_type"] == "other"  # malformed spec
    scored = evaluation.score(predictions_for(rows, {r.sample_id for r in rows}))
    assert gold["relative_score"] == pytest.approx(  # mean over samples of o, over mean of b: not capped per sample
        statistics.fmean(s.score for s in scored) / statistics.fmean(s.baseline_score for s in scored))
    assert f"| {gold['relative_score']:.3f} |" in table[0] and "| `eviction` |" in table[0]
    assert "| ✓ verified |" in table[0] and "unverified" not in readme.split("## ")[-2]
    # no paper_url: the name links to the paper of the method the spec names (SnapKV)
    assert misses["paper_url"] is None and misses["link"] == "https://arxiv.org/abs/2404.14469"
    assert "[Misses all](https://arxiv.org/abs/2404.14469)" in table[2]
    # the chart: a PNG per release, referenced from README.md, and inline SVG in the page
    (chart,) = [r["chart"] for r in data["releases"]]
    assert chart == "charts/negsamp-test-0.1.0-smollm2-135m.png" and f"]({chart})" in readme
    assert (root / chart).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and result.files[chart]

    # HTML: escaped text, links only where submitted, nothing external, inline code allowed by its hash.
    assert "<img" not in page and "<b>bold" not in page
    assert html.escape(HOSTILE_NAME, quote=True) in page
    assert 'href="https://example.org/p?a=1&amp;b=(2)"' in page
    tags = _tags(page)
    assert {t for t, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "code",
                                    "q", "div", "label", "input", "span", "table", "thead", "tbody", "tr", "th",
                                    "td", "button", "a", "script", "section", "figure", "svg", "g", "line",
                                    "circle", "rect", "text"}
    assert page.count("<svg") == 1 and sum(t == "circle" for t, _ in tags) >= 3
    attributes = {name for _, attrs in tags for name, _ in attrs}
    assert not attributes & {"src", "srcset", "action", "formaction", "poster", "style", "background"}
    assert not any(name.startswith("on") for name in attributes)
    assert [v for _, attrs in tags for n, v in attrs if n == "href"] == ["https://arxiv.org/abs/2503.24000",
                                                                         "https://example.org/p?a=1&b=(2)",
                                                                         "https://arxiv.org/abs/2404.14469"]
    assert "<link" not in page and "@import" not in page and "url(" not in page
    island = re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', page, re.S)
    assert "<" not in island.group(1) and json.loads(island.group(1)) == data
    assert page.count("<script") == 2
    assert "default-src 'none'" in page and "'unsafe-inline'" not in page

    # Regenerating gives identical files; --check style run finds nothing to change.
    before = {p: (root / p).read_bytes() for p in result.files}
    again = build_leaderboard(root)
    assert again.changed == [] and {p: (root / p).read_bytes() for p in result.files} == before


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(page)
    return found


def test_csp_hashes_match_inline_code(board):
    import base64
    import hashlib

    root, evaluation, rows = board
    _three(root, evaluation, rows)
    page = build_leaderboard(root).files["site/index.html"]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


def test_empty_board_renders(tmp_path):
    root = tmp_path / "lb"
    root.mkdir()
    (root / "releases.json").write_text('{"version": 1, "releases": []}\n')
    result = build_leaderboard(root)
    assert result.entries == [] and "No release is registered yet." in result.files["README.md"]
    assert "No accepted submission yet." in result.files["site/index.html"]


def test_stale_submission_after_a_new_release_is_rejected(board, tmp_path):
    root, evaluation, rows = board
    write_submission(root, evaluation, "old", predictions_for(rows, set()))
    write_rebuilt(tmp_path / "v2")
    add_release(root, tmp_path / "v2", replace=True)
    result = build_leaderboard(root)
    assert result.entries == []
    (rejection,) = result.rejected
    assert rejection.file == "old.json"
    assert rejection.problems[0].field == "report.dataset.content_hash"
    assert "stale" in rejection.problems[0].problem
    assert "old.json" in result.files["README.md"] and "Rejected submissions" in result.files["README.md"]


# --------------------------------------------------------------------------- the app and the committed board


def test_app_imports_only_gradio_and_the_stdlib():
    app = REPO / "leaderboard" / "app.py"
    tree = ast.parse(app.read_text(), filename=str(app))
    compile(tree, str(app), "exec")
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "gradio", "json", "pathlib", "html", "os"}, imported
    assert "site/leaderboard.json" in app.read_text() or '"leaderboard.json"' in app.read_text()


def test_committed_leaderboard_is_regenerated_not_hand_edited():
    root = REPO / "leaderboard"
    if not (root / "releases.json").is_file():
        pytest.skip("no leaderboard folder in this checkout")
    result = build_leaderboard(root, write=False)
    assert result.changed == [], f"run `negsamp leaderboard build`: {result.changed} are out of date"
    assert result.rejected == [], [r.reason for r in result.rejected]


@pytest.mark.parametrize("env, expected", [
    ({}, []),
    ({"THROUGHPUT": "1"}, ["--throughput", "--throughput-batch-sizes", "1"]),
    ({"THROUGHPUT": "1", "THROUGHPUT_ARGS": "--throughput-prompt-len 256"}, ["--throughput",
                                                                             "--throughput-prompt-len", "256"]),
])
def test_seed_script_times_methods_only_when_asked(tmp_path, env, expected):
    """scripts/seed_leaderboard.sh with a stand-in `negsamp` that records its arguments."""
    import os
    import subprocess

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    stub = bin_dir / "negsamp"
    stub.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> {log}\n'
                    f'if [ "$1 $2" = "leaderboard add-release" ]; then echo {tmp_path}/release; fi\n')
    stub.chmod(0o755)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "manifest.json").write_text("{}")
    subprocess.run(["bash", str(REPO / "scripts" / "seed_leaderboard.sh")], check=True, capture_output=True,
                   env={**os.environ, "BIN": str(bin_dir), "DATASET": str(tmp_path / "ds"), "METHODS": "knorm:ratio=0.5",
                        "ROOT": str(tmp_path / "lb"), "OUT": str(tmp_path / "out"), **env})
    evaluate = next(line.split() for line in log.read_text().splitlines() if line.startswith("evaluate "))
    assert evaluate[evaluate.index("--no-progress") + 1:] == expected
