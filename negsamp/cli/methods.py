"""`negsamp methods`: list the compression methods, or canonicalise method specs.

    negsamp methods                       # every method: parameters, defaults, description
    negsamp methods snapkv:ratio=0.3 kivi # the canonical spec of each (errors for bad ones)
    negsamp methods --paper               # the paper's configurations and the spec each one ran
    negsamp methods --paper gear_8192_b1_8bits
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "methods",
        help="list compression methods (or print the canonical form of method specs)",
        description=(
            "List the registered compression methods with their parameters and defaults, "
            "or, given specs such as 'snapkv:ratio=0.3', print each one's canonical form."
        ),
    )
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="method specs to check and canonicalise")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--paper",
        action="store_true",
        help="SPECs are the paper's configuration names (e.g. h2o_8192_b1_c2048_w32_k7_maxpool, with or "
        "without the model part); print the canonical spec each one ran (all of the paper's if none given)",
    )
    parser.set_defaults(func=run)


def run_paper(args: argparse.Namespace) -> int:
    from negsamp.methods.paper import PAPER_CONFIGS, paper_spec

    names = args.specs or list(PAPER_CONFIGS)
    mapping = {name: paper_spec(name) for name in names}
    if args.json:
        print(json.dumps(mapping, indent=2))
    else:
        width = max(map(len, mapping))
        for name, spec in mapping.items():
            print(f"{name:<{width}}  {spec}")
    return 0


def run(args: argparse.Namespace) -> int:
    from negsamp.methods import available_methods, parse_method

    if args.paper:
        return run_paper(args)
    if args.specs:
        methods = [parse_method(spec) for spec in args.specs]
        if args.json:
            print(json.dumps([m.spec for m in methods]))
        else:
            for m in methods:
                print(m.spec)
        return 0

    classes = available_methods()
    if args.json:
        rows = [
            {
                "name": name,
                "family": cls.family,
                "description": cls.description,
                "params": [
                    {"name": p.name, "type": p.type_name, "default": p.default, "help": p.help}
                    for p in cls.params()
                ],
            }
            for name, cls in classes.items()
        ]
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for name, cls in classes.items():
        print(f"{name}  [{cls.family}]  {cls.description}")
        for p in cls.params():
            default = "(required)" if p.default is None else p.default
            if isinstance(default, bool):
                default = "true" if default else "false"
            print(f"    {p.name}={default}  ({p.type_name})  {p.help}")
    print()
    print("Spec: NAME or NAME:key=value,...  e.g. snapkv:ratio=0.3  kivi:bits=4  "
          "press:cls=mypkg.module:MyPress,compression_ratio=0.5")
    return 0
