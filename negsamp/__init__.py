__version__ = "0.1.0"


def __getattr__(name: str):
    # `negsamp.load` is imported on first use, so `import negsamp` stays cheap.
    if name == "load":
        from negsamp.dataset import load

        return load
    raise AttributeError(f"module 'negsamp' has no attribute {name!r}")
