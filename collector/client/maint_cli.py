"""`hotline maint add|list|rm`: maintenance windows, through the collector's API."""

from __future__ import annotations

import argparse
import json
import sys

from collector.client.common import add_client_arguments

EXIT_USAGE = 3
EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    add = sub.add_parser("add", help="plan a window")
    add.add_argument(
        "--components", required=True, help="comma-separated component ids, or '*' for all"
    )
    add.add_argument(
        "--start", required=True, help="ISO 8601 with offset, e.g. 2026-11-08T02:00+08:00"
    )
    end = add.add_mutually_exclusive_group(required=True)
    end.add_argument("--end", help="ISO 8601 with offset")
    end.add_argument("--duration", help="e.g. 2h, 90m, 1h30m, PT2H")
    add.add_argument("--reason", required=True)
    add.add_argument("--approval", default="", help="approval reference (change request, ticket)")
    add.add_argument(
        "--rrule", help="RFC 5545 RRULE for a recurring window, e.g. FREQ=WEEKLY;BYDAY=SU"
    )
    add.add_argument(
        "--new-component",
        action="store_true",
        help="the components have not reported yet (hardware being installed); "
        "without it an unknown component id is refused",
    )
    lst = sub.add_parser("list", help="show windows")
    lst.add_argument("--json", action="store_true", help="print the API's JSON")
    rm = sub.add_parser("rm", help="delete a window (the audit trail keeps it)")
    rm.add_argument("id")
    for p in (add, lst, rm):
        add_client_arguments(p)


def run(args: argparse.Namespace) -> int:
    from collector.client.http import ClientError, CollectorClient, read_token

    try:
        with CollectorClient(args.collector, read_token(args.token_file)) as client:
            if args.action == "add":
                body = {
                    "components": ["*"]
                    if args.components.strip() == "*"
                    else [c.strip() for c in args.components.split(",") if c.strip()],
                    "start": args.start,
                    "reason": args.reason,
                    "approval_ref": args.approval,
                }
                if args.end:
                    body["end"] = args.end
                else:
                    body["duration"] = args.duration
                if args.rrule:
                    body["rrule"] = args.rrule
                if args.new_component:
                    body["new_component"] = True
                window = client.call("POST", "/api/v1/maintenance", json=body)
                print(window["id"])
            elif args.action == "list":
                windows = client.call("GET", "/api/v1/maintenance")["windows"]
                if args.json:
                    print(json.dumps(windows, ensure_ascii=False, indent=2))
                for w in [] if args.json else windows:
                    rec = f" rrule={w['rrule']}" if w.get("rrule") else ""
                    print(
                        f"{w['id']}  {w['start']} → {w['end']}  {','.join(w['components'])}  "
                        f"{w['reason']}  [{w['approval_ref']}] by {w['created_by']}{rec}"
                    )
            else:
                client.call("DELETE", f"/api/v1/maintenance/{args.id}")
                print(f"removed {args.id}")
    except ClientError as exc:
        print(f"hotline maint: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    return 0
