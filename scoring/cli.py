"""`hotline score`: facts (a file or a collector) and rules in, the month's report out.

Exit codes (SPEC): 0 whenever a report was produced — deductions are not errors; 3 on bad
facts, bad rules or bad usage, with the error on stderr; 1 when the collector cannot be read.
With `--format json` and no `-o`, stdout holds the JSON alone; `xlsx` and `pdf` need `-o`.
`--close DIR` freezes the month (`scoring.close`): exit 3 when DIR exists, or when the month is
still running or has pending items and `--force` is not given; 1 when the PDF cannot be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_UNAVAILABLE, EXIT_BAD_INPUT = 0, 1, 3
FORMATS = ("json", "md", "html", "xlsx", "pdf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()  # one of them, or $HOTLINE_COLLECTOR
    source.add_argument("--facts", metavar="FILE", help="facts JSON file ('-' for stdin)")
    source.add_argument(
        "--collector",
        metavar="URL",
        help="read the facts from a collector (default $HOTLINE_COLLECTOR when --facts is not "
        "given)",
    )
    parser.add_argument("--month", metavar="YYYY-MM", help="with --collector: the month to score")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="with --collector: file holding an operator or agent token (else "
        "$HOTLINE_TOKEN_FILE, else $HOTLINE_TOKEN)",
    )
    parser.add_argument(
        "--rules",
        metavar="FILE|NAME",
        help="rules YAML, or a shipped rule set's name: changsha-12345 (the default, 话务平台要求) "
        "or changsha-12345-full (the whole 100-point table)",
    )
    parser.add_argument(
        "--monthly",
        metavar="FILE",
        help="the month's figures for the table's other rows, CSV or XLSX (columns item, kind, "
        "value, note), merged into the facts' monthly entries",
    )
    parser.add_argument(
        "--calendar",
        metavar="FILE",
        action="append",
        default=[],
        help="working-day override for a year chinesecalendar does not know (repeatable)",
    )
    parser.add_argument(
        "--as-of", metavar="INSTANT", help="score as of this instant (overrides the facts' as_of)"
    )
    parser.add_argument("--format", choices=FORMATS, default="json", help="report format")
    parser.add_argument("-o", "--output", metavar="PATH", help="write the report here, not stdout")
    parser.add_argument(
        "--close",
        metavar="DIR",
        help="freeze the month in DIR (new): facts, rules, the JSON/HTML/XLSX/PDF report and "
        "SHA256SUMS",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --close: close a month still running or with pending items",
    )


def run(args: argparse.Namespace) -> int:
    from datetime import datetime

    from scoring import FactsError, InputError, load_rules, parse_facts, score
    from scoring.values import EPOCH, US

    if args.facts is None and not args.collector:
        args.collector = os.environ.get("HOTLINE_COLLECTOR", "").strip() or None
        if not args.collector:
            print(
                "hotline score: give --facts FILE or --collector URL (or set HOTLINE_COLLECTOR)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    if args.format in ("xlsx", "pdf") and not args.output and not args.close:
        print(f"hotline score: --format {args.format}: needs -o FILE", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.close and args.output:
        print("hotline score: --close and -o: the closed month's files are named", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.close and Path(args.close).exists():
        print(
            f"hotline score: --close {args.close}: exists; a closed month is never overwritten",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        rules = load_rules(args.rules, tuple(args.calendar))
        if args.facts is not None:
            data = _read_facts_file(args.facts)
        else:
            if not args.month:
                raise InputError(["--month: required with --collector"])
            if not re.fullmatch(r"\d{4}-\d{2}", args.month):
                raise InputError([f"--month: expected YYYY-MM, not {args.month[:20]!r}"])
            data = _fetch_facts(args.collector, args.month, args.token_file)
        if args.as_of:
            if not isinstance(data, dict):
                raise FactsError(["(top): expected a JSON object"])
            data = {**data, "as_of": args.as_of}
        if args.monthly:
            from scoring.monthly_import import merge_monthly, read_monthly_file

            data = merge_monthly(data, read_monthly_file(args.monthly, rules), args.monthly)
        now_us = (datetime.now(UTC) - EPOCH) // US
        facts = parse_facts(data, rules, now_us=now_us)
        report = score(facts, rules)
    except InputError as exc:
        for line in exc.errors:
            print(f"hotline score: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _Unavailable as exc:
        print(f"hotline score: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE

    if args.close:
        return _close(args, data, facts, report, rules)
    try:
        data_out = render(args.format, report, rules, facts)
    except _Unavailable as exc:
        print(f"hotline score: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.output:
        try:
            Path(args.output).write_bytes(data_out)
        except OSError as exc:
            print(f"hotline score: -o {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        # UTF-8 whatever the locale (as files are): the report is Chinese.
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(data_out.decode("utf-8"))
        else:
            sys.stdout.flush()
            buffer.write(data_out)
            buffer.flush()
    return EXIT_OK


def render(fmt: str, report: dict[str, Any], rules: Any, facts: Any) -> bytes:
    """The report in one format, as the bytes written to a file (text formats in UTF-8)."""
    if fmt == "json":
        return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    from scoring.breakdown import breakdown

    details = breakdown(facts, rules)
    if fmt == "md":
        from scoring.report_md import render_markdown

        return render_markdown(report, rules, details).encode("utf-8")
    if fmt == "xlsx":
        from scoring.report_xlsx import render_xlsx

        return render_xlsx(report, rules, details)
    from scoring.report_html import render_html

    html = render_html(report, rules, details)
    if fmt == "html":
        return html.encode("utf-8")
    return _pdf(html)


def _pdf(html: str) -> bytes:
    try:
        from scoring.report_pdf import render_pdf

        return render_pdf(html)
    except (ImportError, OSError) as exc:  # WeasyPrint or its system libraries (Pango) missing
        raise _Unavailable(f"cannot write the PDF (WeasyPrint): {exc}") from None


def _close(args: argparse.Namespace, data: Any, facts: Any, report: dict, rules: Any) -> int:
    from scoring.close import blockers, frozen_facts, frozen_rules, write_closed
    from scoring.values import InputError

    reasons = blockers(facts, report, rules)
    if reasons and not args.force:
        print(
            f"hotline score: --close {args.close}: not closed (--force closes anyway):",
            file=sys.stderr,
        )
        for reason in reasons:
            print(f"  - {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for reason in reasons:
        print(f"hotline score: --close --force: closed although {reason}", file=sys.stderr)
    try:
        files = frozen_rules(args.rules, tuple(args.calendar))
        files["facts.json"] = frozen_facts(data, report)
        for fmt, name in (
            ("json", "report.json"),
            ("html", "report.html"),
            ("xlsx", "report.xlsx"),
        ):
            files[name] = render(fmt, report, rules, facts)
        files["report.pdf"] = _pdf(files["report.html"].decode("utf-8"))
        write_closed(Path(args.close), files)
    except FileExistsError:
        print(
            f"hotline score: --close {args.close}: exists; a closed month is never overwritten",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except _Unavailable as exc:
        print(f"hotline score: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except InputError as exc:
        for line in exc.errors:
            print(f"hotline score: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"hotline score: --close {args.close}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(args.close)
    return EXIT_OK


class _Unavailable(RuntimeError):
    pass


def _read_facts_file(name: str) -> Any:
    from scoring import FactsError
    from scoring.facts import read_facts_json

    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise FactsError([f"{name}: cannot read ({exc.strerror})"]) from None
    return read_facts_json(data, "(stdin)" if name == "-" else name)


def _fetch_facts(url: str, month: str, token_file: str | None) -> Any:
    import httpx

    from scoring import FactsError

    token = os.environ.get("HOTLINE_TOKEN", "")
    where = "--token-file"
    if not token_file and os.environ.get("HOTLINE_TOKEN_FILE", "").strip():
        token_file, where = os.environ["HOTLINE_TOKEN_FILE"].strip(), "HOTLINE_TOKEN_FILE"
    if token_file:
        try:
            token = Path(token_file).read_text("utf-8").strip()
        except OSError as exc:
            raise FactsError([f"{where} {token_file}: cannot read ({exc.strerror})"]) from None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = url.rstrip("/") + "/api/v1/facts"
    try:
        response = httpx.get(endpoint, params={"month": month}, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        raise _Unavailable(f"cannot reach the collector at {endpoint}: {exc}") from None
    # A refused token or request is the caller's to fix (exit 3, as for bad facts); a collector
    # that fails (5xx) is unavailable (exit 1), as one that cannot be reached.
    if response.status_code in (401, 403):
        raise FactsError([f"--token-file: {endpoint} refused the token ({response.status_code})"])
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise FactsError([f"{endpoint}: HTTP {response.status_code}: {response.text[:200]}"])
    if response.status_code != 200:
        raise _Unavailable(f"{endpoint}: HTTP {response.status_code}: {response.text[:200]}")
    from scoring.facts import read_facts_json

    return read_facts_json(response.content, endpoint)
