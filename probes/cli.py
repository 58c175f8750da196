"""`hotline probe KIND TARGET [--opt key=value …] [--timeout S]`: run one probe once.

Prints one JSON object on stdout (`ok`, `reason`, `latency_ms`, `detail`, optional `value`, …)
and exits 0 when ok, 2 when not, 3 on a usage or config error — the Nagios plugin convention.
Secrets go in as `--opt auth_key_file=PATH` or `--opt auth_key_env=VAR` rather than inline,
and never appear in the output.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_NOT_OK = 2
EXIT_USAGE = 3


_EXAMPLES = """\
examples:
  hotline probe sip 'sip:10.1.2.3:5060;transport=tcp'
  hotline probe tcp 10.1.2.3:8080
  hotline probe http https://acd.example/health --opt expect=RUNNING --opt cert_days=14
  hotline probe snmp 10.1.2.3 --opt oid=ifOperStatus.1 --opt equals=1 --opt community_file=/etc/x
  hotline probe snmp 10.1.2.3:161 --opt oid=sysUpTime.0 --opt user=mon \\
      --opt auth_key_file=/etc/hotline/auth --opt priv_key_file=/etc/hotline/priv
  hotline probe ssh ops@10.1.2.3 --opt command='systemctl is-active acd' \\
      --opt known_hosts=/etc/hotline/known_hosts --opt key=/etc/hotline/id_ed25519
  hotline probe file_age /backup/daily --opt max_age_hours=26 --opt pattern='*.tar.gz'

exit status: 0 ok, 2 not ok, 3 usage or config error. Secrets: NAME_file=PATH or NAME_env=VAR.
Relative file paths are taken from the working directory.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EXAMPLES
    parser.add_argument(
        "kind", help="probe kind: tcp, sip, snmp, ssh, http, icmp, process, file_age"
    )
    parser.add_argument(
        "target",
        help="sip:HOST[:PORT][;transport=tcp], HOST:PORT, http(s)://…, USER@HOST[:PORT], …",
    )
    parser.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a probe option (repeatable); see the probe module's documentation",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds before giving up (default 5)"
    )


def parse_opts(pairs: list[str]) -> dict[str, str]:
    """`["k=v", …]` to a dict; raises ValueError naming the bad pair."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--opt {pair!r}: expected KEY=VALUE")
        if key in options:
            raise ValueError(f"--opt {key!r} given twice")
        options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from probes import Reason, prepare_kinds, run_probe

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    try:
        options = parse_opts(args.opt)
    except ValueError as exc:
        _emit({"ok": False, "reason": "config_error", "latency_ms": None, "detail": str(exc)})
        return EXIT_USAGE

    async def _once() -> Any:
        await prepare_kinds({args.kind})  # set-up is not the target's time (`--timeout`)
        return await run_probe(args.kind, args.target, options, args.timeout)

    result = asyncio.run(_once())
    _emit({**result.to_dict(), "probe": args.kind})
    if result.ok:
        return EXIT_OK
    return EXIT_USAGE if result.reason is Reason.CONFIG_ERROR else EXIT_NOT_OK


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
