"""Reading a secret (a bearer token, a password) from the file an operator names.

One reader for every place that takes a secret from a file — the agent's `collector.token_file`,
the collector's `agents` / `operators` `token_file`, its InfluxDB `token_file` / `password_file`,
and the operator's `--token-file` / `$HOTLINE_TOKEN_FILE`: UTF-8 text, surrounding whitespace
(the newline an editor adds) stripped, an empty file refused. The caller says where the path
came from in its own words; this module only says what is wrong with the file.
"""

from __future__ import annotations

from pathlib import Path


class SecretFileError(Exception):
    """The file cannot be read, is not UTF-8 text, or holds nothing but whitespace.

    `path` is the file; `reason` is what is wrong (`strerror`, `not UTF-8 text`, `empty`);
    `empty` tells the last case apart, for callers that word it their own way."""

    def __init__(self, path: str, reason: str, *, empty: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.empty = empty


def read_secret(path: str | Path) -> str:
    """The stripped text of `path`; SecretFileError when it cannot be read or is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(str(path), exc.strerror or str(exc)) from None
    except UnicodeDecodeError as exc:
        raise SecretFileError(str(path), f"not UTF-8 text: {exc.reason}") from None
    secret = text.strip()
    if not secret:
        raise SecretFileError(str(path), "empty", empty=True)
    return secret
