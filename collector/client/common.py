"""Arguments shared by `hotline maint` and `hotline incident` (standard library only)."""

from __future__ import annotations

import argparse
import os

DEFAULT_URL = "http://127.0.0.1:8080"


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--collector",
        default=os.environ.get("HOTLINE_COLLECTOR", DEFAULT_URL),
        help=f"collector URL (env HOTLINE_COLLECTOR, default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token-file",
        help="file holding the operator's token (else env HOTLINE_TOKEN_FILE, else HOTLINE_TOKEN)",
    )
