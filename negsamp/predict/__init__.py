"""Predictors of a compression method's serving cost: throughput, output length, and both combined.

- `roofline`: FLOPs and bytes per prefill/decode step for a model shape and method;
- `points`: measured throughput points (the paper's CSVs, our throughput.json);
- `throughput`: the roofline-grounded throughput predictor (`fit_throughput`, `predict_thr`);
- `heldout`: its held-out error next to a plain cost model;
- `length`: the output-length-ratio predictor fitted on run stores;
- `plan`: memory saved, the batch that fits, throughput there, length change, end to end.
"""
