"""Output lengths of each side, from an evaluation report, for the end-to-end figures."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from negsamp.errors import InputError
from negsamp.formats import first_error
from negsamp.throughput.report import OutputLengths

if TYPE_CHECKING:
    from negsamp.backends.vllm_load_report import ReplayLengths


def output_lengths(report: Any, source: str) -> OutputLengths:
    """Mean output tokens of each side from an `EvaluationReport` (or its JSON dict)."""
    from negsamp.evaluator import EvaluationReport

    if not isinstance(report, EvaluationReport):
        report = EvaluationReport.model_validate(report)
    pairs = [(s.baseline_output_tokens, s.output_tokens) for s in report.samples if s.output_tokens is not None]
    if not pairs:
        raise InputError(f"{source}: the evaluation report has no method output lengths "
                         "(predictions scored without output_tokens); cannot compute end-to-end times")
    return OutputLengths(
        source=source, model=report.model, method=report.method, samples=len(pairs),
        baseline_output_tokens_mean=statistics.fmean(b for b, _ in pairs),
        method_output_tokens_mean=statistics.fmean(m for _, m in pairs),
    )


def read_lengths(path: str | Path) -> OutputLengths:
    """Output lengths from an evaluation `report.json`; InputError naming the file if unusable."""
    from pydantic import ValidationError

    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise InputError(f"{path}: evaluation report not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a JSON evaluation report ({err})") from err
    try:
        return output_lengths(data, str(path))
    except ValidationError as err:
        raise InputError(f"{path}: not an evaluation report: {first_error(err)}") from None


def read_replay(path: Path) -> ReplayLengths:
    """Per-sample output lengths of both sides from an evaluation report.json (`throughput --backend vllm
    --lengths`); here, not in backends/, because backends do not read evaluation reports."""
    from pydantic import ValidationError

    from negsamp.backends.vllm_load_report import ReplayLengths
    from negsamp.evaluator import EvaluationReport

    path = path / "report.json" if path.is_dir() else path
    try:
        report = EvaluationReport.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: evaluation report not found") from None
    except (ValidationError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not an evaluation report ({str(err).splitlines()[0]})") from err
    pairs = [(s.baseline_output_tokens, s.output_tokens) for s in report.samples if s.output_tokens is not None]
    if not pairs:
        raise InputError(f"{path}: the evaluation report has no method output lengths to replay")
    return ReplayLengths(source=str(path), method=report.method, baseline_output_tokens=[b for b, _ in pairs],
                         method_output_tokens=[m for _, m in pairs])
