"""The one spec grammar (negsamp.specs), as methods and task sources both use it."""

from __future__ import annotations

import pytest

from negsamp.errors import InputError
from negsamp.methods import parse_method
from negsamp.specs import format_spec, parse_spec
from negsamp.tasks.sources import parse_task_spec


@pytest.mark.parametrize("text, name, arg, params", [
    ("none", "none", None, ()),
    ("  none  ", "none", None, ()),
    ("kivi:", "kivi", None, ()),
    ("snapkv:ratio=0.5,window=8", "snapkv", None, (("ratio", "0.5"), ("window", "8"))),
    (" snapkv : ratio = 0.5 , window=8 ", "snapkv", None, (("ratio", "0.5"), ("window", "8"))),
    # a value may hold colons (import paths) and commas not followed by key=
    ("press:cls=mypkg.mod:MyPress,compression_ratio=0.5", "press", None,
     (("cls", "mypkg.mod:MyPress"), ("compression_ratio", "0.5"))),
    ("longbench:gov_report", "longbench", "gov_report", ()),
    ("longbench:gov_report:path=data/a,b.jsonl,limit=3", "longbench", "gov_report",
     (("path", "data/a,b.jsonl"), ("limit", "3"))),
    ("longbench:repobench-p:path=x:y.jsonl", "longbench", "repobench-p", (("path", "x:y.jsonl"),)),
    ("passkey:lengths=500+1000", "passkey", None, (("lengths", "500+1000"),)),
])
def test_grammar(text, name, arg, params):
    parsed = parse_spec(text, allow_arg=True)
    assert (parsed.name, parsed.arg, parsed.params) == (name, arg, params)
    again = parse_spec(format_spec(parsed.name, parsed.params, arg=parsed.arg), allow_arg=True)
    assert again == parsed  # the canonical text round-trips


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    (":ratio=0.5", "not a valid name"),
    ("snapkv:ratio=0.5,", "trailing comma"),
    ("snapkv:ratio=0.5,,window=8", "trailing comma"),
    ("snapkv:ratio=0.5,ratio=0.3", "given twice"),
    ("snapkv:ratio=", "has no value"),
    ("snapkv:ratio=0.5,=3", "has no name"),
    ("snapkv:1x=3", "not a valid parameter name"),
    ("longbench::limit=3", "empty argument"),
])
def test_grammar_refuses(text, message):
    with pytest.raises(InputError, match=message):
        parse_spec(text, allow_arg=True)


def test_methods_take_no_positional_argument():
    with pytest.raises(InputError, match="expected key=value"):
        parse_method("snapkv:0.5")


def test_methods_and_tasks_share_the_comma_rule():
    # Before: methods split on every comma, task sources only before `key=`. Now both do the latter.
    method = parse_method("press:cls=kvpress:KnormPress,compression_ratio=0.25")
    assert method.spec == parse_method(method.spec).spec
    assert parse_task_spec("longbench:qasper:path=a,b.jsonl").path.name == "a,b.jsonl"
    with pytest.raises(InputError, match="trailing comma"):
        parse_method("snapkv:ratio=0.5,")
    with pytest.raises(InputError, match="trailing comma"):
        parse_task_spec("passkey:count=3,")


@pytest.mark.parametrize("text", ["none", "kivi:bits=2,group=32,residual=128", "streamingllm:ratio=0.5",
                                  "snapkv:ratio=0.3,window=8"])
def test_canonical_method_specs_round_trip(text):
    method = parse_method(text)
    assert parse_method(method.spec) == method
    assert parse_spec(method.spec).name == method.name
