"""Generation backends. Each module exposes

    generate(model, tokenizer, method, samples, *, model_name, batch_size=8, progress=None)
        -> Iterator[negsamp.records.Prediction]

yielding one Prediction per sample, in input order. `hf` (transformers) runs
everywhere. Backend modules import torch, so this package imports none of them:
import the one you need (`from negsamp.backends.hf import generate`).
"""
