"""Shipping: batches from the spool to `POST /api/v1/results`, heartbeats to `/api/v1/heartbeat`.

One httpx.AsyncClient (HTTP/1.1 keep-alive, TLS verified unless configured otherwise) for
everything. A batch is sent until the collector acknowledges it with a 2xx; the same id and
results are retried after any failure, with exponential backoff and jitter. Answers:
- 2xx: acknowledged; items listed in `rejected` are logged and counted (they will never be
  accepted, so they are dropped with the rest of the batch).
- 408, 429, 5xx, network errors: retried (honouring Retry-After up to the backoff cap).
- 413: the batch is too large for the collector; it is released (never stored, so a new id
  is safe), the batch limit halved, and retried.
- other 4xx (401 bad token, 400 malformed…): logged as an error naming the status, the spool
  kept, retried with backoff (a token fixed by SIGHUP or a collector fix lets it drain).
The spool refusing a write (disk full) pauses shipping and is retried with backoff; an
acknowledged batch whose deletion failed is deleted on the retry, never sent again. Any other
error is logged (once while it repeats) and retried: the shipper task never dies of one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from typing import Any

import httpx

from agent.config import AgentConfig
from agent.health import Health, backoff_delay
from agent.spool import Batch, Spool, SpoolWriteError

log = logging.getLogger(__name__)

RESULTS_PATH = "/api/v1/results"
HEARTBEAT_PATH = "/api/v1/heartbeat"


def make_client(config: AgentConfig) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = config.verify
    if config.verify and config.ca_file:
        verify = ssl.create_default_context(cafile=config.ca_file)
    return httpx.AsyncClient(
        verify=verify,
        timeout=httpx.Timeout(config.http_timeout),
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
        headers={"User-Agent": "hotline-agent/0.1", "Content-Type": "application/json"},
    )


class Shipper:
    def __init__(self, config: AgentConfig, token: str, spool: Spool, health: Health) -> None:
        self.spool = spool
        self.health = health
        self._rng = random.Random()
        self._client = make_client(config)
        self._attempt = 0
        self._spool_attempt = 0
        self._acked: str | None = None  # the collector has it; the spool still must forget it
        self._last_error: str | None = None
        self.configure(config, token)

    def configure(self, config: AgentConfig, token: str) -> None:
        """Apply a (re)loaded config; a changed URL or TLS setting gets a new client."""
        old = getattr(self, "config", None)
        self.config = config
        self._token = token
        self._max_items = config.batch_size
        if old is not None and (old.verify, old.ca_file, old.http_timeout) != (
            config.verify,
            config.ca_file,
            config.http_timeout,
        ):
            stale, self._client = self._client, make_client(config)
            asyncio.get_running_loop().create_task(stale.aclose())

    async def aclose(self) -> None:
        await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def run(self) -> None:
        """Ship forever (until cancelled); no error ends it."""
        while True:
            try:
                delay = await self._step()
            except asyncio.CancelledError:
                raise
            except SpoolWriteError:  # the spool logged it once; retry until the disk takes it
                delay = self._spool_backoff()
            except Exception as exc:
                delay = self._spool_backoff()
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    self._last_error = message
                    log.exception("shipping failed (%s); retrying, logged again if it changes", exc)
            else:
                self._spool_attempt = 0
                if self._last_error is not None:
                    log.info("shipping works again")
                    self._last_error = None
            if delay:
                await asyncio.sleep(delay)

    def _spool_backoff(self) -> float:
        delay = backoff_delay(
            self._spool_attempt, self.config.backoff_initial, self.config.backoff_max, self._rng
        )
        self._spool_attempt += 1
        return delay

    async def _step(self) -> float:
        """One batch (or the retry of an acknowledgement); the seconds to wait after it."""
        if self._acked is not None:
            await self.spool.ack(self._acked)
            self._acked = None
            return 0.0
        if not self.spool.has_batch:
            await self._wait_ready()
        batch = await self.spool.take_batch(
            self.config.name, self._max_items, self.config.batch_bytes
        )
        if batch is None:
            return 0.0
        return await self._ship(batch)

    async def flush(self, timeout: float) -> bool:
        """Ship what is spooled, for at most `timeout` seconds; True when the spool is empty."""
        deadline = time.monotonic() + timeout
        while self.spool.stats().pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                if self._acked is not None:
                    await self.spool.ack(self._acked)
                    self._acked = None
                    continue
                batch = await self.spool.take_batch(
                    self.config.name, self._max_items, self.config.batch_bytes
                )
                if batch is None:
                    return True
                async with asyncio.timeout(remaining):  # not wait_for: see Spool.wait_for_data
                    delay = await self._ship(batch)
            except TimeoutError:
                return False
            except SpoolWriteError:  # the disk refuses: what is left stays for the next start
                return False
            if delay:
                await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        return True

    async def _wait_ready(self) -> None:
        """Until a batch is worth sending: `batch_size` rows waiting, or the oldest is old."""
        while True:
            waiting = self.spool.unbatched
            if waiting >= self._max_items:
                return
            timeout = self.config.batch_age
            if waiting:
                timeout = self.spool.unbatched_since + self.config.batch_age - time.monotonic()
                if timeout <= 0:
                    return
            await self.spool.wait_for_data(timeout)

    async def _ship(self, batch: Batch) -> float:
        """Send one batch; 0 when acknowledged, else the seconds to wait before retrying."""
        url = self.config.collector_url + RESULTS_PATH
        try:
            response = await self._client.post(
                url, content=batch.body(self.config.name), headers=self._headers()
            )
        except httpx.HTTPError as exc:
            return self._failed(f"collector {url} unreachable: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            self._rejected(batch, response)
            self._acked = batch.id
            await self.spool.ack(batch.id)
            self._acked = None
            if self._attempt:
                log.info("collector accepts results again (batch %s)", batch.id)
            self._attempt = 0
            return 0.0
        text = response.text[:200].replace("\n", " ")
        if status == 413 and len(batch) > 1:
            self._max_items = max(1, len(batch) // 2)
            log.error(
                "collector says batch %s of %d results is too large (413); "
                "sending at most %d per batch",
                batch.id,
                len(batch),
                self._max_items,
            )
            await self.spool.release(batch.id)
            return 0.0
        if status in (408, 429) or status >= 500:
            delay = self._failed(f"collector answered {status} for batch {batch.id}: {text}")
            return max(delay, min(_retry_after(response), self.config.backoff_max))
        return self._failed(
            f"collector refused batch {batch.id} with {status}: {text} — results kept in the "
            "spool; fix the cause (token, collector) and they will be sent",
            level=logging.ERROR,
        )

    def _failed(self, message: str, level: int = logging.WARNING) -> float:
        delay = backoff_delay(
            self._attempt, self.config.backoff_initial, self.config.backoff_max, self._rng
        )
        self._attempt += 1
        log.log(level, "%s (attempt %d, retrying in %.1f s)", message, self._attempt, delay)
        return delay

    def _rejected(self, batch: Batch, response: httpx.Response) -> None:
        try:
            answer = response.json()
        except ValueError:
            return
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        if not isinstance(rejected, list) or not rejected:
            return
        self.health.rejected += len(rejected)
        for item in rejected[:20]:
            if not isinstance(item, dict):
                continue
            index = item.get("index")
            result: Any = None
            if isinstance(index, int) and 0 <= index < len(batch):
                result = json.loads(batch.results_json[index])
                result = f"{result.get('component')}/{result.get('probe')} at {result.get('ts')}"
            log.warning(
                "collector rejected result %s of batch %s (%s): %s: %s",
                index,
                batch.id,
                result,
                item.get("field"),
                item.get("error"),
            )
        if len(rejected) > 20:
            log.warning("… and %d more rejected in batch %s", len(rejected) - 20, batch.id)

    async def heartbeat(self, body: dict[str, Any]) -> bool:
        url = self.config.collector_url + HEARTBEAT_PATH
        try:
            response = await self._client.post(url, json=body, headers=self._headers())
        except httpx.HTTPError as exc:
            log.debug("heartbeat to %s failed: %s", url, exc)
            return False
        if not 200 <= response.status_code < 300:
            log.warning("heartbeat refused with %d: %s", response.status_code, response.text[:200])
            return False
        return True


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0
