"""`hotline runbook try`: what the collector's runbooks would do for an event — a dry run
by default (nothing runs), `--run` to run the matching ones once, here, as the collector would.

    hotline runbook try --config /etc/hotline/collector.yaml --event outage_started \\
        --component ivr-1 [--system ivr] [--reason timeout] [--incident INC-…] [--run]
    hotline runbook try --config … --event backup_missed --component acd-1 [--kind daily]

Prints one JSON object per matching runbook (its plan; with --run also the outcome). Exit 0
when something matched (and, with --run, every run was ok), 2 when nothing matched or a run
failed, 3 on a config or usage error.
"""

from __future__ import annotations

import argparse
import json
import sys

EVENTS = ("outage_started", "outage_ended", "incident_opened", "incident_restored",
          "deadline_passed", "backup_missed")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    try_ = sub.add_parser("try", help="show (or with --run, run) what an event would trigger")
    try_.add_argument("--config", required=True, help="the collector's config file")
    try_.add_argument("--event", required=True, choices=EVENTS)
    try_.add_argument("--component", default="", help="the component the event is about")
    try_.add_argument("--system", help="its system (acd, ivr, seat, callsys, other)")
    try_.add_argument("--reason", default="timeout", help="the probe's reason")
    try_.add_argument("--incident", help="the incident id the event belongs to")
    try_.add_argument(
        "--kind", choices=("daily", "monthly"), default="daily", help="backup_missed: which backup"
    )
    try_.add_argument("--run", action="store_true", help="really run them (default: dry run)")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from collector.config import CollectorConfigError, load_config
    from collector.domain.engine import Event, EventType
    from collector.domain.model import Outage
    from collector.notify.runbooks import RunbookRunner, matches, plan

    try:
        config = load_config(args.config)
    except CollectorConfigError as exc:
        print(f"hotline runbook: {exc}", file=sys.stderr)
        return 3
    now = time.time_ns() // 1_000_000
    outage = None
    detail: dict[str, object] = {}
    if args.event == "backup_missed":  # no outage: the backup due now, as the tick publishes it
        detail = {"kind": args.kind, "probe": "backup"}
    elif args.component:
        outage = Outage(f"{args.component}@{now}", args.component, now, None, reason=args.reason)
    event = Event(EventType(args.event), now, args.component, outage, args.incident, detail)
    system = args.system

    def system_of(component: str) -> str | None:
        return system if component == args.component else None

    found = matches(config.runbooks, event, system_of)
    if not found:
        print(f"hotline runbook: no runbook matches {args.event} {args.component}".rstrip())
        return 2
    if not args.run:
        for book in found:
            print(json.dumps({"runbook": book.name, "plan": plan(book, event, system)},
                             ensure_ascii=False))  # fmt: skip
        return 0

    async def go() -> int:
        runner = RunbookRunner(found, system_of=system_of)
        failed = 0
        try:
            for book in found:
                outcome = await runner.run(book, event, system)
                failed += outcome.status != "ok"
                print(json.dumps(outcome.timeline_detail(), ensure_ascii=False, default=str))
        finally:
            await runner.aclose()
        return 2 if failed else 0

    return asyncio.run(go())
