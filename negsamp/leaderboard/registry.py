"""The releases registry (`ROOT/releases.json`): `Release`, `Registry`, and `add_release`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from negsamp.errors import InputError
from negsamp.leaderboard.problems import _path

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

    @classmethod
    def load(cls, root: str | Path) -> Registry:
        root = Path(root)
        path = root / REGISTRY_NAME
        if not path.is_file():
            raise InputError(f"{path}: no release registry (is {root} a leaderboard folder?)")
        try:
            data = ReleaseRegistry.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as err:
            first = err.errors()[0]
            raise InputError(f"{path}: field {_path(first['loc'])!r}: {first['msg']}") from err
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
        rel = PurePosixPath(release.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError(f"{self.root / REGISTRY_NAME}: release {release.label}: path {release.path!r} "
                             "must be relative to the leaderboard folder, without '..'")
        return self.root / Path(*rel.parts)

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


def add_release(root: str | Path, dataset_dir: str | Path, *, config: str | None = None,
                replace: bool = False) -> Release:
    """Copy a dataset folder into `ROOT/releases/<name>-<version>/` and register it; returns the release.

    The folder is verified first. A release with the same name and version but
    other content is refused unless `replace` (its submissions become stale:
    they name the old content hash and are rejected until re-submitted).
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
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{manifest.name}-{manifest.dataset_version}").strip("-.")
    release = Release(name=manifest.name, dataset_version=manifest.dataset_version,
                      content_hash=manifest.content_hash, config=config,
                      model=manifest.configs[config].model, path=f"{RELEASES_DIR}/{slug}")
    existing = [r for r in registry.releases if r.key == release.key]
    if existing and existing[0] == release and (registry.folder(release) / "manifest.json").is_file():
        verify_dataset(registry.folder(release), config=config)
        return release
    if existing and not replace:
        raise InputError(f"{root / REGISTRY_NAME} already has {release.label} [{config}] with content hash "
                         f"{existing[0].content_hash[:12]}…, this folder has {release.content_hash[:12]}…; "
                         "pass replace to overwrite it")
    target = registry.folder(release)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    verify_dataset(target, config=config)
    releases = [r for r in registry.releases if r.key != release.key and r.path != release.path] + [release]
    Registry(root, releases).save()
    return release
