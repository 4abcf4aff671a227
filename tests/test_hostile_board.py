"""The board cannot be won by claims: unverified rows never outrank verified ones, KV and throughput are
claims unless we measured them, uncompressed entries are not ranked, mining methods are labelled, control
collapse is flagged, and predictions must fit the generation budget. Part of the hostile corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_leaderboard import make_board, predictions_for, write_submission, write_verification

from negsamp.leaderboard import Registry, SubmissionRejected, build_leaderboard, validate_submission
from negsamp.leaderboard.budget import MAX_CHARS_PER_TOKEN

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def board(tmp_path):
    root, evaluation = make_board(tmp_path / "leaderboard")
    return root, evaluation, [row for _, row in evaluation.all_rows()]


def _entries(root):
    return {e["id"]: e for e in json.loads((root / "site" / "leaderboard.json").read_text())["entries"]}


def test_claims_never_outrank_a_verified_row(board):
    root, evaluation, rows = board
    everything = {r.sample_id for r in rows}
    # The attacker copies the public answers and claims a real method run with 1-byte KV.
    # (A throughput claim is a typed record checked by the corpus; here the KV claim is the attack.)
    write_submission(root, evaluation, "cheat", predictions_for(rows, everything, kv=1), name="Cheat",
                     method="snapkv:ratio=0.01")
    # The baseline's own predictions, as a new user would submit them.
    write_submission(root, evaluation, "baseline", {r.sample_id: (r.baseline.prediction, 12, None) for r in rows},
                     name="Baseline copy", method="none")
    write_submission(root, evaluation, "honest", predictions_for(rows, {rows[0].sample_id}), name="Honest")
    write_submission(root, evaluation, "uncompressed", predictions_for(rows, {rows[1].sample_id}, kv=1000),
                     name="Full KV")
    write_verification(root, "honest", 0.4)
    write_verification(root, "uncompressed", 1.0)
    result = build_leaderboard(root)
    assert not result.rejected
    assert [e.id for e in result.entries][0] == "honest"
    entries = _entries(root)
    assert entries["honest"]["rank"] == 1 and entries["honest"]["kv_kept"] == 0.4
    for file_id in ("cheat", "baseline", "uncompressed"):
        assert entries[file_id]["rank"] is None, file_id
    assert entries["cheat"]["status"].startswith("unverified claim") and entries["cheat"]["kv_kept"] is None
    assert entries["uncompressed"]["status"] == "verified; not ranked (KV not compressed)"
    readme = (root / "README.md").read_text()
    cheat = next(line for line in readme.splitlines() if "[Cheat](" in line)
    assert cheat.startswith("| — | — |") and "claimed 0.1%" in cheat
    assert "| claimed | not re-run here |" in cheat and "✓ verified" not in cheat
    assert entries["baseline"]["method_type"] == "baseline" and entries["cheat"]["method_type"] == "eviction"


def test_a_stale_or_failed_verification_does_not_count(board):
    root, evaluation, rows = board
    path = write_submission(root, evaluation, "a", predictions_for(rows, set()), name="A")
    write_verification(root, "a", 0.4)
    path.write_text(path.read_text() + " ")  # edited after verification
    assert _rank_after_build(root, "a") is None
    write_verification(root, "a", 0.4, verified=False)
    assert _rank_after_build(root, "a") is None
    write_verification(root, "a", 0.4)
    assert _rank_after_build(root, "a") == 1


def _rank_after_build(root, file_id):
    build_leaderboard(root)
    return _entries(root)[file_id]["rank"]


def test_mining_methods_are_labelled_and_control_collapse_is_flagged(board):
    root, evaluation, rows = board
    write_submission(root, evaluation, "mined", predictions_for(rows, set()), name="Mined", method="snapkv:ratio=0.5")
    build_leaderboard(root)
    entry = _entries(root)["mined"]
    assert entry["mined"] is True
    assert any("control retention collapsed" in w for w in entry["warnings"])
    readme = (root / "README.md").read_text()
    assert "mined with: not held out" in readme and "control retention collapsed" in readme


def test_a_prediction_longer_than_the_budget_is_refused_before_scoring(board):
    root, evaluation, rows = board
    long = "12345 " * (rows[0].max_new_tokens * MAX_CHARS_PER_TOKEN // 6 + 1)
    predictions = predictions_for(rows, set())
    predictions[rows[0].sample_id] = (long, 12, 400)
    path = write_submission(root, evaluation, "long", predictions)
    with pytest.raises(SubmissionRejected, match=r"predictions\[0\]\.prediction: \d+ characters: cannot fit"):
        validate_submission(path, Registry.load(root))


@pytest.fixture(scope="module")
def real_board(tmp_path_factory):
    """A copy of the committed board: its release's model has a real tokenizer (bundled)."""
    root = tmp_path_factory.mktemp("real") / "leaderboard"
    shutil.copytree(REPO / "leaderboard" / "releases", root / "releases")
    shutil.copytree(REPO / "leaderboard" / "submissions", root / "submissions")
    shutil.copy(REPO / "leaderboard" / "releases.json", root / "releases.json")
    return root


def _mutated(real_board, name: str, change) -> Path:
    data = json.loads((real_board / "submissions" / "streamingllm-ratio-0.5.json").read_text())
    change(data)
    path = real_board / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_every_pass_key_in_one_prediction_is_refused(real_board):
    keys = " ".join(f"{k:05d}" for k in range(100_000))[:100_000]
    path = _mutated(real_board, "all-keys", lambda d: d["predictions"][0].update(prediction=keys))
    with pytest.raises(SubmissionRejected, match=r"predictions\[0\]\.prediction: 100000 characters: cannot fit"):
        validate_submission(path, Registry.load(real_board))


def test_output_tokens_must_agree_with_the_text(real_board):
    def zero(data):
        for p in data["predictions"]:
            p["output_tokens"] = 0

    path = _mutated(real_board, "zero-tokens", zero)
    with pytest.raises(SubmissionRejected, match=r"output_tokens: 0, but the text is \d+ tokens"):
        validate_submission(path, Registry.load(real_board))


def test_a_few_tokens_over_max_new_tokens_is_refused(real_board):
    path = _mutated(real_board, "over", lambda d: d["predictions"][0].update(
        prediction=" 6281601. And here are many more words than the budget allows for this sample."))
    with pytest.raises(SubmissionRejected, match=r"tokens with the release model's tokenizer, over"):
        validate_submission(path, Registry.load(real_board))


def test_the_seeded_submissions_fit_their_budget(real_board):
    registry = Registry.load(real_board)
    for path in sorted((real_board / "submissions").glob("*.json")):
        assert validate_submission(path, registry).claims_checked > 0
