"""Hostile dataset folders and leaderboard registries: nothing is read, copied or uploaded from outside
the folder, `add-release` cannot delete or overwrite releases, and every bad file is one InputError line.

Part of the hostile corpus (see also test_leaderboard_hostile.py, test_hostile_board.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dataset_factory import context, control_rows, negative_rows

from negsamp.dataset import verify_dataset, write_dataset
from negsamp.errors import InputError
from negsamp.evaluator import Evaluation
from negsamp.leaderboard import Registry, add_release
from negsamp.publish import publish_dataset

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def make_dataset(path: Path, name: str = "negsamp-test", version: str = "0.1.0", *, figure: bool = True,
                 **overrides) -> Path:
    figures = None
    if figure:
        # The dataset names a figure after its image file: one name, whatever the folder.
        image = path.parent / f"{path.name}-images" / "a-figure.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(PNG)
        figures = {"A figure": image}
    write_dataset(path, name=name, version=version, config="smollm2-135m", negative_rows=negative_rows(),
                  control_rows=control_rows(), card_context=context(**overrides), figures=figures)
    return path


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _figure_path(value):
    return lambda d: d["configs"]["smollm2-135m"]["figures"].append({"caption": "x", "path": value})


# (case id, damage to a valid dataset folder, text of the one-line error)
FOLDER_CASES = [
    ("figure-absolute", lambda f: edit_manifest(f, _figure_path("/etc/passwd")), "figures/smollm2-135m/<file>"),
    ("figure-dotdot", lambda f: edit_manifest(f, _figure_path("figures/smollm2-135m/../../../x.png")),
     "figures/smollm2-135m/<file>"),
    ("figure-dotdot-in-folder", lambda f: edit_manifest(f, _figure_path("figures/smollm2-135m/../a.png")),
     "figures/smollm2-135m/<file>"),
    ("figure-symlink-out", lambda f: _relink(f / "figures/smollm2-135m/a-figure.png", "/etc/passwd"),
     "symbolic link"),
    ("figure-dangling-symlink", lambda f: _relink(f / "figures/smollm2-135m/a-figure.png", f / "nothing"),
     "symbolic link"),
    ("split-symlink", lambda f: _relink(f / "data/smollm2-135m/control.parquet", f.parent / "elsewhere.parquet"),
     "symbolic link"),
    ("data-dir-symlink", lambda f: _relink_dir(f / "data"), "symbolic link"),
    ("split-path-absolute", lambda f: edit_manifest(
        f, lambda d: d["configs"]["smollm2-135m"]["splits"]["control"].update(path="/etc/passwd")), "expected"),
    ("manifest-symlink", lambda f: _relink(f / "manifest.json", f.parent / "manifest-copy.json"), "symbolic link"),
    ("card-symlink", lambda f: _relink(f / "README.md", f.parent / "card-copy.md"), "symbolic link"),
    ("manifest-not-utf8", lambda f: (f / "manifest.json").write_bytes(b"\xff\xfe{}"), "not UTF-8"),
    ("card-not-utf8", lambda f: (f / "README.md").write_bytes(b"---\n\xff\n---\n"), "not UTF-8"),
    ("manifest-list", lambda f: (f / "manifest.json").write_text("[]"), "expected a JSON object"),
    ("manifest-deep", lambda f: (f / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
     "not valid JSON"),
    ("rule-t-edited", lambda f: edit_manifest(f, lambda d: d["configs"]["smollm2-135m"]["rule"].update(t=0.5)),
     "does not match its splits, rule"),
    ("model-edited", lambda f: edit_manifest(f, lambda d: d["configs"]["smollm2-135m"].update(model="x")),
     "does not match its splits, rule"),
    ("generation-edited", lambda f: edit_manifest(
        f, lambda d: d["configs"]["smollm2-135m"]["generation"].update(batch_size=1)), "does not match"),
    ("figure-bytes-changed", lambda f: (f / "figures/smollm2-135m/a-figure.png").write_bytes(PNG + b"x"),
     "does not match"),
    ("card-points-elsewhere", lambda f: (f / "README.md").write_text(
        (f / "README.md").read_text().replace("data/smollm2-135m/negative.parquet", "data/doctored.parquet")),
     "YAML `configs`"),
    ("name-edited", lambda f: edit_manifest(f, lambda d: d.update(name="other")), "content_hash does not match"),
]


def _relink(path: Path, target) -> None:
    target = Path(target)
    if path.exists() and not target.exists() and target.parent.exists() and str(target).startswith(str(path.parents[2])):
        target.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(target)


def _relink_dir(path: Path) -> None:
    moved = path.parent.parent / f"{path.parent.name}-data"
    os.replace(path, moved)
    path.symlink_to(moved, target_is_directory=True)


@pytest.mark.parametrize("case_id,damage,text", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_verify_publish_and_evaluate_refuse_a_hostile_folder(tmp_path, case_id, damage, text):
    folder = make_dataset(tmp_path / "ds")
    verify_dataset(folder)
    damage(folder)
    for command in (verify_dataset, lambda f: publish_dataset(f, "org/name", dry_run=True), Evaluation):
        with pytest.raises(InputError, match=text.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("*", r"\*")) as caught:
            command(folder)
        assert "\n" not in str(caught.value)


def test_publish_lists_only_files_inside_the_folder(tmp_path):
    folder = make_dataset(tmp_path / "ds")
    (folder / ".hidden.png").write_bytes(PNG)
    result = publish_dataset(folder, "org/name", dry_run=True)
    paths = [u.path_in_repo for u in result.uploads]
    assert "figures/smollm2-135m/a-figure.png" in paths and ".hidden.png" not in paths
    assert all(u.local_path.resolve().is_relative_to(folder.resolve()) for u in result.uploads)


def test_old_manifests_still_verify_with_the_rows_only_hash():
    repo = Path(__file__).resolve().parents[1]
    manifest = verify_dataset(repo / "leaderboard/releases/negsamp-tiny-0.1.0")
    assert manifest.version == 1


# --------------------------------------------------------------------------- add-release


def registry_state(root: Path) -> tuple[bytes, list[str]]:
    files = sorted(str(p.relative_to(root)) for p in (root / "releases").rglob("*"))
    return (root / "releases.json").read_bytes(), files


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "lb"
    add_release(root, make_dataset(tmp_path / "first", "negsamp tiny"))
    return root


@pytest.mark.parametrize("name,version,text", [
    (".", ".", "no letter or digit"),
    ("..", "0.1", "no letter or digit"),
    ("///", "1", "no letter or digit"),
    ("ok", "...", "no letter or digit"),
    ("negsamp-tiny", "0.1.0", "belongs to negsamp tiny"),
    ("NEGSAMP TINY", "0.1.0", "belongs to negsamp tiny"),
    ("negsamp\u00a0tiny", "0.1.0", "belongs to negsamp tiny"),
])
def test_add_release_refuses_names_that_slug_to_nothing_or_onto_another_release(tmp_path, board, name, version,
                                                                             text):
    before = registry_state(board)
    source = make_dataset(tmp_path / "second", name, version)
    for replace in (False, True):
        with pytest.raises(InputError, match=text):
            add_release(board, source, replace=replace)
        assert registry_state(board) == before
    verify_dataset(board / "releases/negsamp-tiny-0.1.0")


def test_add_release_replace_verifies_the_copy_before_it_swaps(tmp_path, board):
    before = registry_state(board)
    source = make_dataset(tmp_path / "second", "negsamp tiny", summary="rebuilt")
    (source / "figures/smollm2-135m/a-figure.png").unlink()
    (source / "figures/smollm2-135m/a-figure.png").symlink_to(source / "gone.png")  # dangling
    with pytest.raises(InputError, match="symbolic link"):
        add_release(board, source, replace=True)
    assert registry_state(board) == before
    assert not list((board / "releases").glob(".*"))

    source = make_dataset(tmp_path / "third", "negsamp tiny", summary="rebuilt")
    (source / ".hidden.png").write_bytes(PNG)
    (source / "stray.txt").symlink_to("/etc/passwd")
    release = add_release(board, source, replace=True)
    folder = Registry.load(board).folder(release)
    assert not (folder / ".hidden.png").exists() and not (folder / "stray.txt").exists()
    assert verify_dataset(folder).content_hash == release.content_hash
    assert not list((board / "releases").glob(".*"))


def test_add_release_refuses_a_source_with_files_linked_from_outside(tmp_path, board):
    before = registry_state(board)
    source = make_dataset(tmp_path / "second", "other")
    _relink(source / "data/smollm2-135m/negative.parquet", tmp_path / "outside.parquet")
    with pytest.raises(InputError, match="symbolic link"):
        add_release(board, source)
    assert registry_state(board) == before


def test_add_release_refuses_an_unregistered_folder_in_the_way(tmp_path, board):
    (board / "releases/other-0.1.0").mkdir()
    (board / "releases/other-0.1.0/keep.txt").write_text("mine")
    with pytest.raises(InputError, match="no release in releases.json uses it"):
        add_release(board, make_dataset(tmp_path / "second", "other"))
    assert (board / "releases/other-0.1.0/keep.txt").read_text() == "mine"


@pytest.mark.parametrize("content,text", [
    (b"\xff\xfe", "not UTF-8"),
    (b"[]", "field"),
    (b'{"version": 1, "releases": [{"name": "x", "dataset_version": "1", "content_hash": "' + b"0" * 64
     + b'", "config": "c", "model": "m", "path": "/etc"}]}', None),
    (b'{"version": 1, "releases": [{"name": "x", "dataset_version": "1", "content_hash": "' + b"0" * 64
     + b'", "config": "c", "model": "m", "path": "../outside"}]}', None),
])
def test_a_hostile_registry_is_one_line(tmp_path, content, text):
    root = tmp_path / "lb"
    root.mkdir()
    (root / "releases.json").write_bytes(content)
    with pytest.raises(InputError, match=text or "must be relative") as caught:
        registry = Registry.load(root)
        registry.folder(registry.releases[0])
    assert "\n" not in str(caught.value)
