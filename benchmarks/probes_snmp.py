"""SNMP GET probes per CPU-second against a local snmpd (v2c and v3 authPriv), as ratios.

Baselines measured in the same run: a bare pysnmp 7 loop (one engine, the same concurrency,
`lookupMib=False`, targets and credentials built once) — pysnmp itself is the bottleneck —
and `snmpget` in a loop if installed. Goals: our probe >= 1,500/s v2c and >= 800/s v3 per
CPU-second, i.e. close to bare pysnmp. Loopback only, a few seconds per phase.

    .venv/bin/python -m benchmarks.probes_snmp [--seconds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import time

from benchmarks import report
from benchmarks.probes_common import Rate, drive
from probes import run_probe
from tests.peers.snmpd import COMMUNITY, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, Snmpd

OID = "1.3.6.1.2.1.1.5.0"


async def bare_pysnmp(port: int, v3: bool, concurrency: int, seconds: float) -> Rate:
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    engine = hlapi.SnmpEngine()
    target = await hlapi.UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=0)
    if v3:
        auth = hlapi.UsmUserData(
            V3_USER,
            V3_AUTH_KEY,
            V3_PRIV_KEY,
            authProtocol=hlapi.USM_AUTH_HMAC96_SHA,
            privProtocol=hlapi.USM_PRIV_CFB128_AES,
        )
    else:
        auth = hlapi.CommunityData(COMMUNITY)
    context = hlapi.ContextData()

    async def one() -> bool:
        error, status, _, _ = await hlapi.get_cmd(
            engine,
            auth,
            target,
            context,
            hlapi.ObjectType(hlapi.ObjectIdentity(OID)),
            lookupMib=False,
        )
        return not error and not status

    name = f"bare pysnmp loop {'v3 authPriv' if v3 else 'v2c'}"
    rate = await drive(name, one, concurrency, seconds)
    engine.close_dispatcher()
    return rate


def snmpget_loop(port: int, seconds: float) -> Rate | None:
    binary = shutil.which("snmpget")
    if binary is None:
        return None
    ok = failed = 0
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        code = subprocess.run(
            [binary, "-v2c", "-c", COMMUNITY, f"127.0.0.1:{port}", OID],
            capture_output=True,
            timeout=10,
        ).returncode
        ok, failed = (ok + 1, failed) if code == 0 else (ok, failed + 1)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
    return Rate("snmpget v2c in a loop (its own CPU)", ok, failed, time.perf_counter() - start, cpu)


async def main(seconds: float, concurrency: int) -> None:
    server = Snmpd().start()
    try:
        results = []
        for v3, goal in ((False, 1500), (True, 800)):
            bare = await bare_pysnmp(server.port, v3, concurrency, seconds)
            creds = (
                {"user": V3_USER, "auth_key": V3_AUTH_KEY, "priv_key": V3_PRIV_KEY}
                if v3
                else {"community": COMMUNITY}
            )
            options = {"oid": OID, **creds}

            async def ours(options: dict = options) -> bool:
                return (await run_probe("snmp", server.target, options, 5.0)).ok

            label = f"hotline snmp probe {'v3 authPriv' if v3 else 'v2c'} (run_probe)"
            probe = await drive(label, ours, concurrency, seconds)
            results.append((bare, probe, goal))
        snmpget = snmpget_loop(server.port, min(seconds, 2.0))
        print(
            f"SNMP GET sysName.0 against snmpd on {server.target}, {concurrency} in flight, "
            f"{seconds:g} s per phase"
        )
        for bare, probe, goal in results:
            print(bare.line())
            print(probe.line(bare))
            verdict = "met" if probe.per_cpu_second >= goal else "NOT met"
            print(f"  goal >= {goal}/CPU-s: {verdict} ({probe.per_cpu_second:.0f})")
            report.row(f"SNMP probe {probe.name.split()[3]} vs bare pysnmp", probe.per_cpu_second,
                       bare.per_cpu_second, unit="probes/CPU-s", goal=f"≥ {goal:,}/CPU-s",
                       met=probe.per_cpu_second >= goal)  # fmt: skip
        if snmpget is not None:
            print(snmpget.line())
            print(results[0][1].line(snmpget))
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        asyncio.run(main(min(args.seconds, 30.0), max(1, min(args.concurrency, 500))))
