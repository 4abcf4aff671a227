"""`negsamp leaderboard verify FILE`: re-run a submission's method here and record what we measured.

A submission's predictions are re-scored by every build, but who produced them,
and the KV bytes and throughput it reports, are the submitter's word. `verify`
re-runs the submitted method spec on the release (only when the spec can run
here: a built-in method, or a kvpress press whose class imports) with the
release's model and batch size, and compares, per sample:

- the prediction text, exactly (string equality), and
- `output_tokens`, exactly.

Exact comparison is right because decoding is greedy: the same weights, dtype,
batch composition and library versions give the same tokens on one machine.
Another machine's BLAS may round differently and flip a near-tie argmax; such
a submission then records as not verified, with the number of samples that
differ, and stays on the board as an unverified claim.

KV bytes after prefill come from our own run (measured from the cache tensors),
never from the submission. The record is `ROOT/verified/<id>.json`
(`Verification`); the board trusts it only while the submission file's sha256
and the release's content hash are the ones it names.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from negsamp.errors import InputError, NegsampError

VERIFIED_DIR = "verified"
VERIFICATION_VERSION = 1


class Verification(BaseModel):
    """`ROOT/verified/<id>.json`: the result of re-running one submission's method here."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = VERIFICATION_VERSION
    """Schema version."""
    submission_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 of the submission file's bytes when it was verified (any later edit voids the record)."""
    content_hash: str
    """Content hash of the release it was verified on."""
    method: str
    """The method spec that was re-run."""
    samples: int
    """Samples compared."""
    matching: int
    """Samples whose prediction text and output_tokens are exactly the submitted ones."""
    verified: bool
    """True iff every sample matched."""
    kv_kept: float | None
    """Our measurement: mean over samples of KV bytes after prefill / the release baseline's."""
    differing: list[str] = Field(default_factory=list)
    """Sample ids that differed (at most 20)."""
    negsamp_version: str
    """negsamp version that verified."""
    environment: dict[str, str]
    """Machine and package versions of the verifying run."""


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify_submission(path: str | Path, registry, *, work_dir: str | Path | None = None,
                      progress: bool = True) -> Verification:
    """Validate FILE, re-run its method on its release, compare predictions exactly; return the record."""
    from negsamp import __version__
    from negsamp.evaluator import environment, evaluate_method
    from negsamp.leaderboard.validate import validate_submission
    from negsamp.methods import parse_method
    from negsamp.submission import Submission

    path = Path(path)
    digest = file_sha256(path)
    entry = validate_submission(path, registry)
    if entry.source != "method":
        raise InputError(f"{path}: predictions made elsewhere ({entry.method}) cannot be re-run: it stays an "
                         "unverified claim")
    try:
        spec = parse_method(entry.method).spec
    except NegsampError as err:
        raise InputError(f"{path}: method {entry.method!r} cannot run here ({err}): it stays unverified") from None
    submission = Submission.model_validate_json(path.read_bytes())
    folder = registry.folder(entry.release)
    with tempfile.TemporaryDirectory(dir=work_dir) as scratch:
        report = evaluate_method(folder, spec, scratch, config=entry.release.config, progress=progress)
    ours = {s.sample_id: s for s in report.samples}
    differing = [p.sample_id for p in submission.predictions
                 if p.sample_id not in ours or ours[p.sample_id].prediction != p.prediction
                 or ours[p.sample_id].output_tokens != p.output_tokens]
    return Verification(
        submission_sha256=digest, content_hash=entry.release.content_hash, method=spec,
        samples=len(submission.predictions), matching=len(submission.predictions) - len(differing),
        verified=not differing, kv_kept=report.overall.kv_kept, differing=differing[:20],
        negsamp_version=__version__, environment=environment(),
    )


def load_verification(root: Path, entry_id: str, submission_path: Path, content_hash: str) -> Verification | None:
    """The record for a submission if it still applies (same file bytes, same release, verified); else None."""
    path = root / VERIFIED_DIR / f"{entry_id}.json"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        record = Verification.model_validate_json(path.read_bytes())
    except ValueError:
        return None
    if not record.verified or record.content_hash != content_hash:
        return None
    if record.submission_sha256 != file_sha256(submission_path):
        return None
    return record
