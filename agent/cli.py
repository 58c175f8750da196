"""`hotline agent --config FILE [--check | --once]`: run the probing agent.

- `--check` validates the config (includes and seat CSVs too, every probe's target and
  options as the probe parses them, the files they name, the `NAME_env` variables they read)
  and exits 0, or 3 with one `file:line: field: message` per problem on stderr.
- `--once` runs every check once and prints one JSON line per result (the collector's wire
  form); exits 0 when all are ok, 2 when any is not, 3 on a config error.
- otherwise runs until SIGTERM (flushes the spool, exits 0); SIGHUP reloads the config.
  Exits 3 on a config error (token included), 1 when the spool cannot be opened.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_NOT_OK = 2
EXIT_USAGE = 3
LOG_LEVELS = ["debug", "info", "warning", "error"]
# Their INFO is chatter (asyncssh: several lines per SSH check run; httpx: one per request).
LIBRARY_LOGGERS = ("asyncssh", "apscheduler", "pysnmp", "httpx", "httpcore")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="the agent's YAML config")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="validate the config and exit")
    mode.add_argument(
        "--once", action="store_true", help="run every check once, print JSON lines, exit"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        type=str.lower,  # DEBUG, Debug and debug alike, as `hotline collector` takes them
        choices=LOG_LEVELS,
        help="debug|info|warning|error (default info); libraries log at warning unless debug",
    )


def _remember_signals() -> list[int]:
    """Catch SIGHUP and SIGTERM from the first moment: a `systemctl reload` right after start
    killed the agent (SIGHUP's default action) while it was still importing and parsing.
    What arrives before the agent is ready is applied once it is (see Agent.run)."""
    import signal

    early: list[int] = []

    def note(signum: int, _frame: object) -> None:
        early.append(signum)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, note)
    return early


class _Formatter(logging.Formatter):
    """Instants as ISO 8601 with the local UTC offset: 2026-11-29T22:41:05.759+08:00."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        instant = datetime.fromtimestamp(record.created).astimezone()
        return instant.isoformat(timespec="milliseconds")


def setup_logging(level: str) -> None:
    """One line per record on stderr; libraries' loggers at WARNING unless `level` is debug."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def run(args: argparse.Namespace) -> int:
    early = [] if args.check or args.once else _remember_signals()  # before anything slow
    import asyncio
    import json

    from agent.config import AgentConfigError, load_config

    setup_logging(args.log_level)
    try:
        config = load_config(args.config)
        if not (args.check or args.once):
            config.read_token()
    except AgentConfigError as exc:
        print(f"hotline agent: invalid config {args.config}:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.check:
        components = {c.component for c in config.checks}
        print(
            f"{args.config}: ok — {len(config.checks)} checks on {len(components)} components "
            f"from {len(config.files)} file(s)"
        )
        return EXIT_OK

    if args.once:
        from agent.service import run_once

        results = asyncio.run(run_once(config))
        for record in results:
            print(json.dumps(record, ensure_ascii=False))
        return EXIT_OK if all(r["ok"] for r in results) else EXIT_NOT_OK

    from agent.service import Agent
    from agent.spool import SpoolError

    async def _main() -> int:
        return await Agent(args.config, config, early_signals=early).run()

    try:
        return asyncio.run(_main())
    except SpoolError as exc:
        print(f"hotline agent: {exc}", file=sys.stderr)
        return EXIT_FAILURE
