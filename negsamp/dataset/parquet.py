"""Rows to parquet bytes (deterministic writer options) and a split file back to rows."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from negsamp.dataset.common import ROW_GROUP_SIZE, ROW_VERSION
from negsamp.dataset.rows import ROW_SCHEMA, DatasetRow
from negsamp.errors import InputError
from negsamp.formats import first_error


def rows_table(rows: Sequence[DatasetRow]) -> pa.Table:
    """`rows` sorted by (task, sample_id) as an arrow table of `ROW_SCHEMA`."""
    ordered = sorted(rows, key=lambda r: r.key)
    return pa.Table.from_pylist([r.model_dump() for r in ordered], schema=ROW_SCHEMA)


def parquet_bytes(rows: Sequence[DatasetRow]) -> bytes:
    """The parquet file of `rows` (sorted by (task, sample_id)), with fixed writer options.

    An empty split is written with no row group at all: `datasets`' parquet reader
    fails on a file whose only row group has 0 rows.
    """
    schema = ROW_SCHEMA.with_metadata({b"negsamp.row_version": str(ROW_VERSION).encode()})
    table = rows_table(rows).replace_schema_metadata(schema.metadata)
    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink,
        schema,
        version="2.6",
        data_page_version="1.0",
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        write_page_index=False,
        store_schema=True,
    ) as writer:
        if table.num_rows:
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    return sink.getvalue()


def _read_table(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as err:  # a flipped byte can surface as any of arrow's, OSError, ValueError, ...
        raise InputError(f"{path}: not a readable parquet file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''})") from None
    if not table.schema.equals(ROW_SCHEMA, check_metadata=False):
        raise InputError(f"{path}: schema differs from negsamp's dataset row schema")
    version = (table.schema.metadata or {}).get(b"negsamp.row_version")
    if version is not None and version != str(ROW_VERSION).encode():
        raise InputError(f"{path}: row version {version.decode()} is not one this negsamp reads")
    return table


def _rows_of(path: Path) -> list[DatasetRow]:
    table = _read_table(path)
    try:
        records = table.to_pylist()
    except Exception as err:  # corrupt pages are only decoded here
        raise InputError(f"{path}: not a readable parquet file ({type(err).__name__})") from None
    rows = []
    for index, data in enumerate(records):
        try:
            rows.append(DatasetRow.model_validate(data))
        except ValidationError as err:
            raise InputError(f"{path}: row {index}: {first_error(err)}") from None
    return rows
