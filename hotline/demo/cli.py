"""`hotline demo`: see the whole suite work in under two minutes, on loopback, with nothing to
install (standard library only at import time; the work is in `hotline.demo.run`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the collector running afterwards (prints its URL and a read token)",
    )
    parser.add_argument(
        "--out",
        help="directory for the report (default $XDG_STATE_HOME/hotline/demo, "
        "else ~/.local/state/hotline/demo)",
    )


def run(args: argparse.Namespace) -> int:
    from hotline.demo.run import Demo

    return Demo(keep=args.keep, out=args.out).main()
