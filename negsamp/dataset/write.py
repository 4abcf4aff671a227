"""`write_dataset`: write or replace one config of a dataset folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from negsamp import __version__
from negsamp.atomic import atomic_write_bytes
from negsamp.dataset.card import render_card
from negsamp.dataset.checks import _as_rows, _check_name, _check_rows, check_config_name
from negsamp.dataset.common import CARD_NAME, FIGURE_SUFFIXES, MANIFEST_NAME, MANIFEST_VERSION, SPLITS
from negsamp.dataset.context import CardContext
from negsamp.dataset.hashing import config_hash, figures_hash, folder_hash
from negsamp.dataset.header import card_header
from negsamp.dataset.manifest import ConfigManifest, Figure, Manifest, SplitInfo
from negsamp.dataset.parquet import parquet_bytes, rows_table
from negsamp.dataset.rows import DatasetRow, split_hash
from negsamp.dataset.verify import _Checked, _verify
from negsamp.errors import InputError
from negsamp.formats import first_error, slug


def _context(card_context: CardContext | Mapping[str, Any]) -> CardContext:
    try:
        ctx = card_context if isinstance(card_context, CardContext) else CardContext.model_validate(card_context)
    except ValidationError as err:
        raise InputError(f"card_context: {first_error(err)}") from None
    if type(ctx) is not CardContext:  # e.g. a ConfigManifest passed back in: keep the context fields only
        ctx = CardContext.model_validate(ctx.model_dump(include=set(CardContext.model_fields)))
    return ctx


def _split_rows(config: str, negative_rows, control_rows, ctx: CardContext) -> dict[str, list[DatasetRow]]:
    split_rows = {"negative": _as_rows(negative_rows, "negative"), "control": _as_rows(control_rows, "control")}
    for split, rows in split_rows.items():
        _check_rows(split, rows, ctx)
        split_rows[split] = sorted(rows, key=lambda r: r.key)
    if not split_rows["negative"] and not split_rows["control"]:
        raise InputError(f"config {config!r} has no rows in either split: nothing to write")
    overlap = {r.key for r in split_rows["negative"]} & {r.key for r in split_rows["control"]}
    if overlap:
        task, sample = sorted(overlap)[0]
        raise InputError(f"sample {sample!r} of task {task!r} is in both the negative and the control split")
    return split_rows


def _figure_sources(figures: Mapping[str, str | os.PathLike] | None) -> list[tuple[str, Path]]:
    out = []
    for caption, source in (figures or {}).items():
        source = Path(source)
        if not source.is_file():
            raise InputError(f"figure {caption!r}: {source}: no such file")
        if source.suffix.lower() not in FIGURE_SUFFIXES:
            raise InputError(f"figure {caption!r}: {source}: not an image ({', '.join(FIGURE_SUFFIXES)})")
        out.append((_check_name(caption, "figure caption"), source))
    return out


def _existing(out: Path, name: str, version: str) -> _Checked | None:
    if (out / MANIFEST_NAME).exists():
        existing = _verify(out, check_card=False)  # the card is re-rendered
        if existing.manifest.name != name or existing.manifest.dataset_version != version:
            raise InputError(
                f"{out} holds dataset {existing.manifest.name!r} version {existing.manifest.dataset_version!r}; "
                f"cannot add {name!r} version {version!r} to it (use another folder)"
            )
        return existing
    if (out / CARD_NAME).exists() or (out / "data").exists():
        raise InputError(f"{out} has a README.md or data/ but no {MANIFEST_NAME}: not a negsamp dataset folder")
    return None


def _write_figures(out: Path, config: str, sources: list[tuple[str, Path]]) -> list[Figure]:
    """Copy the figures to figures/<config>/ (replacing what was there) and list them."""
    figure_dir = out / "figures" / config
    entries, used = [], set()
    for caption, source in sources:
        # Named after the image file, not the caption: a caption's slug is cut off and unreadable.
        stem, n, suffix = slug(source.stem, "figure", 80), 1, source.suffix.lower()
        filename = f"{stem}{suffix}"
        while filename in used:
            n += 1
            filename = f"{stem}-{n}{suffix}"
        used.add(filename)
        atomic_write_bytes(figure_dir / filename, source.read_bytes())
        entries.append(Figure(caption=caption, path=f"figures/{config}/{filename}"))
    if figure_dir.is_dir():
        for stale in figure_dir.iterdir():
            if stale.name not in used:
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
        if not used:
            figure_dir.rmdir()
    return entries


def _rehash(out: Path, entry: ConfigManifest) -> ConfigManifest:
    """The config entry with its hash under the current manifest version (older folders are upgraded)."""
    figures = figures_hash(out, [(f.path, f.caption) for f in entry.figures])
    splits = {s: entry.splits[s].content_hash for s in SPLITS}
    return entry.model_copy(update={"content_hash": config_hash(MANIFEST_VERSION, splits, context=entry,
                                                                figures=figures)})


def _manifest(name: str, version: str, configs: dict[str, ConfigManifest]) -> Manifest:
    draft = Manifest(name=name, dataset_version=version, content_hash="", negsamp_version=__version__,
                     configs=dict(sorted(configs.items())))
    digest = folder_hash(MANIFEST_VERSION, {c: e.content_hash for c, e in configs.items()}, name=name,
                         dataset_version=version, card_configs=card_header(draft)["configs"])
    return draft.model_copy(update={"content_hash": digest})


def write_dataset(
    out_dir: str | os.PathLike, *, name: str, version: str, config: str,
    negative_rows: Iterable[DatasetRow | Mapping[str, Any]], control_rows: Iterable[DatasetRow | Mapping[str, Any]],
    card_context: CardContext | Mapping[str, Any], figures: Mapping[str, str | os.PathLike] | None = None,
    template: str | os.PathLike | None = None,
) -> Manifest:
    """Write (or replace) one config of a dataset folder; return the new manifest.

    An existing folder with a manifest keeps its other configs (it is verified
    first, and must have the same `name` and `version`; they are re-hashed under
    the current manifest version). A folder without a manifest must not already
    hold a README.md or data/. `figures` maps a caption to an image file, copied
    to `figures/<config>/`. Files are written atomically, the manifest last, so
    a crash leaves a folder that `verify_dataset` rejects rather than one that
    looks whole.
    """
    out = Path(out_dir)
    name, version = _check_name(name, "dataset name"), _check_name(version, "dataset version")
    config = check_config_name(config)
    ctx = _context(card_context)
    split_rows = _split_rows(config, negative_rows, control_rows, ctx)
    sources = _figure_sources(figures)
    existing = _existing(out, name, version)
    splits = {}
    for split in SPLITS:
        rows = split_rows[split]
        rel = f"data/{config}/{split}.parquet"
        atomic_write_bytes(out / rel, parquet_bytes(rows))
        splits[split] = SplitInfo(path=rel, rows=len(rows), num_bytes=rows_table(rows).nbytes,
                                  content_hash=split_hash(config, split, rows))
    entry = ConfigManifest(**ctx.model_dump(), splits=splits, content_hash="",
                           figures=_write_figures(out, config, sources), negsamp_version=__version__)
    configs = dict(existing.manifest.configs) if existing else {}
    configs[config] = entry
    configs = {c: _rehash(out, e) for c, e in configs.items()}
    manifest = _manifest(name, version, configs)
    all_rows = dict(existing.rows) if existing else {}
    all_rows[config] = split_rows
    atomic_write_bytes(out / CARD_NAME, render_card(manifest, all_rows, template=template).encode("utf-8"))
    atomic_write_bytes(out / MANIFEST_NAME, (manifest.model_dump_json(indent=2) + "\n").encode("utf-8"))
    return manifest


def attach_figures(
    directory: str | os.PathLike, figures: Mapping[str, str | os.PathLike], *, notes: Iterable[str] = (),
    config: str | None = None,
) -> Manifest:
    """Add figures (caption -> image file) and card notes to a built config, keeping its rows.

    For what is measured after a build, on the built dataset (e.g. benchmarks/bench_eval_cost.py):
    the rows, rule and settings stay as they are; the card is re-rendered and the
    content hash changes, because the figures and notes are part of what it covers. A
    caption already on the card is replaced, so attaching a re-run's figures twice does
    not pile them up.
    """
    out = Path(directory)
    checked = _verify(out, config, check_card=False)
    name = config or next(iter(checked.manifest.configs))
    entry = checked.manifest.configs[name]
    new = _figure_sources(figures)
    staged = {f.caption: out / f.path for f in entry.figures if f.caption not in dict(new)}
    # The kept figures are read from the folder itself: copy them out first, since
    # rewriting figures/<config>/ removes files no longer listed.
    with tempfile.TemporaryDirectory() as tmp:
        kept = {}
        for caption, path in staged.items():
            kept[caption] = Path(tmp) / path.name
            shutil.copyfile(path, kept[caption])
        added_notes = [n for n in notes if n not in entry.notes]
        context = CardContext(**{k: getattr(entry, k) for k in CardContext.model_fields},
                              ).model_copy(update={"notes": [*entry.notes, *added_notes]})
        rows = checked.rows[name]
        return write_dataset(out, name=checked.manifest.name, version=checked.manifest.dataset_version,
                             config=name, negative_rows=rows["negative"], control_rows=rows["control"],
                             card_context=context, figures={**kept, **dict(new)})
