"""The Alerter: the collector's events in, messages to the routes' apprise channels out.

- **What is sent.** One message per incident state change: opened (or a maintenance overrun),
  acknowledged, restored, deadline passed, escalation, reminders, written report due / missed;
  one message per burst of components falling silent (`no_data`); one per missed backup
  (BACKUP_MISSED: no incident, to the routes matching its component). INCIDENT_JOINED and
  outage events send nothing: an incident groups its outages and is told once. The tracker
  opens incidents only for faults, so downtime inside a maintenance window alerts no one.
- **Who gets it.** Every route whose filters (systems, severities, components) match the
  incident; on the response deadline, unacknowledged, also each matching route's
  `escalate_to` — regardless of that route's own filters.
- **Never holding up the caller.** `__call__(event)` only queues; a worker decides, writes the
  outbox and starts one task per channel (URL), so a slow or failing channel never blocks the
  others. A failed send is retried with exponential backoff; every attempt's outcome goes to
  `on_outcome` (the service turns it into a timeline entry).
- **Restart safety.** `Outbox` (SQLite, WAL) keeps which (incident, state) were already
  decided and the sends not yet done: a restart re-sends nothing already sent and loses nothing
  queued. It also keeps the ids of used acknowledgement tokens.
- **The clock is injected**: `clock()` for stamps, `tick(now)` for reminders, escalation and
  report deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collector.aio import cancel_and_wait
from collector.domain.engine import Event, EventType
from collector.domain.model import Incident, IntervalKind, Millis, Outage
from collector.domain.timefmt import parse_instant
from collector.notify import messages as msg
from collector.notify.config import AlertsConfig, Route, mask_url
from collector.notify.links import LinkSigner
from collector.notify.messages import Limits, Message

log = logging.getLogger("hotline.alerts")

Sender = Callable[[str, str, str], Awaitable[None]]  # (url, title, body); raises on failure


class Incidents(Protocol):
    """What the alerter needs to know of incidents (the service implements it)."""

    async def get(self, incident_id: str) -> Incident | None:
        """The incident as it is now (None: unknown)."""
        ...

    async def active(self) -> Sequence[Incident]:
        """Open incidents, and restored ones whose written report is not in yet."""
        ...

    def system_of(self, component: str) -> str:
        """A component's system (acd, ivr, seat, callsys, other)."""
        ...


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """One attempt to deliver one message to one channel."""

    incident_id: str | None  # None for messages about no incident (silent components)
    state: str  # opened, acked, restored, deadline:response, escalated, reminder:2, …
    route: str
    url: str  # masked (mask_url): never the secret
    ok: bool
    error: str
    attempt: int  # 1 for the first try
    final: bool  # True when no retry follows (sent, or retries exhausted)
    at: Millis


@dataclass(slots=True)
class _Send:
    id: int
    incident_id: str | None
    state: str
    route: str
    url: str
    title: str
    body: str
    attempts: int = 0


# --- the outbox ------------------------------------------------------------------------------


