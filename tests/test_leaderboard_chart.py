"""The board's method badges and paper links, its score-vs-KV-kept charts, and a release with no submission."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_leaderboard import make_board, predictions_for, write_submission, write_verification

from negsamp.cli import main
from negsamp.leaderboard import add_release, build_leaderboard
from negsamp.leaderboard.chart import CHAR_PX, FONT_PX, X_CAP, layout
from negsamp.leaderboard.method_meta import method_meta
from negsamp.methods import available_methods

REPO = Path(__file__).resolve().parents[1]
PAPER_RELEASE = REPO / "leaderboard" / "releases" / "negsamp-paper-0.1.0"


# --------------------------------------------------------------------------- method type and paper


def test_every_built_in_compression_method_names_its_paper_and_type():
    for name, cls in available_methods().items():
        if name in ("none", "press"):
            continue
        assert cls.family in ("eviction", "quantization"), name
        assert cls.paper_url.startswith("https://arxiv.org/abs/"), name
    assert method_meta("snapkv:ratio=0.5", "method").paper_url == "https://arxiv.org/abs/2404.14469"
    assert method_meta("kivi:bits=2", "method").type == "quantization"
    assert method_meta("none", "method").type == "baseline"


def test_unknown_malformed_and_elsewhere_made_methods_are_other():
    assert method_meta("my_method:x=1", "method") == method_meta("h2o:ratio=oops", "method")
    assert method_meta("h2o:ratio=oops", "method").type == "other"
    elsewhere = method_meta("kivi:bits=4", "predictions")
    assert (elsewhere.type, elsewhere.paper_url) == ("other", None)
    assert elsewhere.canonical == "kivi:bits=4,group=32,residual=128"  # still matched against the mined methods


def test_a_press_spec_is_an_eviction_method_and_is_never_imported():
    meta = method_meta("press:cls=negsamp_board_never_imported:Press,compression_ratio=0.5", "method")
    assert (meta.type, meta.paper_url, meta.canonical) == ("eviction", None, None)
    assert "negsamp_board_never_imported" not in sys.modules


# --------------------------------------------------------------------------- charts


def _row(name: str, x: float | None, y: float | None, *, verified: bool = True) -> dict:
    return {"name": name, "method": "snapkv:ratio=0.5", "kv_kept_shown": x, "relative_score": y,
            "verified": verified, "method_type": "eviction"}


def test_layout_keeps_labels_apart_and_lists_what_it_cannot_plot():
    rows = [_row(f"method number {i}", 0.5, 0.9) for i in range(5)]
    rows += [_row("no kv", None, 0.8), _row("huge claim", X_CAP * 10, 0.5, verified=False)]
    frame = layout(rows)
    assert [p.point.name for p in frame.placed] == [f"method number {i}" for i in range(5)]
    assert frame.skipped == ["no kv (no KV kept figure)", "huge claim (off the axes: KV kept 20, relative score 0.5)"]
    boxes = []
    for p in frame.placed:
        width = len(p.point.label) * CHAR_PX
        x0 = p.tx if p.anchor == "start" else p.tx - width
        boxes.append((x0, p.ty - FONT_PX, x0 + width, p.ty + 2))
    for i, a in enumerate(boxes):  # five labels for one spot: none on top of another
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    assert frame.y_max == 1.1 and frame.x_max == 1.0 and frame.y_ticks[-1] == 1.0


def test_chart_marks_claims_hollow_lists_rows_without_kv_and_is_removed_when_stale(tmp_path, capsys):
    root, evaluation = make_board(tmp_path / "leaderboard")
    rows = [row for _, row in evaluation.all_rows()]
    write_submission(root, evaluation, "measured", predictions_for(rows, {rows[0].sample_id}), name="Measured")
    write_submission(root, evaluation, "claimed", predictions_for(rows, set()), name="Claimed")
    write_submission(root, evaluation, "no-kv", predictions_for(rows, set(), kv=None, text="x"), name="No KV")
    write_verification(root, "measured", 0.4)
    result = build_leaderboard(root)
    page, readme = result.files["site/index.html"], result.files["README.md"]
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('fill="#fff" stroke="#0b5cad"') == 1  # the claimed row: hollow
    assert svg.count('fill="#0b5cad" stroke="#0b5cad"') == 2  # the verified row, and its legend entry
    assert "Measured [snapkv:ratio=0.25]" in svg and "No KV" not in svg
    assert "Not in the chart: No KV (no KV kept figure)." in readme and "Not in the chart: No KV" in page
    chart = root / "charts" / "negsamp-test-0.1.0-smollm2-135m.png"
    assert chart.is_file()
    for path in (root / "submissions").glob("*.json"):
        path.unlink()
    assert main(["leaderboard", "build", "--root", str(root), "--check"]) == 1  # the chart is stale
    assert f"out of date: {chart}" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--root", str(root)]) == 0
    assert not chart.exists() and f"removed {chart}" in capsys.readouterr().out
    assert "<svg" not in (root / "site" / "index.html").read_text()


def test_the_same_rows_give_the_same_png_bytes(tmp_path):
    from negsamp.leaderboard.chart_png import render_png

    rows = [_row("A", 0.25, 1.0), _row("B", 0.5, 0.7, verified=False)]
    assert render_png(rows, "t") == render_png(rows, "t")
    assert render_png(rows, "t") != render_png(rows[:1], "t")


# --------------------------------------------------------------------------- a release with no submission


@pytest.fixture
def paper_board(tmp_path):
    if not (PAPER_RELEASE / "manifest.json").is_file():
        pytest.skip("the committed paper-import release is not in this checkout")
    root, _ = make_board(tmp_path / "leaderboard")
    add_release(root, PAPER_RELEASE)
    return root


def test_a_scores_only_release_without_submissions_renders(paper_board):
    result = build_leaderboard(paper_board)
    data = json.loads(result.files["site/leaderboard.json"])
    paper = next(r for r in data["releases"] if r["name"] == "negsamp-paper")
    assert paper["config"] == "meta-llama-3-8b-instruct" and paper["model"] == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert (paper["negatives"], paper["control"], paper["tasks"]) == (15, 0, ["gov_report"])
    assert paper["scores_only"] is True and paper["chart"] is None
    readme = result.files["README.md"]
    section = readme[readme.index("## negsamp-paper 0.1.0"):readme.index("## negsamp-test")]
    assert "No submission yet." in section and "Scores only" in section
    assert "needs a machine that runs meta-llama/Meta-Llama-3-8B-Instruct" in section and "![" not in section
    assert "--dataset leaderboard/releases/negsamp-paper-0.1.0 --method SPEC" in section
    page = result.files["site/index.html"]
    assert "No submission yet. Scores only" in page and "<svg" not in page
    assert not (paper_board / "charts").exists()


def test_the_committed_board_registers_both_releases_and_charts_them():
    registry = json.loads((REPO / "leaderboard" / "releases.json").read_text())
    registered = {(r["name"], r["dataset_version"], r["config"]) for r in registry["releases"]}
    assert registered >= {("negsamp-paper", "0.1.0", "meta-llama-3-8b-instruct"),
                          ("negsamp-tiny", "0.1.0", "smollm2-135m-instruct"),
                          ("negsamp-tiny", "0.2.0", "smollm2-135m-instruct")}
    readme = (REPO / "leaderboard" / "README.md").read_text()
    for chart in sorted((REPO / "leaderboard" / "charts").glob("*.png")):
        assert f"](charts/{chart.name})" in readme



def test_a_name_that_looks_like_mathtext_is_drawn_as_text(tmp_path):
    """matplotlib reads `$...$` as mathtext; a malformed one in a valid name must not stop the build."""
    root, evaluation = make_board(tmp_path / "leaderboard")
    rows = [row for _, row in evaluation.all_rows()]
    write_submission(root, evaluation, "math", predictions_for(rows, set()), name="a $x^{$ b \\frac")
    result = build_leaderboard(root)
    assert [e.name for e in result.entries] == ["a $x^{$ b \\frac"] and not result.rejected
    assert result.files["charts/negsamp-test-0.1.0-smollm2-135m.png"].startswith(b"\x89PNG")
