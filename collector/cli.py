"""`hotline collector --config FILE [--listen HOST:PORT] [--store URL]`: run the collector."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_USAGE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML configuration")
    parser.add_argument("--listen", help="HOST:PORT to listen on (overrides the config)")
    parser.add_argument("--store", help="sqlite:///PATH or influxdb://… (overrides the config)")
    parser.add_argument(  # any case, as `hotline agent --log-level` takes it
        "--log-level", default="info", type=str.lower, choices=["debug", "info", "warning", "error"]
    )


def _check_sqlite(store: Any, where: str) -> None:
    """Open and close a SQLite store before uvicorn starts: an unwritable path is a config
    error (exit 3) here, not three tracebacks from the server's lifespan."""
    import asyncio

    from collector.config import CollectorConfigError
    from collector.store import SqliteStore, StoreError

    if not isinstance(store, SqliteStore):
        return

    async def probe() -> None:
        try:
            await store.open()
        finally:
            await store.close()

    try:
        asyncio.run(probe())
    except (StoreError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CollectorConfigError(
            f"{where}: cannot open the SQLite store {store.path}: {reason}"
        ) from None


def _check_tls(config: Any, path: str) -> None:
    """Load the certificate and key as the server will: a key that does not match the
    certificate, or one protected by a passphrase, is a config error (exit 3) naming the key,
    not a traceback from uvicorn (nor a passphrase prompt)."""
    import ssl

    from collector.config import CollectorConfigError

    if config.tls_cert_file is None:
        return

    def no_passphrase() -> bytes:
        raise ValueError("the key is protected by a passphrase (give an unencrypted key)")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(config.tls_cert_file, config.tls_key_file, password=no_passphrase)
    except (ssl.SSLError, ValueError, OSError) as exc:
        where = f"{path}:{config.key_line('tls_key_file')}: tls_key_file"
        raise CollectorConfigError(
            f"{where}: cannot use {config.tls_key_file} with {config.tls_cert_file}: {exc}"
        ) from None


def _url_password(url: str) -> bool:
    """Whether a store URL carries a password (`influxdb://USER:PASS@…`)."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    import uvicorn

    from collector.api.app import create_app
    from collector.config import CollectorConfigError, load_config, split_listen
    from collector.service import Collector
    from collector.statedir import StateDirError, ensure_state_dir
    from collector.store import StoreError, open_store

    try:
        config = load_config(args.config)
        if args.listen:
            config = dataclasses.replace(config, listen=args.listen)
        if args.store:
            config = dataclasses.replace(config, store=args.store)
        try:
            host, port = split_listen(config.listen)
        except ValueError as exc:
            raise CollectorConfigError(f"--listen: {exc}") from None
        try:
            ensure_state_dir(config.state_dir)
        except StateDirError as exc:
            raise CollectorConfigError(f"{args.config}: state_dir: {exc}") from None
        store = open_store(config.store, config.store_token_file, state_dir=config.state_dir)
        where = "--store" if args.store else f"{args.config}:{config.key_line('store')}: store"
        _check_sqlite(store, where)
        _check_tls(config, args.config)
    except (CollectorConfigError, StoreError, ValueError) as exc:
        print(f"hotline collector: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",  # instants with their UTC offset
    )
    # httpx logs every request at INFO (the InfluxDB store's /write and /query): a line per
    # batch would drown the collector's own messages; its warnings still show
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.store and _url_password(args.store):
        logging.getLogger("hotline.collector").warning(
            "--store: a password in the URL on the command line is visible to every local user "
            "(ps, /proc/PID/cmdline); give it with password_file=PATH or $HOTLINE_INFLUX_PASSWORD"
        )
    app = create_app(Collector(config, store))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=args.log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
            ssl_certfile=config.tls_cert_file,
            ssl_keyfile=config.tls_key_file,
        )
    )
    server.run()
    return 0 if server.started else EXIT_USAGE
