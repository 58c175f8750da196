"""A small client of the collector's API for `hotline maint` and `hotline incident`.

The operator's token comes from `--token-file`, the file `$HOTLINE_TOKEN_FILE` names, or the
`HOTLINE_TOKEN` environment variable, never from the command line (where `ps` would show it).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from conffile import SecretFileError, read_secret


class ClientError(Exception):
    """The collector refused or could not be reached; the message says which and why."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def read_token(token_file: str | None) -> str:
    """`--token-file`, else `$HOTLINE_TOKEN_FILE`, else `$HOTLINE_TOKEN`."""
    where = "--token-file"
    if not token_file and os.environ.get("HOTLINE_TOKEN_FILE", "").strip():
        token_file, where = os.environ["HOTLINE_TOKEN_FILE"].strip(), "HOTLINE_TOKEN_FILE"
    if token_file:
        try:
            return read_secret(token_file)
        except SecretFileError as exc:
            raise ClientError(f"{where} {token_file}: {exc.reason}", usage=True) from None
    token = os.environ.get("HOTLINE_TOKEN", "").strip()
    if not token:
        raise ClientError(
            "no token: give --token-file FILE or set HOTLINE_TOKEN_FILE or HOTLINE_TOKEN",
            usage=True,
        )
    return token


class CollectorClient:
    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ClientError(f"collector {self.url} unreachable: {exc}") from None
        if response.status_code >= 400:
            try:
                error = response.json().get("error", response.text)
            except ValueError:
                error = response.text
            # 4xx: the request or its token was refused (the caller's to fix: exit 3);
            # 5xx: the collector failed (exit 1, like an unreachable one)
            usage = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
            raise ClientError(f"collector said {response.status_code}: {error}", usage=usage)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
