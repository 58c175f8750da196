"""`hotline incident list|show|open|ack|restore|report|annotate|draft`, and the disputes
`outages|exclude|include|annotate-outage`, through the collector's API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from collector.client.common import add_client_arguments

if TYPE_CHECKING:
    from collector.client.http import CollectorClient

EXIT_USAGE = 3
EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    parsers = []
    lst = sub.add_parser("list", help="incidents")
    lst.add_argument("--open", action="store_true", help="only those not restored")
    lst.add_argument("--month", help="YYYY-MM (by detection)")
    lst.add_argument("--json", action="store_true")
    parsers.append(lst)
    show = sub.add_parser("show", help="one incident with its timeline (JSON)")
    show.add_argument("id")
    parsers.append(show)
    opn = sub.add_parser("open", help="open an incident by hand (a fault no probe sees)")
    opn.add_argument("--components", required=True, help="comma-separated component ids")
    opn.add_argument("--title", required=True)
    opn.add_argument("--severity", choices=["P1", "P2", "P3"])
    opn.add_argument("--detected-at", help="ISO 8601 with offset (default: now)")
    opn.add_argument(
        "--new-component",
        action="store_true",
        help="the components have not reported yet (hardware being installed)",
    )
    parsers.append(opn)
    ack = sub.add_parser("ack", help="acknowledge (your token's name is recorded)")
    ack.add_argument("id")
    _add_late(ack, "acknowledged")
    parsers.append(ack)
    restore = sub.add_parser("restore", help="record restoration by hand")
    restore.add_argument("id")
    restore.add_argument("--at", help="ISO 8601 with offset (default: now)")
    restore.add_argument(
        "--force",
        action="store_true",
        help="record it although an outage is still open or --at is before detection "
        "(needs --reason; audited)",
    )
    restore.add_argument("--reason", help="why, with --force")
    parsers.append(restore)
    report = sub.add_parser("report", help="record the written report (书面报告) as submitted")
    report.add_argument("id")
    report.add_argument("--ref", required=True, help="URL or file of the submitted report")
    _add_late(report, "handed in")
    parsers.append(report)
    note = sub.add_parser("annotate", help="add a note to the timeline")
    note.add_argument("id")
    note.add_argument("--note", required=True)
    parsers.append(note)
    outages = sub.add_parser("outages", help="list outages (ids for exclude/annotate-outage)")
    outages.add_argument("--component")
    outages.add_argument("--from", dest="since", help="ISO 8601 with offset")
    outages.add_argument("--to", dest="until", help="ISO 8601 with offset")
    parsers.append(outages)
    exclude = sub.add_parser("exclude", help="exclude a disputed outage from fault time")
    exclude.add_argument("outage")
    exclude.add_argument("--reason", required=True)
    exclude.add_argument("--approved-by", required=True, help="who approved (e.g. the center)")
    parsers.append(exclude)
    include = sub.add_parser("include", help="lift an outage's exclusion")
    include.add_argument("outage")
    include.add_argument("--reason", required=True)
    parsers.append(include)
    onote = sub.add_parser("annotate-outage", help="add a note to an outage (audit trail)")
    onote.add_argument("outage")
    onote.add_argument("--note", required=True)
    parsers.append(onote)
    draft = sub.add_parser("draft", help="write a skeleton of the 书面报告 (Markdown or Word)")
    draft.add_argument("id")
    draft.add_argument(
        "--format", choices=["md", "docx"], default="md", help="md (default) or docx (needs -o)"
    )
    draft.add_argument("-o", "--output", help="file to write (default: stdout; docx needs it)")
    parsers.append(draft)
    for p in parsers:
        add_client_arguments(p)


def _add_late(parser: argparse.ArgumentParser, done: str) -> None:
    """`--at` and `--reason` for an action recorded later than it happened."""
    parser.add_argument(
        "--at",
        help=f"when it was really {done}, if recorded late: ISO 8601 with offset "
        "(not before detection, not in the future; needs --reason; audited)",
    )
    parser.add_argument("--reason", help="why it is recorded late (with --at)")


def _ref(ref: str) -> str:
    """A local file is recorded with its SHA-256, so the evidence names the exact document."""
    import hashlib
    from pathlib import Path

    path = Path(ref)
    if "://" not in ref and path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return f"file:{path.name} sha256:{digest}"
    return ref


def _systems(client: CollectorClient) -> dict[str, str]:
    """Component → system from `GET /api/v1/status`, for the Word report's 系统 row; empty
    when the collector cannot say (the draft is still written)."""
    from collector.client.http import ClientError

    try:
        rows = client.call("GET", "/api/v1/status")["components"]
        return {c["id"]: c["system"] for c in rows}
    except (ClientError, KeyError, TypeError):
        return {}


def run(args: argparse.Namespace) -> int:
    from collector.client.http import ClientError, CollectorClient, read_token
    from collector.client.report_draft import draft_docx, draft_markdown

    if getattr(args, "action", None) == "draft" and args.format == "docx" and not args.output:
        print("hotline incident draft: --format docx needs -o FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        with CollectorClient(args.collector, read_token(args.token_file)) as client:
            path = f"/api/v1/incidents/{getattr(args, 'id', '')}"
            if args.action == "list":
                params = {"open": "true"} if args.open else {}
                if args.month:
                    params["month"] = args.month
                rows = client.call("GET", "/api/v1/incidents", params=params)["incidents"]
                if args.json:
                    print(json.dumps(rows, ensure_ascii=False, indent=2))
                    return 0
                for i in rows:
                    state = (
                        "VOID" if i.get("voided") else "restored" if i["restored_at"] else "OPEN"
                    )
                    acked = f"acked by {i['responded_by']}" if i["responded_at"] else "not acked"
                    print(
                        f"{i['id']}  {i['severity']}  {state}  {acked}  detected {i['detected_at']}"
                        f"  {','.join(i['components'])}  {i['title']}"
                    )
                if not rows:
                    which = "open incidents" if args.open else "incidents"
                    print(f"no {which}" + (f" in {args.month}" if args.month else ""))
            elif args.action == "show":
                print(json.dumps(client.call("GET", path), ensure_ascii=False, indent=2))
            elif args.action == "open":
                body = {
                    "components": [c.strip() for c in args.components.split(",") if c.strip()],
                    "title": args.title,
                    "severity": args.severity,
                    "detected_at": args.detected_at,
                }
                if args.new_component:
                    body["new_component"] = True
                print(client.call("POST", "/api/v1/incidents", json=body)["id"])
            elif args.action == "outages":
                params = {
                    k: v
                    for k, v in (
                        ("component", args.component), ("from", args.since), ("to", args.until)
                    )
                    if v
                }  # fmt: skip
                for o in client.call("GET", "/api/v1/outages", params=params)["outages"]:
                    excluded = " EXCLUDED" if o.get("excluded") else ""
                    print(
                        f"{o['id']}  {o['kind']}  {o['start']} → {o['end'] or 'ongoing'}  "
                        f"{o.get('reason', '')}{excluded}"
                    )
            elif args.action in ("exclude", "include", "annotate-outage"):
                from urllib.parse import quote

                path = f"/api/v1/outages/{quote(args.outage, safe='@')}"
                if args.action == "exclude":
                    body = {"reason": args.reason, "approved_by": args.approved_by}
                    client.call("POST", f"{path}/exclude", json=body)
                elif args.action == "include":
                    client.call("DELETE", f"{path}/exclude", params={"reason": args.reason})
                else:
                    client.call("POST", f"{path}/annotate", json={"note": args.note})
                print(f"{args.outage}: {args.action} recorded")
            elif args.action in ("ack", "restore", "report", "annotate"):
                body = {}
                if args.action in ("ack", "report"):
                    if bool(args.at) != bool(args.reason):
                        print(
                            "hotline incident: --at and --reason go together (an "
                            f"{args.action} recorded late says when and why)",
                            file=sys.stderr,
                        )
                        return EXIT_USAGE
                    if args.at:
                        body.update(at=args.at, reason=args.reason)
                if args.action == "restore":
                    if args.at:
                        body["at"] = args.at
                    if args.force:
                        body["force"] = True
                    if args.reason:
                        body["reason"] = args.reason
                if args.action == "report":
                    body["ref"] = _ref(args.ref)
                if args.action == "annotate":
                    body["note"] = args.note
                inc = client.call("POST", f"{path}/{args.action}", json=body)
                print(f"{inc['id']}: {args.action} recorded")
            elif args.format == "docx":
                data = draft_docx(client.call("GET", path), _systems(client))
                with open(args.output, "wb") as fh:
                    fh.write(data)
            else:
                text = draft_markdown(client.call("GET", path))
                if args.output:
                    with open(args.output, "w", encoding="utf-8") as fh:
                        fh.write(text)
                else:
                    sys.stdout.write(text)
    except ClientError as exc:
        print(f"hotline incident: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    except OSError as exc:
        print(f"hotline incident: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0
