"""Publish a dataset folder to the Hugging Face Hub: check it, then send it as one commit.

`publish_dataset` refuses a folder that `negsamp.dataset.verify_dataset` rejects
(card YAML, data files, content hash, paths that leave the folder), then creates the dataset repo if needed
and uploads the card, the manifest, every split file and every figure the
manifest lists in a single commit, so the repo never shows half a dataset.
Files in the folder that the manifest does not list are not sent.

Failures (no token, no network, offline mode, a refused token, a bad repo id)
raise `PublishError` with one sentence naming the repo; the CLI prints it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from negsamp.dataset import Manifest, dataset_files, verify_dataset
from negsamp.errors import NegsampError

_REPO_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_TRUE = {"1", "on", "yes", "true"}
NO_TOKEN = "no Hugging Face token: run `hf auth login` (`huggingface-cli login` before huggingface_hub 1.0) or set HF_TOKEN"


class PublishError(NegsampError):
    """Publishing failed or was refused; the message is one sentence naming the repo."""


@dataclass(frozen=True)
class Upload:
    """One file of the commit."""

    path_in_repo: str
    local_path: Path
    size: int


@dataclass
class PublishResult:
    """What was (or, in a dry run, would be) sent."""

    repo: str | None
    """None in a dry run given no repo id."""
    private: bool
    dry_run: bool
    manifest: Manifest
    uploads: list[Upload]
    repo_url: str | None = None
    commit_url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(u.size for u in self.uploads)


def check_repo_id(repo: str) -> str:
    """`ORG/NAME` as the Hub accepts it; PublishError otherwise."""
    parts = repo.split("/") if isinstance(repo, str) else []
    ok = (
        len(parts) == 2
        and all(_REPO_RE.fullmatch(p) for p in parts)
        and len(repo) <= 96
        and "--" not in repo
        and ".." not in repo
        and not repo.endswith(".git")
    )
    if not ok:
        raise PublishError(
            f"bad repo id {repo!r}: expected ORG/NAME, each of letters, digits, '-', '_' or '.', "
            "not starting or ending with '-' or '.', no '--' or '..', at most 96 characters"
        )
    return repo


def plan_uploads(directory: str | os.PathLike, manifest: Manifest) -> list[Upload]:
    """The files of the commit: card, manifest, every split file and figure the manifest lists.

    `dataset_files` refuses any path that is absolute, has `..`, or passes through
    a symlink, so nothing outside the folder can be uploaded.
    """
    directory = Path(directory)
    uploads = []
    for rel in dataset_files(directory, manifest):
        local = directory / rel
        uploads.append(Upload(path_in_repo=rel, local_path=local, size=local.stat().st_size))
    return uploads


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or _env_true("HF_HUB_OFFLINE")


def _token() -> str | None:
    import huggingface_hub

    try:
        return huggingface_hub.get_token()
    except Exception as err:  # e.g. a failed OIDC token exchange
        raise PublishError(f"could not get a Hugging Face token ({type(err).__name__}: {err})") from err


def _hub_error(err: Exception, repo: str, action: str) -> PublishError:
    """One sentence for an exception huggingface_hub raised while `action`ing `repo`."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    if isinstance(err, OfflineModeIsEnabled):
        return PublishError(
            f"cannot publish to {repo}: huggingface_hub is in offline mode (unset HF_HUB_OFFLINE)"
        )
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if getattr(err, "response", None) is not None else None
        if status == 401:
            return PublishError(
                f"the Hugging Face Hub refused the token while trying to {action} {repo} (401): "
                "log in again with `hf auth login` or set a valid HF_TOKEN"
            )
        if status == 403:
            return PublishError(
                f"the token may not {action} {repo} (403 Forbidden): use a token with write access to that namespace"
            )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return PublishError(f"the Hugging Face Hub refused to {action} {repo} (HTTP {status}): {first}")
    if isinstance(err, HFValidationError):
        return PublishError(f"bad repo id {repo!r}: {err}")
    if isinstance(err, httpx.TransportError | OSError):
        return PublishError(
            f"cannot reach the Hugging Face Hub to {action} {repo} (no network?): {type(err).__name__}: {err}"
        )
    raise err


def publish_dataset(
    directory: str | os.PathLike,
    repo: str | None,
    *,
    private: bool = False,
    dry_run: bool = False,
    commit_message: str | None = None,
) -> PublishResult:
    """Verify DIR, create the dataset repo if missing, upload DIR in one commit; `dry_run` (no `repo`
    needed) verifies and lists the operations without contacting the Hub."""
    if repo is None and not dry_run:
        raise PublishError("publishing needs --repo ORG/NAME (only --dry-run works without it)")
    repo = None if repo is None else check_repo_id(repo)
    manifest = verify_dataset(directory)
    uploads = plan_uploads(directory, manifest)
    result = PublishResult(repo=repo, private=private, dry_run=dry_run, manifest=manifest, uploads=uploads)
    if dry_run:
        if "HF_OIDC_RESOURCE" not in os.environ and _token() is None:
            result.notes.append(NO_TOKEN + " before a real push")
        if _offline():
            result.notes.append("huggingface_hub is in offline mode: a real push would fail")
        return result

    if _offline():
        raise PublishError(
            f"cannot publish to {repo}: huggingface_hub is in offline mode (unset HF_HUB_OFFLINE)"
        )
    token = _token()
    if token is None:
        raise PublishError(NO_TOKEN)

    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    except Exception as err:
        raise _hub_error(err, repo, "create the dataset repo") from err
    result.repo_url = str(url)
    operations = [
        CommitOperationAdd(path_in_repo=u.path_in_repo, path_or_fileobj=str(u.local_path)) for u in uploads
    ]
    message = commit_message or f"{manifest.name} {manifest.dataset_version} ({manifest.content_hash[:12]})"
    description = (
        f"Uploaded by negsamp {manifest.negsamp_version}.\n\n"
        f"content_hash: {manifest.content_hash}\nconfigs: {', '.join(manifest.config_names())}"
    )
    try:
        info = api.create_commit(
            repo,
            operations,
            commit_message=message,
            commit_description=description,
            repo_type="dataset",
        )
    except Exception as err:
        raise _hub_error(err, repo, "upload to") from err
    result.commit_url = getattr(info, "commit_url", None)
    return result


def format_result(result: PublishResult) -> str:
    """Human-readable lines for the CLI."""
    visibility = "private" if result.private else "public"
    lines = []
    if result.dry_run:
        lines.append(
            f"dry run: would create the {visibility} dataset repo {result.repo or '(give --repo ORG/NAME)'} "
            "if missing and send one commit "
            f"of {len(result.uploads)} files ({result.total_bytes:,} bytes):"
        )
    else:
        lines.append(
            f"published {len(result.uploads)} files ({result.total_bytes:,} bytes) to {result.repo}:"
        )
    width = max(len(u.path_in_repo) for u in result.uploads)
    lines += [f"  {u.path_in_repo:<{width}}  {u.size:>12,} bytes" for u in result.uploads]
    lines.append(f"content hash: {result.manifest.content_hash}")
    lines += [f"note: {note}" for note in result.notes]
    if result.dry_run:
        lines.append("nothing was sent.")
    elif result.commit_url:
        lines.append(f"commit: {result.commit_url}")
    return "\n".join(lines)
