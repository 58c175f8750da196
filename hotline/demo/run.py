"""The demo's conductor: the simulated hotline, the real collector and agent as processes,
a month replayed through the API, live faults, and the month's report.

Every process started here runs in its own process group and is stopped in `finally` (also on
Ctrl-C and SIGTERM); `--keep` leaves only the collector, on purpose, and says how to stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from hotline.demo import history
from hotline.demo.clock import set_offset
from hotline.demo.sim import Hotline

TZ = history.TZ
ACDS = ["acd-1", "acd-2"]
IVRS = ["ivr-1", "ivr-2"]
SEATS = [f"seat-{n:03d}" for n in range(1, 37)]
RUNBOOK = """\
import os, sys
line = "restart-ivr ran: {} {} ({}) {}".format(
    os.environ.get("HOTLINE_EVENT"),
    os.environ.get("HOTLINE_COMPONENT"), os.environ.get("HOTLINE_REASON"),
    os.environ.get("HOTLINE_INCIDENT") or "")
print(line)
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(line + "\\n")
"""


class DemoError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _say(text: str) -> None:
    print(text, flush=True)


def _write_secret(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path


def _results_dir(out: str | None) -> Path:
    if out:
        return Path(out).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "hotline" / "demo"


class Demo:
    def __init__(self, keep: bool = False, out: str | None = None) -> None:
        self.keep = keep
        self.out = _results_dir(out)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.t0 = time.monotonic()
        self.alerts_seen = 0

    # -- processes ---------------------------------------------------------------------------
    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as f:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,  # its own process group: stopped as one
            )
        self.procs.append(proc)
        return proc

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the group left behind
        if proc in self.procs:
            self.procs.remove(proc)

    def _hotline(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run an operator command (`hotline incident ack …`) as an operator would."""
        argv = [sys.executable, "-m", "hotline", *args]
        env = {**os.environ, "HOTLINE_COLLECTOR": self.url}
        out = subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=self.run_dir, timeout=60
        )
        if out.returncode != 0:
            raise DemoError(f"hotline {' '.join(args)}: exit {out.returncode}: {out.stderr}")
        return out

    # -- the run -----------------------------------------------------------------------------
    def main(self) -> int:
        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, on_term)
        old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.run_dir = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
        kept = False
        try:
            with Hotline([*ACDS, *IVRS, *SEATS], ["cti-1"]) as self.sim:
                report = self._run()
                kept = self.keep
        except DemoError as exc:
            print(f"hotline demo: {exc}", file=sys.stderr, flush=True)
            self._tail_logs()
            return 1
        finally:
            # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if self.procs:
                self._progress("stopping the agent and the collector")
            for proc in list(reversed(self.procs)):  # the agent first: it flushes to the collector
                if not (kept and proc is getattr(self, "collector", None)):
                    self._stop(proc)
            signal.signal(signal.SIGTERM, old)
            signal.signal(signal.SIGINT, old_int)
            if not kept:
                shutil.rmtree(self.run_dir, ignore_errors=True)
        self._progress(f"done in {time.monotonic() - self.t0:.0f} s; the report:")
        print(report, flush=True)
        return 0

    def _progress(self, text: str) -> None:
        _say(f"[{time.monotonic() - self.t0:5.1f}s] {text}")

    def _tail_logs(self) -> None:
        for log in sorted(self.run_dir.glob("*.log")):
            lines = log.read_text("utf-8", "replace").splitlines()[-15:]
            print(f"--- {log.name} (last lines)", file=sys.stderr)
            print("\n".join(lines), file=sys.stderr, flush=True)

    def _run(self) -> str:
        now = datetime.now(TZ)
        self.plan = history.make_plan(now)
        self._progress(
            f"phase 1/6: a simulated hotline on 127.0.0.1 — {len(ACDS)} ACDs, {len(IVRS)} IVR "
            f"nodes, {len(SEATS)} seat phones (SIP OPTIONS), a CTI (HTTP), an alert sink"
        )
        self._write_configs()
        self._start_collector()
        self._progress(f"phase 2/6: the collector is up at {self.url} (SQLite in {self.run_dir})")
        self._backfill(now)
        self._start_agent()
        self._live()
        return self._report()

    # -- configs -----------------------------------------------------------------------------
    def _write_configs(self) -> None:
        d = self.run_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.agent_token = _write_secret(d / "agent.token", secrets.token_urlsafe(24))
        self.ops_token = _write_secret(d / "ops.token", secrets.token_urlsafe(24))
        self.runbook_log = d / "runbook.out"
        self.clock_file = d / "clock.offset"
        sink = f"json://127.0.0.1:{self.sim.sink_port}"
        config = {
            "listen": f"127.0.0.1:{self.port}",
            "state_dir": str(d / "collector"),
            "agents": [{"name": "demo-agent", "token_file": str(self.agent_token)}],
            "operators": [{"name": "ops-wang", "token_file": str(self.ops_token)}],
            "down_after": 3,
            "up_after": 1,
            "silence_after": 180,
            "silence_grace": 30,
            "tick_seconds": 1,
            "alerts": {
                "public_url": self.url,
                "routes": [
                    {
                        "name": "platform",
                        "urls": [f"{sink}/platform"],
                        "systems": ["acd", "ivr", "callsys"],
                    },
                    {"name": "shift-lead", "urls": [f"{sink}/shift-lead"], "systems": ["seat"]},
                ],
            },
            "runbooks": [
                {
                    "name": "restart-ivr",
                    "when": {"event": "outage_started", "systems": ["ivr"]},
                    "run": [sys.executable, "-c", RUNBOOK, str(self.runbook_log)],
                    "timeout": 10,
                }
            ],
        }
        (d / "collector.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
        p = self.sim.ports
        seats_csv = "id,host,port\n" + "".join(
            f"{s.removeprefix('seat-')},127.0.0.1,{p[s]}\n" for s in SEATS
        )
        (d / "seats.csv").write_text(seats_csv, "utf-8")
        sip = {"kind": "sip", "name": "sip"}
        agent = {
            "agent": "demo-agent",
            "collector": {"url": self.url, "token_file": str(self.agent_token), "timeout": 5},
            "spool": {"path": str(d / "agent-spool.db"), "fsync": "normal"},
            "shipping": {
                "batch_age": 0.2,
                "backoff_initial": 0.5,
                "backoff_max": 2,
                "flush_timeout": 3,
            },
            "heartbeat": {"interval": 5},
            "defaults": {"interval": 1, "timeout": 1},
            "targets": [
                *(
                    {
                        "id": c,
                        "system": c.split("-")[0],
                        "host": "127.0.0.1",
                        "probes": [{**sip, "target": f"sip:127.0.0.1:{p[c]}"}],
                    }
                    for c in [*ACDS, *IVRS]
                ),
                {
                    "id": "cti-1",
                    "system": "callsys",
                    "host": "127.0.0.1",
                    "probes": [
                        {
                            "kind": "http",
                            "name": "http",
                            "target": f"http://127.0.0.1:{p['cti-1']}/health",
                        }
                    ],
                },
            ],
            "seat_lists": [
                {
                    "csv": "seats.csv",
                    "id_prefix": "seat-",
                    "system": "seat",
                    "interval": 2,
                    "probes": [{**sip, "target": "sip:{host}:{port}"}],
                }
            ],
        }
        (d / "agent.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True), "utf-8")

    # -- collector and API -------------------------------------------------------------------
    def _set_clock(self, at: datetime) -> None:
        set_offset(str(self.clock_file), int((at.timestamp() - time.time()) * 1000))

    def _start_collector(self) -> None:
        self._set_clock(self.plan.start - timedelta(hours=1))
        self.collector = self._spawn(
            [
                sys.executable,
                "-m",
                "hotline.demo.clock",
                str(self.clock_file),
                "collector",
                "--config",
                "collector.yaml",
            ],
            self.run_dir / "collector.log",
        )
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.agent_auth = {"Authorization": f"Bearer {self.agent_token.read_text().strip()}"}
        self.ops_auth = {"Authorization": f"Bearer {self.ops_token.read_text().strip()}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.collector.poll() is not None:
                raise DemoError(f"the collector exited ({self.collector.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/healthz").status_code == 200:
                    return
            time.sleep(0.1)
        raise DemoError("the collector did not answer /healthz within 30 s")

    def _api(
        self, method: str, path: str, body: Any = None, auth: dict[str, str] | None = None
    ) -> Any:
        r = self.http.request(method, path, json=body, headers=auth or self.ops_auth)
        if r.status_code >= 400:
            raise DemoError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def _post_results(self, results: list[dict[str, Any]], batch: str) -> int:
        if not results:
            return 0
        out = self._api(
            "POST",
            "/api/v1/results",
            {"agent": "demo-agent", "batch": batch, "results": results},
            self.agent_auth,
        )
        if out.get("rejected"):
            raise DemoError(f"batch {batch}: rejected {out['rejected'][:3]}")
        return int(out["accepted"])

    def _find_incident(self, fault: history.Fault, month: str) -> dict[str, Any] | None:
        found = self._api("GET", f"/api/v1/incidents?month={month}")["incidents"]
        for inc in found:
            first = inc.get("first_failed_at") or inc.get("detected_at")
            if (
                set(fault.components) & set(inc["components"])
                and not inc.get("voided")
                and first is not None
                and abs(datetime.fromisoformat(first) - fault.start) < timedelta(hours=2)
            ):
                return inc
        return None

    def _act(self, act: history.Act) -> None:
        if act.window is not None:
            w = act.window
            self._api(
                "POST",
                "/api/v1/maintenance",
                {
                    "components": [w.component],
                    "start": w.start.isoformat(),
                    "duration": f"{w.minutes}m",
                    "reason": w.reason,
                    "approval_ref": "CR-DEMO",
                },
            )
            return
        assert act.fault is not None
        inc = None
        for _ in range(50):  # an overrun's incident opens on the collector's next tick
            inc = self._find_incident(act.fault, self.plan.month)
            if inc is not None:
                break
            time.sleep(0.1)
        if inc is None:
            raise DemoError(f"no incident found for {act.fault.components} at {act.fault.start}")
        if act.what == "ack":
            if not inc.get("responded_at"):
                self._api("POST", f"/api/v1/incidents/{inc['id']}/ack", {})
        elif not inc.get("report_submitted_at"):
            ref = f"https://oa.example/12345/reports/{inc['id']}"
            self._api("POST", f"/api/v1/incidents/{inc['id']}/report", {"ref": ref})

    def _backfill(self, now: datetime) -> None:
        plan = self.plan
        until = now
        comps = [history.Component(c, c.split("-")[0], "sip") for c in [*ACDS, *IVRS, *SEATS]]
        comps.append(history.Component("cti-1", "callsys", "http"))
        self._progress(
            f"phase 3/6: replaying {plan.month} (the last closed month) and the days since, "
            f"one result a minute per component, through POST /api/v1/results"
        )
        sent = history.replay(plan, comps, until, self._set_clock, self._post_results, self._act)
        set_offset(str(self.clock_file), 0)
        n = self._drain_alerts(quiet=True)
        incs = self._api("GET", f"/api/v1/incidents?month={plan.month}")["incidents"]
        runbooks = (
            self.runbook_log.read_text("utf-8").count("\n") if self.runbook_log.exists() else 0
        )
        self._progress(
            f"  {sent} results standing for {len(comps)} components × "
            f"{(until - plan.start).total_seconds() / 86400:.1f} days of one-a-minute samples, "
            f"{len(plan.windows)} maintenance windows, {len(incs)} incidents in "
            f"{plan.month} ({sum(1 for i in incs if i.get('voided'))} voided by a window entered "
            f"late), {n} alerts to the sink, {runbooks} runbook runs; the clock is real again"
        )

    # -- live --------------------------------------------------------------------------------
    def _start_agent(self) -> None:
        self._progress("phase 4/6: the real agent probes the simulated hotline every 1–2 s")
        self.agent = self._spawn(
            [sys.executable, "-m", "hotline", "agent", "--config", "agent.yaml"],
            self.run_dir / "agent.log",
        )
        want = {*ACDS, *IVRS, *SEATS, "cti-1"}

        def all_up() -> bool:
            s = self._api("GET", "/api/v1/status")
            up = {c["id"] for c in s["components"] if c["state"] == "up"}
            return want <= up and any(a.get("agent") == "demo-agent" for a in s["agents"])

        self._wait(all_up, 40, "every component reported up by the agent")
        self._progress(f"  {len(want)} components up")

    def _wait(self, cond: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.agent.poll() is not None:
                raise DemoError(f"the agent exited ({self.agent.returncode})")
            self._drain_alerts()
            if cond():
                return
            time.sleep(0.3)
        raise DemoError(f"waited {seconds:.0f} s for {what}")

    def _drain_alerts(self, quiet: bool = False) -> int:
        n = 0
        while True:
            try:
                alert = self.sim.alerts.get_nowait()
            except Exception:
                break
            n += 1
            if not quiet:
                self.alerts_seen += 1
                title = str(alert.get("title") or "").strip()
                body = " ".join(str(alert.get("message") or alert).split())
                _say(f"  ALERT → {alert.get('route')}: {title} — {body[:200]}")
        if not quiet and self.runbook_log.exists():
            lines = self.runbook_log.read_text("utf-8").splitlines()
            for line in lines[getattr(self, "_runbook_seen", None) or len(lines) :]:
                _say(f"  RUNBOOK → {line}")
            self._runbook_seen = len(lines)
        return n

    def _open_incident(self, component: str) -> dict[str, Any] | None:
        for inc in self._api("GET", "/api/v1/incidents?open=true")["incidents"]:
            if component in inc["components"] and not inc.get("voided"):
                return inc
        return None

    def _live(self) -> None:
        if self.runbook_log.exists():
            self._runbook_seen = len(self.runbook_log.read_text("utf-8").splitlines())
        self._progress("phase 5/6: live faults")
        self._progress("  stopping ivr-1's SIP responder (the agent's probes now fail)")
        self.sim.stop("ivr-1")
        holder: dict[str, Any] = {}

        def opened() -> bool:
            holder["inc"] = self._open_incident("ivr-1")
            return holder["inc"] is not None

        mark = self.alerts_seen
        self._wait(opened, 30, "the incident for ivr-1")
        iid = holder["inc"]["id"]
        self._progress(f"  incident {iid} opened; waiting for its alert")
        self._wait(self._alert_after(mark), 20, "the alert at the sink")
        self._show_status("ivr-1 down")
        self._progress(f"  the operator acknowledges: hotline incident ack {iid}")
        self._hotline("incident", "ack", iid, "--token-file", str(self.ops_token))
        time.sleep(1)
        self._progress("  ivr-1 back (responder restarted)")
        self.sim.start("ivr-1")
        self._wait(lambda: self._open_incident("ivr-1") is None, 30, "ivr-1 restored")
        self._hotline(
            "incident",
            "report",
            iid,
            "--ref",
            "https://oa.example/12345/reports/live",
            "--token-file",
            str(self.ops_token),
        )
        self._progress(f"  {iid} restored; its written report recorded")

        start = datetime.now(TZ) + timedelta(seconds=1)
        self._progress("  maintenance window on acd-2 for 12 s (hotline maint add)")
        self._hotline(
            "maint",
            "add",
            "--components",
            "acd-2",
            "--start",
            start.isoformat(timespec="seconds"),
            "--duration",
            "12s",
            "--reason",
            "演示：排队机补丁",
            "--approval",
            "CR-LIVE",
            "--token-file",
            str(self.ops_token),
        )
        time.sleep(max(0.0, (start - datetime.now(TZ)).total_seconds()) + 1)
        self._progress("  acd-2 stopped inside the window (no alert: it is maintenance)")
        self.sim.stop("acd-2")
        mark = self.alerts_seen
        self._wait(
            lambda: self._open_incident("acd-2") is not None,
            40,
            "the overrun of acd-2's window (an incident when the window ends)",
        )
        self._progress(
            "  acd-2 still down after its window ended: incident "
            + str((self._open_incident("acd-2") or {}).get("id"))
        )
        self._wait(self._alert_after(mark), 20, "the overrun's alert")
        self._show_status("acd-2 overran its window")
        self.sim.start("acd-2")
        self._wait(lambda: self._open_incident("acd-2") is None, 30, "acd-2 restored")
        self._progress("  acd-2 back: everything restored")
        self._show_status("all restored")
        time.sleep(1.5)
        self._drain_alerts()

    def _show_status(self, title: str) -> None:
        """The collector's live status, as `hotline status` shows it (rich on a terminal,
        plain text otherwise): systems, components, open incidents with their clocks."""
        from collector.client import status_cli

        try:
            status = self._api("GET", "/api/v1/status")
            summary = self._api("GET", "/api/v1/summary")
        except DemoError as exc:  # the status is a view; the demo goes on without it
            self._progress(f"  (status unavailable: {exc})")
            return
        view = status_cli.build_view(status, summary)
        self._progress(f"  status — {title}:")
        if sys.stdout.isatty() and status_cli._rich_available():
            from rich.console import Console

            Console().print(status_cli.render_rich(view))
        else:
            print(status_cli.render_plain(view), flush=True)

    def _alert_after(self, mark: int) -> Callable[[], bool]:
        return lambda: self.alerts_seen > mark

    # -- report ------------------------------------------------------------------------------
    def _report(self) -> str:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"hotline-report-{self.plan.month}.html"
        self._progress(f"phase 6/6: the {self.plan.month} report (hotline score --format html)")
        self._hotline(
            "score",
            "--collector",
            self.url,
            "--month",
            self.plan.month,
            "--format",
            "html",
            "-o",
            str(path),
            "--token-file",
            str(self.ops_token),
        )
        js = self._hotline(
            "score",
            "--collector",
            self.url,
            "--month",
            self.plan.month,
            "--format",
            "json",
            "--token-file",
            str(self.ops_token),
        )
        data = json.loads(js.stdout)
        self._progress(
            f"  总分 {data['total']:g} / {data['max_total']:g}; flags: "
            + ", ".join(sorted({f["type"] for f in data.get("flags", [])}))
            or "none"
        )
        inspection = self.out / f"hotline-inspection-{self.plan.month}.html"
        self._hotline(
            "inspect", "--collector", self.url, "--month", self.plan.month,
            "-o", str(inspection), "--token-file", str(self.ops_token),
        )  # fmt: skip
        self._progress(f"  巡检报告 (hotline inspect): {inspection.resolve()}")
        if self.keep:
            self._progress(
                f"--keep: the collector stays at {self.url} (status page: {self.url}/#token="
                f"{self.ops_token.read_text().strip()}); "
                f"stop it with: kill -TERM -{self.collector.pid}"
            )
        return str(path.resolve())
