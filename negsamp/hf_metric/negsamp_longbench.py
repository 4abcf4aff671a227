"""LongBench per-sample scores and negative-sample recovery, as a Hugging Face `evaluate` metric.

Load it offline from its path: `evaluate.load(negsamp.hf_metric.metric_path())`.

Scores are negsamp's LongBench v1 metrics (`negsamp.metrics.score`: qa_f1, rouge,
classification, retrieval, count, code similarity, and string match for the
synthetic RULER-style tasks), one value in [0, 1] per prediction, the max over
its references. Given the baseline's scores of the same samples, a sample is
*recovered* iff `b * (1 - t) < o`, the negative-sample rule's exact float64 form
(`negsamp.mining.MiningRule`): on a negative sample this says the method no
longer breaks it; on a control sample, that it kept it.
"""

from __future__ import annotations

import datasets
import evaluate

from negsamp.metrics import score
from negsamp.mining import MiningRule

_CITATION = """@inproceedings{gao2025rethinking,
  title     = {Rethinking Key-Value Cache Compression Techniques for Large Language Model Serving},
  author    = {Gao, Wei and Zhou, Xinyu and Sun, Peng and Zhang, Tianwei and Wen, Yonggang},
  booktitle = {Proceedings of Machine Learning and Systems (MLSys)},
  year      = {2025}
}"""

_INPUTS = """
Args:
    predictions (list of str): model outputs.
    references (list of list of str): the ground-truth answers of each sample; the score is the max over them.
    task (str or list of str): the LongBench task (e.g. "hotpotqa") or synthetic family ("passkey"),
        one for all samples or one per sample.
    all_classes (list of str, or one list per sample, optional): label set of trec and lsht.
    baseline_scores (list of float, optional): the uncompressed baseline's score of each sample.
    t (float, optional, default 0.1): the rule's relative drop.
Returns:
    scores (list of float): per-sample scores in [0, 1].
    mean_score (float): their mean.
    with baseline_scores also:
    recovered (list of bool): `b * (1 - t) < o` per sample.
    recovery_rate (float): the fraction recovered.
    relative_score (float or None): mean score / mean baseline score (None when the latter is 0).
Examples:
    >>> metric = evaluate.load(negsamp.hf_metric.metric_path())
    >>> metric.compute(predictions=["Paris"], references=[["Paris"]], task="hotpotqa", baseline_scores=[1.0])
    {'scores': [1.0], 'mean_score': 1.0, 'recovered': [True], 'recovery_rate': 1.0, 'relative_score': 1.0}
"""


class NegsampLongBench(evaluate.Metric):
    """LongBench per-sample scores and which samples a method recovers."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
            reference_urls=["https://github.com/THUDM/LongBench", "https://arxiv.org/abs/2503.24000"],
        )

    def _compute(self, predictions, references, task, all_classes=None, baseline_scores=None, t=0.1):
        n = len(predictions)
        tasks = [task] * n if isinstance(task, str) else list(task)
        if all_classes is None or all(isinstance(c, str) for c in all_classes):
            classes = [all_classes] * n
        else:
            classes = list(all_classes)
        if len(tasks) != n or len(classes) != n:
            raise ValueError(f"task and all_classes need one entry per prediction ({n})")
        scores = [float(score(tasks[i], predictions[i], list(references[i]), classes[i])) for i in range(n)]
        result = {"scores": scores, "mean_score": sum(scores) / n if n else 0.0}
        if baseline_scores is None:
            return result
        if len(baseline_scores) != n:
            raise ValueError(f"baseline_scores has {len(baseline_scores)} entries for {n} predictions")
        rule = MiningRule(t=t)
        recovered = [not rule.is_negative(b, o) for b, o in zip(baseline_scores, scores, strict=True)]
        mean_base = sum(baseline_scores) / n if n else 0.0
        result.update(
            recovered=recovered,
            recovery_rate=sum(recovered) / n if n else 0.0,
            relative_score=result["mean_score"] / mean_base if mean_base else None,
        )
        return result
