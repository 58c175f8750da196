"""Dispatch `hotline SUBCOMMAND` to the part of the suite that owns it.

Each owner exposes, in its `cli` module, `add_arguments(parser)` and `run(args) -> int`.
Those modules import only the standard library at module level, so `hotline score` never
pays for pysnmp or uvicorn; the heavy imports happen inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Listed once, here; a new subcommand adds one line.
COMMANDS: dict[str, tuple[str, str]] = {
    "score": ("scoring.cli", "compute the month's platform score from facts"),
    "agent": ("agent.cli", "run the probing agent (spool, ship, heartbeat)"),
    "probe": ("probes.cli", "run one probe once and print its JSON result (Nagios exit codes)"),
    "collector": ("collector.cli", "run the collector: ingest, outages, incidents, facts API"),
    "maint": ("collector.client.maint_cli", "plan, list and remove maintenance windows"),
    "incident": ("collector.client.incident_cli", "list, open, ack, restore and report incidents"),
    "status": ("collector.client.status_cli", "systems, components, incidents and windows now"),
    "inspect": ("collector.client.inspect_cli", "write the month's inspection report (巡检报告)"),
    "demo": ("hotline.demo.cli", "run a simulated hotline end to end and write a month's report"),
    "runbook": ("collector.runbook_cli", "dry-run (or run) the runbooks an event triggers"),
}

EXIT_USAGE = 3


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `only`, just that subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="hotline-uptime: availability evidence for the 12345 hotline platform",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; the contract says 3
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        return EXIT_USAGE if code == 2 else code
    try:
        return args._run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
