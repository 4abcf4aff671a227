"""Compression methods: one registry, canonical specs like `snapkv:ratio=0.5,...`.

See `negsamp.methods.base` for the spec grammar and the plug-in mechanism.
"""

from negsamp.methods.base import (
    ENTRY_POINT_GROUP,
    Method,
    ParamInfo,
    available_methods,
    get_method_class,
    param,
    parse_method,
    register_method,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Method",
    "ParamInfo",
    "available_methods",
    "get_method_class",
    "param",
    "parse_method",
    "register_method",
]
