"""`write_dataset`: write or replace one config of a dataset folder."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from negsamp import __version__
from negsamp.atomic import atomic_write_bytes
from negsamp.dataset.card import render_card
from negsamp.dataset.checks import _as_rows, _check_name, _check_rows, check_config_name
from negsamp.dataset.common import CARD_NAME, FIGURE_SUFFIXES, MANIFEST_NAME, SPLITS, _first_error
from negsamp.dataset.context import CardContext
from negsamp.dataset.manifest import ConfigManifest, Figure, Manifest, SplitInfo
from negsamp.dataset.parquet import parquet_bytes, rows_table
from negsamp.dataset.rows import DatasetRow, _combine, split_hash
from negsamp.dataset.verify import _Checked, _verify
from negsamp.errors import InputError


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.").lower()[:80] or "figure"


def write_dataset(
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    config: str,
    negative_rows: Iterable[DatasetRow | Mapping[str, Any]],
    control_rows: Iterable[DatasetRow | Mapping[str, Any]],
    card_context: CardContext | Mapping[str, Any],
    figures: Mapping[str, str | os.PathLike] | None = None,
    template: str | os.PathLike | None = None,
) -> Manifest:
    """Write (or replace) one config of a dataset folder; return the new manifest.

    An existing folder with a manifest keeps its other configs (it is verified
    first, and must have the same `name` and `version`). A folder without a
    manifest must not already hold a README.md or data/. `figures` maps a caption
    to an image file, copied to `figures/<config>/`. Files are written atomically,
    the manifest last, so a crash leaves a folder that `verify_dataset` rejects
    rather than one that looks whole.
    """
    out = Path(out_dir)
    name = _check_name(name, "dataset name")
    version = _check_name(version, "dataset version")
    config = check_config_name(config)
    try:
        ctx = (
            card_context
            if isinstance(card_context, CardContext)
            else CardContext.model_validate(card_context)
        )
    except ValidationError as err:
        raise InputError(f"card_context: {_first_error(err)}") from err
    if type(ctx) is not CardContext:  # e.g. a ConfigManifest passed back in: keep the context fields only
        ctx = CardContext.model_validate(ctx.model_dump(include=set(CardContext.model_fields)))
    split_rows = {
        "negative": _as_rows(negative_rows, "negative"),
        "control": _as_rows(control_rows, "control"),
    }
    for split, rows in split_rows.items():
        _check_rows(split, rows, ctx)
    if not split_rows["negative"] and not split_rows["control"]:
        raise InputError(f"config {config!r} has no rows in either split: nothing to write")
    overlap = {r.key for r in split_rows["negative"]} & {r.key for r in split_rows["control"]}
    if overlap:
        task, sample = sorted(overlap)[0]
        raise InputError(f"sample {sample!r} of task {task!r} is in both the negative and the control split")

    figure_sources: list[tuple[str, Path]] = []
    for caption, source in (figures or {}).items():
        source = Path(source)
        if not source.is_file():
            raise InputError(f"figure {caption!r}: {source}: no such file")
        if source.suffix.lower() not in FIGURE_SUFFIXES:
            raise InputError(f"figure {caption!r}: {source}: not an image ({', '.join(FIGURE_SUFFIXES)})")
        figure_sources.append((_check_name(caption, "figure caption"), source))

    existing: _Checked | None = None
    if (out / MANIFEST_NAME).exists():
        existing = _verify(out, check_card=False)  # the card is re-rendered below
        if existing.manifest.name != name or existing.manifest.dataset_version != version:
            raise InputError(
                f"{out} holds dataset {existing.manifest.name!r} version {existing.manifest.dataset_version!r}; "
                f"cannot add {name!r} version {version!r} to it (use another folder)"
            )
    elif (out / CARD_NAME).exists() or (out / "data").exists():
        raise InputError(
            f"{out} has a README.md or data/ but no {MANIFEST_NAME}: not a negsamp dataset folder"
        )

    # data files
    splits = {}
    for split in SPLITS:
        rel = f"data/{config}/{split}.parquet"
        rows = sorted(split_rows[split], key=lambda r: r.key)
        split_rows[split] = rows
        atomic_write_bytes(out / rel, parquet_bytes(rows))
        splits[split] = SplitInfo(
            path=rel,
            rows=len(rows),
            num_bytes=rows_table(rows).nbytes,
            content_hash=split_hash(config, split, rows),
        )

    # figures: replace this config's folder content
    figure_dir = out / "figures" / config
    figure_entries = []
    used: set[str] = set()
    for caption, source in figure_sources:
        # Named after the image file, not the caption: a caption's slug is cut off and unreadable.
        stem, n = _slug(source.stem), 1
        filename = f"{stem}{source.suffix.lower()}"
        while filename in used:
            n += 1
            filename = f"{stem}-{n}{source.suffix.lower()}"
        used.add(filename)
        atomic_write_bytes(figure_dir / filename, source.read_bytes())
        figure_entries.append(Figure(caption=caption, path=f"figures/{config}/{filename}"))
    if figure_dir.is_dir():
        for stale in figure_dir.iterdir():
            if stale.name not in used:
                if stale.is_dir():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
        if not used:
            figure_dir.rmdir()

    entry = ConfigManifest(
        **ctx.model_dump(),
        splits=splits,
        content_hash=_combine({s: splits[s].content_hash for s in SPLITS}),
        figures=figure_entries,
        negsamp_version=__version__,
    )
    configs = dict(existing.manifest.configs) if existing else {}
    configs[config] = entry
    manifest = Manifest(
        name=name,
        dataset_version=version,
        content_hash=_combine({c: e.content_hash for c, e in configs.items()}),
        negsamp_version=__version__,
        configs=dict(sorted(configs.items())),
    )
    all_rows = dict(existing.rows) if existing else {}
    all_rows[config] = split_rows
    atomic_write_bytes(out / CARD_NAME, render_card(manifest, all_rows, template=template).encode("utf-8"))
    atomic_write_bytes(out / MANIFEST_NAME, (manifest.model_dump_json(indent=2) + "\n").encode("utf-8"))
    return manifest
