"""The notifier: alerts and runbooks together, as one subscriber of the collector.

The service builds it from its configuration and hands it a `Host` (what it needs of the
service: incidents, systems, the timeline, the clock); it then receives every event the
service publishes, returns at once (sends and runs happen in their own tasks), and puts every
send and every runbook outcome on the timeline of the incident it belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from collector.domain.engine import Event
from collector.domain.model import Incident, Millis, TimelineEntry
from collector.notify.config import AlertsConfig, signing_key
from collector.notify.dispatch import Alerter, Outbox, SendOutcome
from collector.notify.links import AckClaim, LinkSigner
from collector.notify.messages import Limits, runbook_outcome
from collector.notify.runbooks import Outcome, Runbook, RunbookRunner

log = logging.getLogger("hotline.collector.notify")


class Host(Protocol):
    """What the notifier needs of the collector service."""

    clock: Callable[[], Millis]

    def system_of(self, component: str) -> str: ...

    async def get(self, incident_id: str) -> Incident | None: ...

    async def active(self) -> Sequence[Incident]: ...

    def incident_of(self, event: Event) -> Incident | None: ...

    async def record(self, entry: TimelineEntry) -> None: ...


class Notifier:
    def __init__(
        self,
        host: Host,
        alerts: AlertsConfig | None,
        runbooks: Sequence[Runbook],
        state_dir: Path,
        limits: Limits,
        calendar_overrides: object = None,
    ) -> None:
        self.host = host
        self.alerter: Alerter | None = None
        self.signer: LinkSigner | None = None
        self.outbox: Outbox | None = None
        if alerts is not None:
            self.outbox = Outbox(state_dir / "alerts.db")
            self.signer = LinkSigner(
                signing_key(alerts, state_dir), alerts.public_url, alerts.link_ttl
            )
            self.alerter = Alerter(
                alerts,
                host,
                self.outbox,
                self.signer,
                limits=limits,
                clock=host.clock,
                on_outcome=self._sent,
                calendar_overrides=calendar_overrides,
            )
        self.runner = (
            RunbookRunner(runbooks, system_of=host.system_of, on_outcome=self._ran)
            if runbooks
            else None
        )

    async def start(self) -> None:
        if self.alerter is not None:
            await self.alerter.start()

    async def stop(self) -> None:
        if self.alerter is not None:
            await self.alerter.stop()
        if self.runner is not None:
            await self.runner.aclose()
        if self.outbox is not None:
            self.outbox.close()

    def __call__(self, event: Event) -> None:
        """The subscriber: queue alerts and start matching runbooks; never waits."""
        if self.alerter is not None:
            self.alerter(event)
        if self.runner is not None:
            event = self._with_component(event)
            system = self.host.system_of(event.component) if event.component else None
            self.runner.submit(event, system)

    async def tick(self, now: Millis) -> None:
        if self.alerter is not None:
            await self.alerter.tick(now)

    async def acknowledged(self, incident_id: str) -> None:
        if self.alerter is not None:
            await self.alerter.acknowledged(incident_id)

    def verify_link(self, token: str, now: Millis) -> AckClaim:
        """The claim of an acknowledgement link (LinkError when it does not verify)."""
        if self.signer is None or self.outbox is None:
            from collector.notify.links import LinkError

            raise LinkError("malformed")
        return self.signer.verify(token, now, used=self.outbox)

    def use_link(self, claim: AckClaim, now: Millis) -> bool:
        """Spend the link's one use; False when it was spent already."""
        assert self.outbox is not None
        return self.outbox.use_token(claim.token_id, claim.incident_id, now)

    def _with_component(self, event: Event) -> Event:
        """Incident events carry no component: runbooks filtered by system or component see
        the incident's first one."""
        if event.component or event.incident_id is None:
            return event
        inc = self.host.incident_of(event)
        if inc is None or not inc.components:
            return event
        return replace(event, component=inc.components[0])

    async def _sent(self, outcome: SendOutcome) -> None:
        if outcome.incident_id is None or not (outcome.final or outcome.attempt == 1):
            return  # the timeline keeps the result, and the first failure, not every retry
        detail = {
            "state": outcome.state,
            "route": outcome.route,
            "url": outcome.url,
            "ok": outcome.ok,
            "attempt": outcome.attempt,
        }
        if outcome.error:
            detail["error"] = outcome.error
        event = "alert_sent" if outcome.ok else "alert_failed"
        await self.host.record(TimelineEntry(outcome.incident_id, outcome.at, event, detail=detail))

    async def _ran(self, outcome: Outcome) -> None:
        incident_id = outcome.incident_id
        if incident_id is None:
            inc = self.host.incident_of(outcome.event)
            incident_id = inc.id if inc is not None else None
        detail = outcome.timeline_detail()  # (the runner logs each outcome itself)
        if incident_id is not None:
            now = self.host.clock()
            await self.host.record(TimelineEntry(incident_id, now, "runbook", detail=detail))
            inc = await self.host.get(incident_id)
            if self.alerter is not None and inc is not None:  # and in the alert thread
                message = runbook_outcome(inc, self.host.system_of, detail)
                self.alerter.tell(inc, f"runbook:{outcome.runbook}:{now}", message)
