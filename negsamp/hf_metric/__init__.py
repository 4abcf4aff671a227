"""negsamp's scorer as a Hugging Face `evaluate` metric module, shipped as package data.

    import evaluate
    from negsamp.hf_metric import metric_path

    metric = evaluate.load(metric_path())          # offline: a local script, nothing downloaded
    metric.compute(predictions=[...], references=[[...], ...], task="hotpotqa",
                   baseline_scores=[...], t=0.1)

`evaluate` is imported only by the module file itself (it costs seconds to import),
never by this package or any other part of negsamp.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["metric_path"]


def metric_path() -> str:
    """Path of the metric script, for `evaluate.load`."""
    return str(Path(__file__).with_name("negsamp_longbench.py"))
