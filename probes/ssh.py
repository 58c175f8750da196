"""ssh: log in with a key, verify the host key, run a command, judge its exit status/output.

Target: `USER@HOST[:PORT]` (default port 22; `USER@` defaults to the current user).

Options:
- `command`: what to run (without it the probe only logs in).
- `status` (default `0`): the exit status that counts as ok, or `any`.
- `expect`: a regex that must match the command's stdout.
- `known_hosts` (default `~/.ssh/known_hosts`): host keys are always verified against it.
  `host_key_check=false` turns that off; it must be said explicitly and logs a warning on
  every run.
- `key`: private key file(s), comma-separated (default: asyncssh's usual `~/.ssh/id_*`);
  `passphrase` (or `passphrase_file` / `passphrase_env`) if they are encrypted.
- `password` (or `password_file` / `password_env`) for password login, if the peer allows it.
- `reuse` (default true): keep the connection for the next check of the same host and
  credentials (the login is then verified once per connection, the command on every run).

At most `MAX_PARALLEL_CONNECTS` connection attempts run at once per event loop; concurrent
checks of one host share one attempt.

Reasons: `ok`; `check_failed` (exit status other than `status`, killed by a signal, or stdout
not matching `expect`); `host_key_mismatch` (the host key is not in known_hosts or differs);
`auth_failed` (key or password refused); `timeout`; `refused`; `unreachable`; `dns_error`;
`unexpected_response` (not an SSH server, or it broke the session); `config_error` (bad target,
unreadable key or known_hosts, bad option). The result's `value` is the exit status; the
first 200 characters of output appear in `detail` when a check fails.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import re
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes.address import split_host_port
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

log = logging.getLogger(__name__)

MAX_PARALLEL_CONNECTS = 10
CONNECT_OPTIONS = frozenset(
    {
        "known_hosts",
        "host_key_check",
        "key",
        "reuse",
        *opt.secret_names("passphrase"),
        *opt.secret_names("password"),
    }
)
_KNOWN = {"command", "status", "expect", *CONNECT_OPTIONS}


class SshFailure(Exception):
    """A failed login or command, already turned into the result to report."""

    def __init__(self, result: ProbeResult) -> None:
        super().__init__(result.detail)
        self.result = result


@dataclass(frozen=True, slots=True)
class _Login:
    user: str
    host: str
    port: int
    known_hosts: str | None  # None: not checked (explicitly asked for)
    keys: tuple[str, ...]
    passphrase: str | None
    password: str | None
    reuse: bool


class _Pool:
    def __init__(self) -> None:
        self.connections: dict[_Login, Any] = {}
        self.locks: dict[_Login, asyncio.Lock] = {}
        self.gate = asyncio.Semaphore(MAX_PARALLEL_CONNECTS)


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    found = _POOLS.get(loop)
    if found is None:
        found = _POOLS[loop] = _Pool()
    return found


def parse_login(target: str, options: Mapping[str, Any]) -> _Login:
    user, at, hostport = target.strip().rpartition("@")
    if not at:
        user, hostport = getpass.getuser(), target.strip()
    if not user:
        raise opt.OptionError(f"target {target!r}: user before '@' is empty")
    host, port = split_host_port(hostport, 22)
    if opt.flag(options, "host_key_check", True):
        known_hosts = opt.readable_file(options, "known_hosts", "~/.ssh/known_hosts")
    else:
        if opt.text(options, "known_hosts"):
            raise opt.OptionError(
                "options 'known_hosts' and 'host_key_check=false' conflict", "host_key_check"
            )
        known_hosts = None
    return _Login(
        user=user,
        host=host,
        port=port,
        known_hosts=known_hosts,
        keys=opt.readable_files(options, "key"),
        passphrase=opt.secret(options, "passphrase"),
        password=opt.secret(options, "password"),
        reuse=opt.flag(options, "reuse", True),
    )


@dataclass(frozen=True, slots=True)
class SshCheck:
    """One parsed ssh check (see the module's documentation for the options)."""

    login: _Login = field(repr=False)  # holds the passphrase or password
    command: str | None
    status: int | None  # None: any exit status
    expect: re.Pattern[str] | None


def parse(target: str, options: Mapping[str, Any]) -> SshCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    command = opt.text(options, "command")
    status_text = (opt.text(options, "status") or "0").strip().lower()
    if status_text != "any" and not status_text.isdigit():
        raise opt.OptionError(
            f"option 'status' must be an exit status or 'any', got {status_text!r}", "status"
        )
    expect_text = opt.text(options, "expect")
    try:
        expect = re.compile(expect_text) if expect_text else None
    except re.error as exc:
        raise opt.OptionError(f"option 'expect' is not a valid regex: {exc}", "expect") from None
    if command is None and (expect is not None or "status" in options):
        raise opt.OptionError(
            "options 'status' and 'expect' need 'command'", "expect" if expect else "status"
        )
    status = None if status_text == "any" else int(status_text)
    return SshCheck(parse_login(target, options), command, status, expect)


async def prepare() -> None:
    """Import asyncssh (and the cryptography it loads) before the first login is timed."""
    import asyncssh  # noqa: F401


async def _connect(login: _Login, timeout: float) -> Any:
    import asyncssh

    try:
        client_keys = [asyncssh.read_private_key(k, login.passphrase) for k in login.keys] or ()
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError) as exc:
        raise opt.OptionError(f"option 'key': cannot load: {exc}") from None
    try:
        known_hosts = asyncssh.read_known_hosts(login.known_hosts) if login.known_hosts else None
    except (ValueError, OSError) as exc:
        raise opt.OptionError(f"option 'known_hosts': cannot read: {exc}") from None
    return await asyncssh.connect(
        login.host,
        login.port,
        username=login.user,
        known_hosts=known_hosts,
        client_keys=client_keys,
        password=login.password,
        agent_path=None if login.keys else (),
        config=None,
        connect_timeout=timeout,
        login_timeout=timeout,
        keepalive_interval=0,
    )


