"""The releases registry (`ROOT/releases.json`): `Release`, `Registry`, and `add_release`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from negsamp.errors import InputError
from negsamp.formats import first_error, slug

REGISTRY_NAME = "releases.json"
RELEASES_DIR = "releases"


class Release(BaseModel):
    """One dataset release submissions may be scored against."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1)
    """Dataset name (its manifest's `name`)."""
    dataset_version: str = Field(min_length=1)
    """Dataset version (its manifest's `dataset_version`)."""
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The dataset's content hash: submissions must name exactly this one."""
    config: str = Field(min_length=1)
    """The config (model) of the dataset that is ranked."""
    model: str = Field(min_length=1)
    """The config's model: submissions must use it."""
    path: str = Field(min_length=1)
    """Dataset folder, relative to the leaderboard folder (POSIX separators)."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.dataset_version}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.dataset_version, self.config)


class ReleaseRegistry(BaseModel):
    """`releases.json`."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = 1
    """Schema version of the registry."""
    releases: list[Release] = Field(default_factory=list)
    """Known releases, one per (name, dataset_version, config)."""


class Registry:
    """The releases of a leaderboard folder, with each release's rows loaded on first use."""

    def __init__(self, root: str | Path, releases: list[Release]) -> None:
        self.root = Path(root)
        self.releases = sorted(releases, key=lambda r: r.key)
        keys = [r.key for r in self.releases]
        if len(set(keys)) != len(keys):
            raise InputError(f"{self.root / REGISTRY_NAME}: a (name, dataset_version, config) is listed twice")
        self._evaluations: dict[tuple[str, str, str], Any] = {}
        self._counters: dict[str, Any] = {}

    @classmethod
    def load(cls, root: str | Path) -> Registry:
        root = Path(root)
        path = root / REGISTRY_NAME
        if not path.is_file():
            raise InputError(f"{path}: no release registry (is {root} a leaderboard folder?)")
        from negsamp.dataset import read_text_file

        try:
            data = ReleaseRegistry.model_validate_json(read_text_file(path, "release registry"))
        except ValidationError as err:
            raise InputError(f"{path}: {first_error(err)}") from None
        return cls(root, data.releases)

    def save(self) -> Path:
        from negsamp.atomic import atomic_write_text

        path = self.root / REGISTRY_NAME
        data = ReleaseRegistry(releases=self.releases)
        atomic_write_text(path, data.model_dump_json(indent=2) + "\n")
        return path

    def find(self, name: str, dataset_version: str) -> list[Release]:
        return [r for r in self.releases if r.name == name and r.dataset_version == dataset_version]

    def folder(self, release: Release) -> Path:
        """The release's folder: relative to the leaderboard folder, no `..`, no symlink on the way."""
        from negsamp.dataset import inside

        return inside(self.root, release.path, f"release {release.label} folder")

    def token_counter(self, release: Release):
        """Token counter of the release model's tokenizer (None when not available here), loaded once."""
        if release.model not in self._counters:
            from negsamp.leaderboard.budget import tokenizer_counter

            self._counters[release.model] = tokenizer_counter(release.model)
        return self._counters[release.model]

    def evaluation(self, release: Release):
        """The release's rows and rule as a `negsamp.evaluator.Evaluation` (verified against the registry)."""
        if release.key not in self._evaluations:
            from negsamp.evaluator import Evaluation

            folder = self.folder(release)
            where = f"{self.root / REGISTRY_NAME}: release {release.label}"
            if not (folder / "manifest.json").is_file():
                raise InputError(f"{where}: {folder} is not a dataset folder (no manifest.json)")
            evaluation = Evaluation(folder, config=release.config)
            manifest = evaluation.manifest
            for what, theirs, ours in (("name", manifest.name, release.name),
                                       ("dataset_version", manifest.dataset_version, release.dataset_version),
                                       ("content_hash", manifest.content_hash, release.content_hash),
                                       ("model", evaluation.entry.model, release.model)):
                if theirs != ours:
                    raise InputError(f"{where}: the registry says {what} {ours!r}, the dataset folder {theirs!r}")
            self._evaluations[release.key] = evaluation
        return self._evaluations[release.key]


