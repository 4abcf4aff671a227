"""Generation backends. Each module exposes

    generate(model, tokenizer, method, samples, *, model_name, batch_size=8, progress=None)
        -> Iterator[negsamp.records.Prediction]

yielding one Prediction per sample, in input order. `hf` (transformers) runs
everywhere; a vLLM backend is planned. Backend modules import torch, so this package
only names them; import the one you need with `get_backend(name)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from negsamp.errors import UnknownNameError

BACKENDS = {
    "hf": "negsamp.backends.hf",
}


def get_backend(name: str) -> ModuleType:
    """The backend module called `name` (e.g. 'hf')."""
    if name not in BACKENDS:
        raise UnknownNameError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])
