"""`anju contract export`: the device contract as an AsyncAPI document (anju.asyncapi), for
device vendors to generate code and tests from."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anju import asyncapi
from anju.i18n import text
from anju.settings import Settings
from anju.typed_config import cli_lang

if TYPE_CHECKING:
    from anju.cli import CommandLine

# YAML only where PyYAML is already installed (apprise brings it): not a dependency of its own.
FORMATS = ["json", "yaml"] if find_spec("yaml") else ["json"]


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        import yaml
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def cmd_contract_export(args: argparse.Namespace, s: Settings) -> int:
    fmt = args.format or ("yaml" if args.output and args.output.endswith((".yaml", ".yml"))
                          and "yaml" in FORMATS else "json")
    body = render(asyncapi.document(args.address), fmt)
    if args.output and args.output != "-":
        Path(args.output).write_text(body, encoding="utf-8")
        print(text(cli_lang(), "contract_export.written", version=asyncapi.ASYNCAPI_VERSION,
                   path=args.output, format=fmt), file=sys.stderr)
    else:
        sys.stdout.write(body)
    return 0


def register(cli: "CommandLine") -> None:
    group = cli.group("contract", "the device contract")
    p = cli.command("export", cmd_contract_export,
                    "write the device contract as an AsyncAPI 2.6 document", group)
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument("--format", choices=FORMATS,
                   help="default json (yaml when --output ends in .yaml/.yml)")
    p.add_argument("--address", help="the broker's address devices are given (host:port or "
                                      "mqtt[s]://host:port); default: a server variable")
