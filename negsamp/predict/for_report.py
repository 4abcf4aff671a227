"""The `negsamp plan` estimate attached to an evaluation report.

An evaluation measures a method's output-length ratio on the dataset; the plan turns it into
serving terms at a reference load: the bare roofline on `REPORT_HARDWARE`, `REPORT_BATCH`
requests of `REPORT_PROMPT_LEN` tokens, the baseline's measured mean output length. It is a
what-if for a GPU server, not a measurement (the report's throughput section measures).
"""

from __future__ import annotations

from negsamp.errors import InputError

REPORT_HARDWARE = "a6000"
REPORT_BATCH = 16
REPORT_PROMPT_LEN = 4096


def report_estimate(model: str, method: str, source: str, length_ratio: float | None,
                    baseline_output_tokens: float) -> dict | None:
    """The plan as a dict, or None where it cannot be made (external predictions, unknown model shape)."""
    from negsamp.predict.plan import make_plan
    from negsamp.predict.roofline import hardware, model_shape

    if source != "method":
        return None
    try:
        plan = make_plan(model_shape(model), hardware(REPORT_HARDWARE), method, REPORT_BATCH, REPORT_PROMPT_LEN,
                         output_tokens=max(baseline_output_tokens, 1.0), length_ratio=length_ratio or 1.0,
                         length_source="measured on this dataset" if length_ratio else "unknown, assumed 1")
    except InputError:  # a model without a known shape, or a spec whose parameters it cannot read
        return None
    return plan.model_dump()


def estimate_lines(estimate: dict) -> list[str]:
    """The plan's text, for the report's markdown."""
    from negsamp.predict.plan import Plan, format_plan

    return format_plan(Plan.model_validate(estimate)).splitlines()
