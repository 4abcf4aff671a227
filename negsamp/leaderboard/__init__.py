"""The leaderboard: validated, re-scored submissions, rendered as a table, a static page and an app.

The leaderboard folder (`leaderboard/` in the repository)::

    ROOT/releases.json              registry of dataset releases a submission may name
    ROOT/releases/<name>-<version>/ each release's dataset folder (the rows re-scoring needs)
    ROOT/submissions/*.json         one `negsamp.submission.Submission` per file
    ROOT/README.md                  generated: the table, per release (also a Hugging Face Space card)
    ROOT/site/index.html            generated: static page, works offline from the file system
    ROOT/site/leaderboard.json      generated: the table data the page embeds and app.py reads
    ROOT/charts/<release>.png       generated: each release's relative-score-vs-KV-kept chart (README.md shows it)
    ROOT/app.py                     Gradio app over leaderboard.json (hand-written)

Trust. A submission is data from a stranger. `validate_submission` reads it with
size and length caps, refuses NaN and infinities and wrong JSON types (strict
schema), checks that it names a known release (name, version, content hash,
config, model), that it has exactly one prediction per negative and control
sample, and then **recomputes every figure from the predictions** with the
evaluator's own scoring (`Evaluation.score`, `group_results`): a negative is
recovered, and a control sample retained, iff `b * (1 - t) < o`. The figures the
submitter claims are never shown; each one is compared with the recomputed one
(tolerance `TOLERANCE`) and any disagreement rejects the submission, naming the
field, the claim and the recomputed value. Two numbers cannot be recomputed and
are shown as the submitter's measurements: KV bytes after prefill (per sample,
against the release's measured baseline bytes) and the throughput ratio.
Output lengths are the submitted `output_tokens` against the baseline's.

Rendering escapes every submitted string (HTML and Markdown), embeds the table
data as JSON with `<`, `>`, `&` escaped, and uses no external resource; the
page carries a Content-Security-Policy that allows only its own inline script
and style. Output is deterministic: the same submissions give the same bytes.

Where things are (a package; everything below is re-exported here)::

    problems.py      Problem, SubmissionRejected, Rejection, and the collector every check reports to
    registry.py      releases.json: Release, ReleaseRegistry, Registry, add_release
    submissions.py   reading a submission safely: read_submission, parse_submission, the MAX_* caps
    validate.py      validate_submission: release checks, re-scoring, claim comparison; ValidatedEntry
    render.py        number formats, md_text, table_data / table_json (leaderboard.json), render_markdown
    page.py          render_html (site/index.html) and its column list
    page_assets.py   the page's inline CSS and JavaScript
    build.py         collect, build_leaderboard, BuildResult, release details, the output file names
    method_meta.py   a submitted spec's type badge, paper link and canonical spec (never imports a press)
    chart.py         the score-vs-KV-kept chart's points and layout; chart_svg.py (page), chart_png.py (README)
    names.py         display names: NFKC, refused characters, look-alike skeletons
    budget.py        predictions must fit max_new_tokens (re-tokenized with the release model's tokenizer)
    verify.py        `leaderboard verify`: re-run a method here, compare exactly, record our KV measurement
"""

from negsamp.leaderboard.build import (
    CHARTS_DIR,
    DATA_NAME,
    INDEX_NAME,
    README_NAME,
    SITE_DIR,
    SUBMISSIONS_DIR,
    BuildResult,
    build_leaderboard,
    collect,
)
from negsamp.leaderboard.page import render_html
from negsamp.leaderboard.problems import MAX_PROBLEMS, Problem, Rejection, SubmissionRejected
from negsamp.leaderboard.registry import (
    REGISTRY_NAME,
    RELEASES_DIR,
    Registry,
    Release,
    ReleaseRegistry,
    add_release,
)
from negsamp.leaderboard.render import (
    TABLE_VERSION,
    md_text,
    render_markdown,
    table_data,
    table_json,
)
from negsamp.leaderboard.submissions import (
    MAX_ENV_ENTRIES,
    MAX_ENV_TEXT,
    MAX_INT,
    MAX_METHOD_SPEC,
    MAX_MODEL,
    MAX_SAMPLE_ID,
    MAX_STRING,
    MAX_SUBMISSION_BYTES,
    MAX_THROUGHPUT_JSON,
    parse_submission,
    read_submission,
)
from negsamp.leaderboard.validate import (
    BUDGET_CLASSES,
    TOLERANCE,
    ValidatedEntry,
    budget_class,
    validate_submission,
)
from negsamp.leaderboard.verify import VERIFIED_DIR, Verification, load_verification, verify_submission

__all__ = [
    "CHARTS_DIR",
    "DATA_NAME",
    "INDEX_NAME",
    "MAX_ENV_ENTRIES",
    "MAX_ENV_TEXT",
    "MAX_INT",
    "MAX_METHOD_SPEC",
    "MAX_MODEL",
    "MAX_PROBLEMS",
    "MAX_SAMPLE_ID",
    "MAX_STRING",
    "MAX_SUBMISSION_BYTES",
    "MAX_THROUGHPUT_JSON",
    "README_NAME",
    "REGISTRY_NAME",
    "RELEASES_DIR",
    "SITE_DIR",
    "SUBMISSIONS_DIR",
    "TABLE_VERSION",
    "TOLERANCE",
    "BuildResult",
    "Problem",
    "Registry",
    "Rejection",
    "Release",
    "ReleaseRegistry",
    "SubmissionRejected",
    "ValidatedEntry",
    "BUDGET_CLASSES",
    "VERIFIED_DIR",
    "Verification",
    "add_release",
    "budget_class",
    "load_verification",
    "verify_submission",
    "build_leaderboard",
    "collect",
    "md_text",
    "parse_submission",
    "read_submission",
    "render_html",
    "render_markdown",
    "table_data",
    "table_json",
    "validate_submission",
]
