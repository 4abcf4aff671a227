"""Method specs: registry, canonical round trip, defaults, bad input, plug-ins, CLI listing."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from negsamp.cli import main
from negsamp.errors import InputError, UnknownNameError
from negsamp.methods import Method, available_methods, param, parse_method, register_method
from negsamp.methods.base import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_BUILTINS = {
    "none", "streamingllm", "snapkv", "h2o", "tova", "knorm", "expected_attention", "pyramidkv", "press", "kivi",
    "gear",
}


def test_builtins_registered():
    assert EXPECTED_BUILTINS <= set(available_methods())


def declared_builtins() -> dict[str, str]:
    """The built-ins, as pyproject.toml (their only list) registers them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return project["project"]["entry-points"][ENTRY_POINT_GROUP]


def test_pyproject_declares_the_builtins():
    assert EXPECTED_BUILTINS <= set(declared_builtins())


def test_builtins_come_from_installed_entry_points():
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name, ref in declared_builtins().items():
        assert installed.get(name) == ref, f"run `pip install --no-deps -e .` to register {name}"


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("none", "none"),
        ("  none  ", "none"),
        ("snapkv", "snapkv:ratio=0.5,budget=0,window=8,pool=max,kernel=7,gqa=mean,compress=context+question"),
        ("snapkv:ratio=0.3", "snapkv:ratio=0.3,budget=0,window=8,pool=max,kernel=7,gqa=mean,compress=context+question"),
        (
            "snapkv:window=16,ratio=0.25,pool=avg,kernel=5",
            "snapkv:ratio=0.25,budget=0,window=16,pool=avg,kernel=5,gqa=mean,compress=context+question",
        ),
        ("streamingllm:ratio=0.9", "streamingllm:ratio=0.9,budget=0,sink=4,compress=context+question"),
        ("h2o:ratio=0", "h2o:ratio=0.0,budget=0,variant=paper,window=8,gqa=mean,compress=context+question"),
        (
            "h2o:budget=2048,variant=rethink,gqa=repeat",
            "h2o:ratio=0.0,budget=2048,variant=rethink,window=8,gqa=repeat,compress=context+question",
        ),
        ("tova:compress=context", "tova:ratio=0.5,compress=context"),
        ("knorm:ratio=0.75", "knorm:ratio=0.75,compress=context+question"),
        (
            "expected_attention:covariance=false",
            "expected_attention:ratio=0.5,future=512,sink=4,covariance=false,vnorm=true,compress=context+question",
        ),
        (
            "pyramidkv:ratio=0.5",
            "pyramidkv:ratio=0.5,budget=0,variant=paper,window=8,pool=max,kernel=7,beta=20,gqa=mean,"
            "compress=context+question",
        ),
        ("kivi", "kivi:bits=4,group=32,residual=128"),
        ("kivi:bits=2", "kivi:bits=2,group=32,residual=128"),
        ("gear", "gear:bits=4,outlier=0.02,rank=0.02,loop=3,gap=20,seed=0"),
        ("gear:bits=8", "gear:bits=8,outlier=0.02,rank=0.02,loop=3,gap=20,seed=0"),
        (
            "press:cls=kvpress:KnormPress,compression_ratio=0.25",
            "press:cls=kvpress:KnormPress,compress=context+question,attn=auto,compression_ratio=0.25",
        ),
        (
            "press:compression_ratio=0.5,cls=kvpress.SnapKVPress,window_size=4,compress=context",
            "press:cls=kvpress:SnapKVPress,compress=context,attn=auto,compression_ratio=0.5,window_size=4,kernel_size=5",
        ),
        (
            "press:cls=kvpress:ObservedAttentionPress,attn=eager,compression_ratio=0.5",
            "press:cls=kvpress:ObservedAttentionPress,compress=context+question,attn=eager,compression_ratio=0.5",
        ),
    ],
)
def test_canonical_spec_round_trip(text, canonical):
    method = parse_method(text)
    assert method.spec == canonical
    assert parse_method(method.spec) == method
    assert parse_method(canonical).spec == canonical
    assert str(method) == canonical


@pytest.mark.parametrize("name", sorted(EXPECTED_BUILTINS - {"press"}))
def test_every_builtin_parses_with_defaults(name):
    method = parse_method(name)
    assert method.spec.startswith(name)
    assert parse_method(method.spec) == method
    assert isinstance(hash(method), int)  # frozen: usable as a dict key


def test_parse_method_passes_methods_through():
    method = parse_method("knorm")
    assert parse_method(method) is method


def test_method_behaviour_flags():
    assert parse_method("none").supports_batching
    assert parse_method("none").batching_note is None
    assert parse_method("none").pad_prefill
    for spec in ("snapkv", "kivi", "gear", "h2o:gqa=repeat", "knorm:compress=context", "streamingllm:budget=8"):
        assert parse_method(spec).supports_batching and not parse_method(spec).pad_prefill
    pyramid = parse_method("pyramidkv")
    assert not pyramid.supports_batching and "each layer" in pyramid.batching_note
    assert parse_method("h2o").attn_implementation is None  # scores from queries, not attention weights
    assert parse_method("h2o:gqa=repeat").attn_implementation == "negsamp_per_head"
    assert parse_method("snapkv").attn_implementation is None
    assert parse_method("press:cls=kvpress:KnormPress,attn=eager").attn_implementation == "eager"
    assert parse_method("knorm:compress=context").split_prefill
    assert not parse_method("knorm").split_prefill
    assert not parse_method("none").split_prefill
    assert parse_method("kivi").family == "quantization"
    assert parse_method("gear").family == "quantization"
    assert parse_method("tova").family == "eviction"