class Outbox:
    """Decided states, pending sends and used link tokens in one small SQLite file
    (`:memory:` for tests). Every call is a short local transaction."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS decided (
                key TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL,
                PRIMARY KEY (key, state));
            CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT, incident TEXT, state TEXT NOT NULL,
                route TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL,
                body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created INTEGER);
            CREATE TABLE IF NOT EXISTS used_tokens (
                token_id TEXT PRIMARY KEY, incident TEXT, at INTEGER NOT NULL);
            """
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def decide(
        self, key: str, state: str, sends: Sequence[tuple[str, str, Message]], at: Millis
    ) -> list[_Send]:
        """Record that `state` of `key` (an incident id) is told, with its sends
        (route, url, message), atomically; [] when it was told before (nothing queued)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute(
                    "INSERT OR IGNORE INTO decided (key, state, at) VALUES (?, ?, ?)",
                    (key, state, at),
                )
                if cur.rowcount == 0:
                    db.execute("ROLLBACK")
                    return []
                out = []
                for route, url, m in sends:
                    cur = db.execute(
                        "INSERT INTO outbox (incident, state, route, url, title, body, created)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (key, state, route, url, m.title, m.body, at),
                    )
                    out.append(_Send(int(cur.lastrowid or 0), key, state, route, url, *m))
                db.execute("COMMIT")
                return out
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def was_decided(self, key: str, state: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM decided WHERE key = ? AND state = ?", (key, state)
            ).fetchone()
        return row is not None

    def pending(self) -> list[_Send]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, incident, state, route, url, title, body, attempts FROM outbox"
                " ORDER BY id"
            ).fetchall()
        return [_Send(*row) for row in rows]

    def attempted(self, send_id: int, attempts: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", (attempts, send_id))

    def done(self, send_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (send_id,))

    # the used acknowledgement tokens (links work once)
    def use_token(self, token_id: str, incident_id: str, at: Millis) -> bool:
        """Mark a token used; False when it was used already."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO used_tokens (token_id, incident, at) VALUES (?, ?, ?)",
                (token_id, incident_id, at),
            )
        return cur.rowcount == 1

    def __contains__(self, token_id: object) -> bool:
        """`token_id in outbox`: used already (pass the outbox as `verify(..., used=)`)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM used_tokens WHERE token_id = ?", (str(token_id),)
            ).fetchone()
        return row is not None


# --- sending with apprise --------------------------------------------------------------------


class _ThreadErrors(logging.Handler):
    """Apprise says why a send failed only in its log: keep the last warning per thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[int, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a broken log record must not break a send
            self.last[threading.get_ident()] = record.getMessage()


_errors = _ThreadErrors()
_errors_installed = False


async def apprise_send(url: str, title: str, body: str) -> None:
    """Send one message to one apprise URL (in a thread); raise with apprise's reason."""
    global _errors_installed
    if not _errors_installed:
        logging.getLogger("apprise").addHandler(_errors)
        _errors_installed = True

    def _send() -> None:
        import apprise

        me = threading.get_ident()
        _errors.last.pop(me, None)
        channel = apprise.Apprise()
        if not channel.add(url):
            raise RuntimeError(f"apprise does not know {mask_url(url)}")
        if not channel.notify(body=body, title=title):
            why = _errors.last.pop(me, "") or "apprise reported a failed send"
            raise RuntimeError(_scrub(why, url))

    await asyncio.to_thread(_send)


def _scrub(text: str, url: str) -> str:
    """An error text without the URL's secrets (apprise may quote the URL)."""
    if url in text:
        text = text.replace(url, mask_url(url))
    return text[:300]


# --- the alerter -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Silent:
    components: dict[str, tuple[str, Millis]] = field(default_factory=dict)  # id → (system, since)
    task: asyncio.Task[None] | None = None


class Alerter:
    """Subscribe it to the collector (`collector.subscribers.append(alerter)`), `await
    start()` once, call `await tick(now)` every few seconds and `await acknowledged(id)` when
    an operator acknowledges; `await stop()` on shutdown."""

    def __init__(
        self,
        config: AlertsConfig,
        incidents: Incidents,
        outbox: Outbox,
        signer: LinkSigner,
        *,
        limits: Limits | None = None,
        clock: Callable[[], Millis],
        on_outcome: Callable[[SendOutcome], Awaitable[None] | None] | None = None,
        send: Sender = apprise_send,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        silence_grouping: float = 1.0,
        concurrency: int = 16,
        calendar_overrides: Any = None,
    ) -> None:
        self.config = config
        self.incidents = incidents
        self.outbox = outbox
        self.signer = signer
        self.limits = limits or Limits()
        self.clock = clock
        self.on_outcome = on_outcome
        self._send = send
        self._sleep = sleep
        self._silence_grouping = silence_grouping
        self._slots = asyncio.Semaphore(concurrency)
        self._calendar = calendar_overrides
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._silent = _Silent()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker and resume the sends a previous run left in the outbox."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="alerter")
        for send in self.outbox.pending():
            self._launch(send)

    async def stop(self) -> None:
        """Stop sending; what is not sent stays in the outbox for the next start."""
        await cancel_and_wait(
            t for t in (self._worker, self._silent.task, *self._tasks) if t is not None
        )
        self._worker = None
        self._silent.task = None
        self._tasks.clear()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is decided and every send finished (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self._queue.join()
            while self._tasks or self._silent.task is not None:
                await asyncio.gather(
                    *self._tasks,
                    *([self._silent.task] if self._silent.task else []),
                    return_exceptions=True,
                )

    # -- inputs ------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        """The subscriber: queue the event and return at once."""
        if event.type in _WANTED:
            self._queue.put_nowait(event)

    async def acknowledged(self, incident_id: str) -> None:
        """An operator (or an acknowledgement link) acknowledged the incident."""
        inc = await self.incidents.get(incident_id)
        if inc is not None and inc.responded_at is not None:
            self._tell(inc, "acked", msg.acknowledged(inc, self._system_of, self.limits))

    async def tick(self, now: Millis) -> None:
        """Escalation and reminders for unacknowledged incidents past their response
        deadline; acknowledgements not yet told; written reports due soon or missed."""
        for inc in await self.incidents.active():
            if inc.voided is not None:
                continue
            if inc.responded_at is not None:
                if self.outbox.was_decided(inc.id, "opened"):
                    self._tell(inc, "acked", msg.acknowledged(inc, self._system_of, self.limits))
            elif inc.is_open:
                deadline = self.limits.deadline("response", inc)
                if now > deadline:
                    self._escalate(inc, None)
                    every = int(self.config.remind_every * 1000)
                    n = (now - deadline) // every if every > 0 else 0
                    if n >= 1:
                        self._tell(
                            inc,
                            f"reminder:{n}",
                            lambda r, i=inc: msg.reminder(
                                i, self._system_of, self.limits, now, ack_link=self._link(i, r)
                            ),
                            extra=self._escalation_targets(inc),
                        )
            if inc.restored_at is not None and inc.report_submitted_at is None:
                due = msg.report_deadline(inc.restored_at, overrides=self._calendar)
                if due is None:
                    continue
                if now >= due:
                    self._tell(inc, "report_missed", msg.report_missed(inc, self._system_of, due))
                elif now >= due - int(self.config.report_remind_before * 1000):
                    self._tell(inc, "report_due", msg.report_due(inc, self._system_of, due))

    # -- the worker --------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._decide(event)
            except Exception:
                log.exception("alerts: could not handle %s", event.type)
            finally:
                self._queue.task_done()

    async def _decide(self, ev: Event) -> None:
        if ev.type is EventType.NO_DATA_STARTED:
            self._silent_component(ev)
            return
        if ev.type is EventType.BACKUP_MISSED:
            self._backup_missed(ev)
            return
        if ev.incident_id is None:
            return
        inc = await self.incidents.get(ev.incident_id)
        if inc is None or inc.voided is not None:
            return
        so = self._system_of
        if ev.type is EventType.INCIDENT_OPENED:
            o = ev.outage
            if o is not None and ev.ts > (o.detected_at or o.start):
                self._tell(
                    inc,
                    "opened",
                    lambda r: msg.overrun(
                        inc, so, self.limits, outage=o, ack_link=self._link(inc, r)
                    ),
                )
            else:
                self._tell(
                    inc,
                    "opened",
                    lambda r: msg.opened(
                        inc, so, self.limits, outage=o, ack_link=self._link(inc, r)
                    ),
                )
        elif ev.type is EventType.INCIDENT_RESTORED and inc.restored_at is not None:
            self._tell(
                inc,
                "restored",
                lambda r: msg.restored(inc, so, self.limits, ack_link=self._link(inc, r)),
            )
        elif ev.type is EventType.DEADLINE_PASSED:
            measure = str(ev.detail.get("deadline", "response"))
            self._tell(
                inc,
                f"deadline:{measure}",
                lambda r: msg.deadline_passed(
                    inc, measure, so, self.limits, ack_link=self._link(inc, r)
                ),
            )
            if measure == "response" and inc.responded_at is None:
                self._escalate(inc, None)

    # -- deciding ----------------------------------------------------------------------------
    def tell(self, inc: Incident, state: str, message: Message) -> None:
        """Send `message` about `inc` to its routes, once per (incident, state): for what
        the collector learns beside the incident's own changes (a runbook's outcome)."""
        self._tell(inc, state, message)

    def _routes_for(self, inc: Incident) -> list[Route]:
        systems = [self._system_of(c) for c in inc.components]
        return [r for r in self.config.routes if r.matches(systems, inc.severity, inc.components)]

    def _escalation_targets(self, inc: Incident) -> list[Route]:
        names = {r.escalate_to for r in self._routes_for(inc) if r.escalate_to}
        return [r for r in self.config.routes if r.name in names]

    def _escalate(self, inc: Incident, outage: Outage | None) -> None:
        targets = self._escalation_targets(inc)
        if not targets:
            return
        sources = [r.name for r in self._routes_for(inc) if r.escalate_to]
        self._tell(
            inc,
            "escalated",
            lambda r: msg.escalation(
                inc,
                self._system_of,
                self.limits,
                sources,
                outage=outage,
                ack_link=self._link(inc, r),
            ),
            routes=targets,
        )

    def _tell(
        self,
        inc: Incident,
        state: str,
        message: Message | Callable[[Route], Message],
        *,
        routes: Sequence[Route] | None = None,
        extra: Sequence[Route] = (),
    ) -> None:
        """Queue `message` for every channel of the routes (default: the matching ones) once
        per (incident, state)."""
        chosen = list(routes if routes is not None else self._routes_for(inc))
        for r in extra:
            if r not in chosen:
                chosen.append(r)
        self._queue_sends(inc.id, state, chosen, message)

    def _queue_sends(
        self,
        key: str,
        state: str,
        routes: Sequence[Route],
        message: Message | Callable[[Route], Message],
    ) -> None:
        if not routes or self.outbox.was_decided(key, state):
            return
        sends = []
        for r in routes:
            m = message(r) if callable(message) else message
            sends.extend((r.name, url, m) for url in r.urls)
        queued = self.outbox.decide(key, state, sends, self.clock())
        for send in queued:
            log.info("alert %s %s → %s %s", key, state, send.route, mask_url(send.url))
            self._launch(send)

    def _link(self, inc: Incident, route: Route) -> str | None:
        """The route's acknowledgement link, while the incident is unacknowledged."""
        if inc.responded_at is not None:
            return None
        return self.signer.link(inc.id, route.name, self.clock())

    def _system_of(self, component: str) -> str:
        return self.incidents.system_of(component)

    # -- missed backups ----------------------------------------------------------------------
    def _backup_missed(self, ev: Event) -> None:
        """Once per (component, kind, due), also across a restart (the outbox's decided)."""
        kind = str(ev.detail.get("kind", ""))
        system = self._system_of(ev.component)
        routes = [r for r in self.config.routes if r.matches([system], None, [ev.component])]
        last_good = ev.detail.get("last_good")
        message = msg.backup_missed(
            ev.component,
            system,
            kind,
            ev.ts,
            probe=str(ev.detail.get("probe", "")),
            last_good=parse_instant(last_good) if isinstance(last_good, str) else None,
        )
        self._queue_sends(f"backup:{ev.component}:{kind}:{ev.ts}", "missed", routes, message)

    # -- silent components -------------------------------------------------------------------
    def _silent_component(self, ev: Event) -> None:
        o = ev.outage
        if o is None or o.kind is not IntervalKind.NO_DATA:
            return
        self._silent.components[o.id] = (self._system_of(o.component), o.start)
        if self._silent.task is None:
            self._silent.task = asyncio.create_task(self._flush_silent())

    async def _flush_silent(self) -> None:
        try:
            await self._sleep(self._silence_grouping)
        finally:
            self._silent.task = None
        batch, self._silent.components = self._silent.components, {}
        if not batch:
            return
        by_component = {oid.rsplit("@", 1)[0]: v for oid, v in batch.items()}
        comps = sorted(by_component)
        since = min(v[1] for v in batch.values())
        key = "no_data:" + ",".join(sorted(batch))
        systems = [by_component[c][0] for c in comps]
        routes = [r for r in self.config.routes if r.matches(systems, None, comps)]
        pairs = [(c, by_component[c][0]) for c in comps]
        self._queue_sends(key, "silent", routes, msg.agent_silent(pairs, since))

    # -- sending -----------------------------------------------------------------------------
    def _launch(self, send: _Send) -> None:
        task = asyncio.create_task(self._deliver(send), name=f"alert-{send.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, send: _Send) -> None:
        cfg = self.config
        while True:
            send.attempts += 1
            error = ""
            async with self._slots:
                try:
                    await self._send(send.url, send.title, send.body)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = _scrub(str(exc) or type(exc).__name__, send.url)
            ok = not error
            final = ok or send.attempts > cfg.retries
            if final:
                self.outbox.done(send.id)
            else:
                self.outbox.attempted(send.id, send.attempts)
            about = send.incident_id
            outcome = SendOutcome(
                None if about is None or about.startswith(_NOT_INCIDENTS) else about,
                send.state,
                send.route,
                mask_url(send.url),
                ok,
                error,
                send.attempts,
                final,
                self.clock(),
            )
            if not ok:
                log.warning(
                    "alert %s %s → %s %s failed (attempt %d%s): %s",
                    send.incident_id,
                    send.state,
                    send.route,
                    outcome.url,
                    send.attempts,
                    ", giving up" if final else "",
                    error,
                )
            await self._report(outcome)
            if final:
                return
            delay = min(cfg.retry_backoff * 2 ** (send.attempts - 1), cfg.retry_backoff_max)
            await self._sleep(delay)

    async def _report(self, outcome: SendOutcome) -> None:
        if self.on_outcome is None:
            return
        try:
            result = self.on_outcome(outcome)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("alerts: the outcome callback failed")


_WANTED = {
    EventType.INCIDENT_OPENED,
    EventType.INCIDENT_RESTORED,
    EventType.DEADLINE_PASSED,
    EventType.NO_DATA_STARTED,
    EventType.BACKUP_MISSED,
}
# outbox keys of messages about no incident (no timeline to record their sends on)
_NOT_INCIDENTS = ("no_data:", "backup:")
