"""`hotline collector --config FILE [--listen HOST:PORT] [--store URL]`: run the collector."""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML configuration")
    parser.add_argument("--listen", help="HOST:PORT to listen on (overrides the config)")
    parser.add_argument("--store", help="sqlite:///PATH or influxdb://… (overrides the config)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen: expected HOST:PORT, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    import uvicorn

    from collector.api import create_app
    from collector.config import ConfigError, load_config
    from collector.service import Collector
    from collector.statedir import StateDirError, ensure_state_dir
    from collector.store import StoreError, open_store

    try:
        config = load_config(args.config)
        if args.listen:
            config = dataclasses.replace(config, listen=args.listen)
        if args.store:
            config = dataclasses.replace(config, store=args.store)
        host, port = split_listen(config.listen)
        try:
            ensure_state_dir(config.state_dir)
        except StateDirError as exc:
            raise ConfigError(f"{args.config}: state_dir: {exc}") from None
        store = open_store(config.store, config.store_token_file, state_dir=config.state_dir)
    except (ConfigError, StoreError, ValueError) as exc:
        print(f"hotline collector: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO (the InfluxDB store's /write and /query): a line per
    # batch would drown the collector's own messages; its warnings still show
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
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
        )
    )
    server.run()
    return 0 if server.started else EXIT_USAGE