@pytest.mark.parametrize(
    "spec, error, words",
    [
        ("", InputError, ["empty"]),
        ("nosuch", UnknownNameError, ["unknown method 'nosuch'", "snapkv", "kivi", "none"]),
        ("snapkv:bogus=1", UnknownNameError, ["no parameter 'bogus'", "ratio", "window", "kernel", "compress"]),
        ("h2o:variant=new", InputError, ["paper", "rethink"]),
        ("snapkv:gqa=sum", InputError, ["mean", "repeat"]),
        ("gear:bits=2", InputError, ["bits=2", "4 or 8"]),
        ("gear:outlier=1.5", InputError, ["outlier"]),
        ("gear:gap=0", InputError, ["gap"]),
        ("kivi:residual=100", InputError, ["multiple of group"]),
        ("snapkv:ratio=half", InputError, ["ratio='half'", "float"]),
        ("snapkv:window=2.5", InputError, ["window='2.5'", "int"]),
        ("snapkv:ratio=1", InputError, ["[0, 1)"]),
        ("snapkv:ratio=1.5", InputError, ["[0, 1)"]),
        ("knorm:ratio=-0.1", InputError, ["[0, 1)"]),
        ("knorm:ratio=nan", InputError, ["ratio"]),
        ("snapkv:window=0", InputError, ["window=0", ">= 1"]),
        ("knorm:compress=question", InputError, ["context+question", "context"]),
        ("expected_attention:covariance=maybe", InputError, ["covariance", "bool"]),
        ("kivi:bits=3", InputError, ["bits=3", "2, 4 or 8"]),
        ("kivi:group=0", InputError, ["group"]),
        ("kivi:residual=-1", InputError, ["residual"]),
        ("snapkv:ratio", InputError, ["key=value"]),
        ("snapkv:ratio=0.1,ratio=0.2", InputError, ["twice"]),
        ("none:ratio=0.5", UnknownNameError, ["no parameter 'ratio'"]),
        ("press:compression_ratio=0.5", InputError, ["cls="]),
        ("press:cls=kvpress:NoSuchPress", InputError, ["cannot import", "NoSuchPress"]),
        ("press:cls=no_such_module_xyz:Press", InputError, ["cannot import"]),
        ("press:cls=kvpress:KnormPress,bogus=1", UnknownNameError, ["no argument 'bogus'", "compression_ratio"]),
        ("press:cls=kvpress:KnormPress,compression_ratio=1.0", InputError, ["[0, 1)"]),
        ("press:cls=kvpress:KnormPress,attn=flash", InputError, ["auto", "eager", "sdpa"]),
    ],
)
def test_bad_specs_raise_clear_errors(spec, error, words):
    with pytest.raises(error) as info:
        parse_method(spec)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_constructing_directly_validates_too():
    from negsamp.methods.kivi import KIVI
    from negsamp.methods.snapkv import SnapKV

    with pytest.raises(InputError):
        SnapKV(ratio=1.0)
    with pytest.raises(InputError):
        KIVI(bits=1)
    assert SnapKV(ratio=0.25).spec == (
        "snapkv:ratio=0.25,budget=0,window=8,pool=max,kernel=7,gqa=mean,compress=context+question"
    )


@dataclasses.dataclass(frozen=True)
class Halve(Method):
    name = "halve_for_test"
    description = "A plug-in registered at run time (test)."
    family = "eviction"

    keep: float = param(0.5, "fraction kept")
    mode: str = param("fast", "a free-text option")


def test_plugin_registration_and_round_trip():
    register_method(Halve)
    assert "halve_for_test" in available_methods()
    method = parse_method("halve_for_test:keep=0.25")
    assert method == Halve(keep=0.25)
    assert method.spec == "halve_for_test:keep=0.25,mode=fast"
    assert parse_method(method.spec) == method


def test_register_rejects_non_methods():
    class NotAMethod:
        name = "x"

    with pytest.raises(TypeError):
        register_method(NotAMethod)  # type: ignore[arg-type]


def test_methods_command_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED_BUILTINS:
        assert f"\n{name}  [" in "\n" + out
    assert "window=8" in out and "bits=4" in out and "compress=context+question" in out


def test_methods_command_canonicalises_specs(capsys):
    assert main(["methods", "snapkv:ratio=0.3", "kivi:bits=4"]) == 0
    assert capsys.readouterr().out.split() == [
        "snapkv:ratio=0.3,budget=0,window=8,pool=max,kernel=7,gqa=mean,compress=context+question",
        "kivi:bits=4,group=32,residual=128",
    ]


def test_methods_command_reports_bad_spec(capsys):
    assert main(["methods", "snapkv:ratio=2"]) == 1
    assert "[0, 1)" in capsys.readouterr().err


def test_listing_methods_does_not_import_torch():
    code = (
        "import sys; from negsamp.methods import available_methods, parse_method;"
        "available_methods(); parse_method('snapkv:ratio=0.3'); parse_method('kivi');"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
