"""`negsamp publish`: validation, dry run and every failure path, with the Hub replaced by fakes."""

from __future__ import annotations

import socket

import httpx
import huggingface_hub
import pytest
from dataset_factory import negative_rows, write_example
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from negsamp.cli import main
from negsamp.dataset import parquet_bytes
from negsamp.errors import NegsampError
from negsamp.publish import NO_TOKEN, PublishError, check_repo_id, publish_dataset

REPO = "negsamp-org/negatives"
CONFIG = "smollm2-135m"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def folder(tmp_path):
    fig = tmp_path / "plot.png"
    fig.write_bytes(b"\x89PNG fake")
    out = tmp_path / "dataset"
    write_example(out, figures={"Negatives per task": fig})
    (out / "notes.txt").write_text("not part of the dataset\n")
    return out


@pytest.fixture
def hub(monkeypatch):
    """A fake Hub: records calls; `fail` maps a method name to the exception it raises."""

    class Fake:
        calls: list[tuple[str, tuple, dict]] = []
        fail: dict[str, Exception] = {}

    def make(name, result):
        def method(self, *args, **kwargs):
            Fake.calls.append((name, args, kwargs))
            if name in Fake.fail:
                raise Fake.fail[name]
            return result

        return method

    commit = huggingface_hub.CommitInfo(
        commit_url=f"https://huggingface.co/datasets/{REPO}/commit/abc",
        commit_message="m",
        commit_description="",
        oid="abc",
    )
    monkeypatch.setattr(HfApi, "create_repo", make("create_repo", f"https://huggingface.co/datasets/{REPO}"))
    monkeypatch.setattr(HfApi, "create_commit", make("create_commit", commit))
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake_token")
    return Fake


def _http_error(status: int) -> HfHubHTTPError:
    request = httpx.Request("POST", "https://huggingface.co/api/repos/create")
    return HfHubHTTPError(f"{status} Client Error", response=httpx.Response(status, request=request))


EXPECTED_FILES = [
    "README.md",
    "manifest.json",
    f"data/{CONFIG}/negative.parquet",
    f"data/{CONFIG}/control.parquet",
    f"figures/{CONFIG}/plot.png",
]


def test_dry_run_lists_the_operations_and_sends_nothing(folder, hub, capsys):
    result = publish_dataset(folder, REPO, private=True, dry_run=True)
    assert hub.calls == []
    assert [u.path_in_repo for u in result.uploads] == EXPECTED_FILES
    assert all(u.size == (folder / u.path_in_repo).stat().st_size for u in result.uploads)
    assert main(["publish", str(folder), "--repo", REPO, "--private", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would create the private dataset repo {REPO}" in out
    assert "send one commit of 5 files" in out
    for path in EXPECTED_FILES:
        assert path in out
    assert "notes.txt" not in out
    assert "nothing was sent." in out
    assert hub.calls == []


def test_dry_run_without_a_token_says_a_push_would_need_one(folder, hub, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    result = publish_dataset(folder, REPO, dry_run=True)
    assert any("no Hugging Face token" in note for note in result.notes)
    assert hub.calls == []


def test_push_sends_one_commit_with_every_file(folder, hub, capsys):
    assert main(["publish", str(folder), "--repo", REPO]) == 0
    names = [name for name, _, _ in hub.calls]
    assert names == ["create_repo", "create_commit"]
    _, args, kwargs = hub.calls[0]
    assert args == (REPO,) and kwargs["repo_type"] == "dataset" and kwargs["private"] is False
    assert kwargs["exist_ok"] is True
    _, args, kwargs = hub.calls[1]
    assert args[0] == REPO and kwargs["repo_type"] == "dataset"
    operations = args[1]
    assert [op.path_in_repo for op in operations] == EXPECTED_FILES
    assert all(isinstance(op, huggingface_hub.CommitOperationAdd) for op in operations)
    assert "negsamp-test 0.1.0" in kwargs["commit_message"]
    out = capsys.readouterr().out
    assert "published 5 files" in out and "commit: https://huggingface.co/datasets/" in out


def test_no_token_is_one_clear_sentence(folder, hub, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(PublishError) as info:
        publish_dataset(folder, REPO)
    assert str(info.value) == NO_TOKEN
    assert "HF_TOKEN" in NO_TOKEN and "hf auth login" in NO_TOKEN
    assert hub.calls == []
    assert main(["publish", str(folder), "--repo", REPO]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"negsamp publish: error: {NO_TOKEN}"
    assert "Traceback" not in err


def test_offline_mode_is_refused_before_any_call(folder, hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError, match=f"cannot publish to {REPO}: huggingface_hub is in offline mode"):
        publish_dataset(folder, REPO)
    assert hub.calls == []


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        (
            "create_repo",
            httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
            f"cannot reach the Hugging Face Hub to create the dataset repo {REPO} \\(no network\\?\\)",
        ),
        (
            "create_commit",
            ConnectionError("Connection reset by peer"),
            f"cannot reach the Hugging Face Hub to upload to {REPO}",
        ),
        (
            "create_repo",
            OfflineModeIsEnabled("offline"),
            f"cannot publish to {REPO}: huggingface_hub is in offline mode",
        ),
        (
            "create_repo",
            _http_error(401),
            f"refused the token while trying to create the dataset repo {REPO} \\(401\\)",
        ),
        ("create_commit", _http_error(403), f"the token may not upload to {REPO} \\(403 Forbidden\\)"),
        (
            "create_commit",
            _http_error(500),
            f"the Hugging Face Hub refused to upload to {REPO} \\(HTTP 500\\)",
        ),
    ],
)
def test_hub_failures_become_one_sentence_naming_the_repo(folder, hub, where, error, message, capsys):
    hub.fail[where] = error
    try:
        with pytest.raises(PublishError, match=message) as info:
            publish_dataset(folder, REPO)
        assert "\n" not in str(info.value)
        assert main(["publish", str(folder), "--repo", REPO]) == 1
        assert "Traceback" not in capsys.readouterr().err
    finally:
        hub.fail.clear()
        hub.calls.clear()


@pytest.mark.parametrize(
    "repo", ["negatives", "a/b/c", "org/na--me", "-org/name", "org/name.git", "org/", "o rg/x", ""]
)
def test_bad_repo_ids_are_refused(folder, hub, repo):
    with pytest.raises(PublishError, match="bad repo id"):
        publish_dataset(folder, repo, dry_run=True)
    assert hub.calls == []


def test_good_repo_ids_pass():
    for repo in ["org/name", "Org-1/my_data.v2", "a/b"]:
        assert check_repo_id(repo) == repo


def test_a_tampered_folder_is_not_published(folder, hub):
    rows = negative_rows()
    rows[0] = rows[0].model_copy(update={"input": "changed?"})
    (folder / f"data/{CONFIG}/negative.parquet").write_bytes(parquet_bytes(rows))
    with pytest.raises(
        NegsampError, match=r"negative\.parquet: rows do not match the manifest's content hash"
    ):
        publish_dataset(folder, REPO, dry_run=True)
    with pytest.raises(NegsampError, match="content hash"):
        publish_dataset(folder, REPO)
    assert hub.calls == []


def test_a_broken_card_or_missing_folder_is_not_published(folder, hub, tmp_path):
    (folder / "README.md").write_text("---\nconfigs: [unclosed\n---\n")
    with pytest.raises(NegsampError, match="YAML header does not parse"):
        publish_dataset(folder, REPO, dry_run=True)
    with pytest.raises(NegsampError, match="no such dataset folder"):
        publish_dataset(tmp_path / "missing", REPO, dry_run=True)
    assert hub.calls == []
