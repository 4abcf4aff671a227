"""Writing throughput.json / .txt / .png and reading a report back."""

from __future__ import annotations

import json
from pathlib import Path

from negsamp.throughput.plot import plot_throughput
from negsamp.throughput.render import format_table
from negsamp.throughput.report import ThroughputReport


def load_throughput(data: dict | str | Path) -> ThroughputReport:
    """A `ThroughputReport` from throughput.json, or from `EvaluationReport.throughput`."""
    if isinstance(data, (str, Path)):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    data = {k: v for k, v in dict(data).items() if k not in ("table", "ratio")}
    return ThroughputReport.model_validate(data)


def write_throughput(report: ThroughputReport, out_dir: str | Path) -> dict[str, Path]:
    """Write throughput.json, throughput.txt (the table) and throughput.png to `out_dir`."""
    from negsamp.atomic import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "throughput.json", "table": out / "throughput.txt", "plot": out / "throughput.png"}
    atomic_write_text(paths["json"], report.model_dump_json(indent=1) + "\n")
    atomic_write_text(paths["table"], format_table(report) + "\n")
    plot_throughput(report, paths["plot"])
    return paths
