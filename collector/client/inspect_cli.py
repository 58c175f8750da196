"""`hotline inspect --month YYYY-MM`: the month's inspection report (巡检报告), HTML or Word.

Reads `GET /api/v1/inspection?month=` (an operator's token) and writes the report in Chinese
(`collector.client.inspection_report`). Prints the written path. Exit 0; 3 on a usage error
or when the collector refuses the request (4xx); 1 when it cannot be reached or fails (5xx).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from collector.client.common import add_client_arguments

EXIT_FAILED = 1
EXIT_USAGE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="the month, YYYY-MM")
    add_client_arguments(parser)
    parser.add_argument("--format", choices=("html", "docx"), default="html")
    parser.add_argument(
        "-o", "--output", help="file to write (default inspection-YYYY-MM.html|docx here)"
    )


def run(args: argparse.Namespace) -> int:
    from collector.client.http import ClientError, CollectorClient, read_token
    from collector.client.inspection_report import render_docx, render_html

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print(f"hotline inspect: --month {args.month!r}: expected YYYY-MM", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.output or f"inspection-{args.month}.{args.format}")
    try:
        with CollectorClient(args.collector, read_token(args.token_file), timeout=120) as client:
            doc = client.call("GET", "/api/v1/inspection", params={"month": args.month})
    except ClientError as exc:
        print(f"hotline inspect: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    data = render_html(doc).encode() if args.format == "html" else render_docx(doc)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        print(f"hotline inspect: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(path)
    return 0