async def _connection(login: _Login, deadline: float) -> tuple[Any, bool]:
    """A connection for `login` and whether it was reused."""
    pool = _pool()
    if login.reuse:
        conn = pool.connections.get(login)
        if conn is not None and not conn.is_closed():
            return conn, True
    lock = pool.locks.setdefault(login, asyncio.Lock()) if login.reuse else asyncio.Lock()
    async with lock:
        if login.reuse:
            conn = pool.connections.get(login)
            if conn is not None and not conn.is_closed():
                return conn, True
        async with pool.gate:
            conn = await _connect(login, max(0.001, deadline - time.perf_counter()))
        if login.reuse:
            pool.connections[login] = conn
        return conn, False


def _failure(exc: BaseException, where: str) -> ProbeResult:
    import asyncssh

    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return ProbeResult(Reason.HOST_KEY_MISMATCH, f"{where}: host key not verified: {exc}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return ProbeResult(Reason.AUTH_FAILED, f"{where}: login refused: {exc.reason}")
    if isinstance(exc, TimeoutError | asyncssh.TimeoutError):
        return ProbeResult(Reason.TIMEOUT, f"{where}: no answer in time")
    if isinstance(exc, asyncssh.Error):
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {exc.reason}")
    if isinstance(exc, OSError):
        return ProbeResult(reason_for(exc), f"{where}: {describe(exc)}")
    return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {type(exc).__name__}: {exc}")


async def execute(login: _Login, command: str | None, timeout: float) -> tuple[Any, float]:
    """Log in (or reuse a connection) and run `command`; (completed process or None, ms).

    Raises `SshFailure` carrying the result to report, `OptionError` for a key or known_hosts
    file that cannot be loaded.
    """
    import asyncssh

    where = f"{login.user}@{login.host}:{login.port}"
    if login.known_hosts is None:
        log.warning("ssh %s: host key NOT verified (host_key_check=false)", where)
    start = time.perf_counter()
    deadline = start + timeout
    for attempt in (1, 2):
        reused = False
        try:
            async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                conn, reused = await _connection(login, deadline)
                if command is None:
                    if not login.reuse:
                        conn.close()
                    return None, (time.perf_counter() - start) * 1000
                try:
                    completed = await conn.run(command, check=False)
                finally:
                    if not login.reuse:
                        conn.close()
            return completed, (time.perf_counter() - start) * 1000
        except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, BrokenPipeError) as exc:
            if reused and attempt == 1:  # the kept connection died between checks: reconnect
                _pool().connections.pop(login, None)
                continue
            raise SshFailure(_failure(exc, where)) from None
        except TimeoutError:
            detail = f"{where}: no answer within {timeout:g} s"
            raise SshFailure(ProbeResult(Reason.TIMEOUT, detail)) from None
        except opt.OptionError:
            raise
        except (OSError, asyncssh.Error) as exc:
            raise SshFailure(_failure(exc, where)) from None
    raise AssertionError("unreachable")


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    parsed = parse(target, options)
    try:
        completed, latency = await execute(parsed.login, parsed.command, timeout)
    except SshFailure as exc:
        return exc.result
    if completed is None:
        return ProbeResult(Reason.OK, "logged in", latency)
    stdout = completed.stdout if isinstance(completed.stdout, str) else ""
    stderr = completed.stderr if isinstance(completed.stderr, str) else ""
    status = completed.exit_status
    output = (stdout or stderr).strip()[:200]
    if status is None or status < 0:
        signal = completed.exit_signal[0] if completed.exit_signal else "unknown"
        return ProbeResult(Reason.CHECK_FAILED, f"command killed by signal {signal}", latency)
    if parsed.status is not None and status != parsed.status:
        detail = f"exit status {status}, expected {parsed.status}: {output!r}"
        return ProbeResult(Reason.CHECK_FAILED, detail, latency, status)
    if parsed.expect is not None and not parsed.expect.search(stdout):
        detail = f"output does not match 'expect': {output!r}"
        return ProbeResult(Reason.CHECK_FAILED, detail, latency, status)
    return ProbeResult(Reason.OK, f"exit status {status}", latency, status)


SPEC = KindSpec(
    kind="ssh",
    probe=probe,
    parse=parse,
    default_target="{host_uri}",
    concurrency=16,
    files=frozenset({"known_hosts"}),
    file_lists=frozenset({"key"}),
    prepare=prepare,
)