def release_folder_name(name: str, dataset_version: str) -> str:
    """`<name>-<version>` as a folder name (`negsamp.formats.slug`); InputError if either part slugs to nothing."""
    for what, value in (("name", name), ("version", dataset_version)):
        if not slug(value):
            raise InputError(f"dataset {what} {value!r} has no letter or digit: it cannot name a release folder")
    return slug(f"{name}-{dataset_version}", limit=120)


def _stage(source: Path, manifest, stage: Path, config: str) -> None:
    """Copy exactly the dataset's files (no symlink, nothing outside it) into `stage`, then verify the copy."""
    from negsamp.dataset import dataset_files, verify_dataset

    for rel in dataset_files(source, manifest):
        target = stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(source / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    copied = verify_dataset(stage, config=config)
    if copied.content_hash != manifest.content_hash:
        raise InputError(f"{source}: changed while it was copied (content hash differs); try again")


def _swap(stage: Path, target: Path) -> Path | None:
    """Put `stage` at `target` by renames; returns the old folder (to delete once registered), if any."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
    os.replace(stage, target)
    return old


def _check_slot(registry: Registry, release: Release, replace: bool) -> None:
    """Refuse a folder another release owns (slug collision) or an unregistered folder in the way."""
    root = registry.root
    for other in registry.releases:
        if other.path == release.path and (other.name, other.dataset_version) != (release.name,
                                                                                    release.dataset_version):
            raise InputError(f"{root / REGISTRY_NAME}: {release.label} would use folder {release.path!r}, which "
                             f"belongs to {other.label}: rename the dataset or its version")
    existing = [r for r in registry.releases if r.key == release.key]
    if existing and not replace:
        raise InputError(f"{root / REGISTRY_NAME} already has {release.label} [{release.config}] with content hash "
                         f"{existing[0].content_hash[:12]}…, this folder has {release.content_hash[:12]}…; "
                         "pass replace to overwrite it")
    owned = any(r.path == release.path for r in registry.releases)
    if not owned and (root / release.path).exists() and not replace:
        raise InputError(f"{root / release.path} exists but no release in {REGISTRY_NAME} uses it: "
                         "move it away or pass replace")


def add_release(root: str | Path, dataset_dir: str | Path, *, config: str | None = None,
                replace: bool = False) -> Release:
    """Copy a dataset folder into `ROOT/releases/<slug of name-version>/` and register it; returns the release.

    The source is verified, its files (and only those: no symlink, nothing outside
    it) are copied into a staging folder, the copy is verified, and only then is it
    swapped in by renames and registered. A release with the same name and version
    but other content is refused unless `replace` (its submissions become stale);
    a name that slugs onto another release's folder is refused.
    """
    from negsamp.dataset import verify_dataset

    root, source = Path(root), Path(dataset_dir)
    manifest = verify_dataset(source, config=config)
    if config is None:
        names = manifest.config_names()
        if len(names) != 1:
            raise InputError(f"{source} has configs {names}: choose one")
        config = names[0]
    registry = Registry.load(root) if (root / REGISTRY_NAME).is_file() else Registry(root, [])
    folder = release_folder_name(manifest.name, manifest.dataset_version)
    release = Release(name=manifest.name, dataset_version=manifest.dataset_version,
                      content_hash=manifest.content_hash, config=config,
                      model=manifest.configs[config].model, path=f"{RELEASES_DIR}/{folder}")
    existing = [r for r in registry.releases if r.key == release.key]
    if existing and existing[0] == release and (registry.folder(release) / "manifest.json").is_file():
        verify_dataset(registry.folder(release), config=config)
        return release
    _check_slot(registry, release, replace)
    target = registry.folder(release)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = target.with_name(f".staging-{folder}-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    try:
        _stage(source, manifest, stage, config)
        old = _swap(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    releases = [r for r in registry.releases if r.key != release.key and r.path != release.path] + [release]
    Registry(root, releases).save()
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return release
