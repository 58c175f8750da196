from __future__ import annotations

import asyncio
import json
import time

import pytest

from probes import Reason, prepare_kinds, run_probe
from probes.snmpcheck import Check, failures, parse_oid
from tests.peers.snmpd import COMMUNITY, SYS_LOCATION, SYS_NAME, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER

V2C = {"community": COMMUNITY}
V3 = {"user": V3_USER, "auth_key": V3_AUTH_KEY, "priv_key": V3_PRIV_KEY}


@pytest.mark.parametrize("creds", [V2C, V3], ids=["v2c", "v3-authPriv-SHA-AES"])
async def test_snmp_get_reads_the_value(snmpd, creds):
    result = await run_probe("snmp", snmpd.target, {"oid": "sysName.0", **creds})
    assert result.ok, result
    assert result.value == SYS_NAME


async def test_snmp_reads_several_oids_in_one_request(snmpd):
    options = {"oid": "sysName.0, 1.3.6.1.2.1.1.6.0,.1.3.6.1.2.1.1.3.0", **V2C}
    result = await run_probe("snmp", snmpd.target, options)
    assert result.ok, result
    assert result.value["1.3.6.1.2.1.1.5.0"] == SYS_NAME
    assert result.value["1.3.6.1.2.1.1.6.0"] == SYS_LOCATION
    assert isinstance(result.value["1.3.6.1.2.1.1.3.0"], int)


async def test_snmp_wrong_community_is_timeout_saying_why(snmpd):
    result = await run_probe("snmp", snmpd.target, {"oid": "sysName.0", "community": "nope"}, 0.5)
    assert result.reason is Reason.TIMEOUT
    assert "community" in result.detail
    assert "nope" not in result.detail


async def test_snmp_v3_wrong_auth_key_is_auth_failed(snmpd):
    options = {"oid": "sysName.0", **V3, "auth_key": "not-the-key"}
    result = await run_probe("snmp", snmpd.target, options, 1)
    assert result.reason is Reason.AUTH_FAILED
    assert "not-the-key" not in result.detail


async def test_snmp_v3_unknown_user_is_auth_failed(snmpd):
    options = {"oid": "sysName.0", **V3, "user": "mallory"}
    result = await run_probe("snmp", snmpd.target, options, 1)
    assert result.reason is Reason.AUTH_FAILED


async def test_snmp_v3_right_key_still_works_after_a_wrong_one(snmpd):
    await run_probe("snmp", snmpd.target, {"oid": "sysName.0", **V3, "auth_key": "wrongwrong"}, 1)
    result = await run_probe("snmp", snmpd.target, {"oid": "sysName.0", **V3})
    assert result.ok, result


async def test_snmp_v3_keys_from_files(snmpd, tmp_path):
    (tmp_path / "auth").write_text(V3_AUTH_KEY + "\n")
    (tmp_path / "priv").write_text(V3_PRIV_KEY)
    options = {
        "oid": "sysName.0",
        "user": V3_USER,
        "auth_key_file": str(tmp_path / "auth"),
        "priv_key_file": str(tmp_path / "priv"),
    }
    result = await run_probe("snmp", snmpd.target, options)
    assert result.ok, result


async def test_snmp_missing_oid_is_check_failed(snmpd):
    result = await run_probe("snmp", snmpd.target, {"oid": "1.3.6.1.2.1.1.99.0", **V2C})
    assert result.reason is Reason.CHECK_FAILED
    assert "NoSuchObject" in result.detail


async def test_snmp_equals_holds_for_loopback_oper_status_up(snmpd):
    options = {"oid": "ifOperStatus.1", "equals": "1", **V2C}
    result = await run_probe("snmp", snmpd.target, options)
    assert result.ok, result
    assert result.value == 1


async def test_snmp_in_set_that_does_not_hold_is_check_failed(snmpd):
    options = {"oid": "ifOperStatus.1", "in": "2,7", **V2C}
    result = await run_probe("snmp", snmpd.target, options)
    assert result.reason is Reason.CHECK_FAILED
    assert result.value == 1


async def test_snmp_threshold_below_min_is_check_failed(snmpd):
    options = {"oid": "sysServices.0".replace("sysServices", "1.3.6.1.2.1.1.7"), "min": "100"}
    result = await run_probe("snmp", snmpd.target, {**options, **V2C})
    assert result.reason is Reason.CHECK_FAILED
    assert "below min" in result.detail


async def test_snmp_uptime_going_backwards_is_check_failed_reboot(snmpd):
    first = await run_probe("snmp", snmpd.target, {"oid": "sysUpTime.0", **V2C})
    assert first.ok
    options = {"oid": "sysUpTime.0", "change": "not_decreased", **V2C}
    result = await run_probe("snmp", snmpd.target, {**options, "previous": first.value})
    assert result.ok, result
    result = await run_probe("snmp", snmpd.target, {**options, "previous": first.value + 10**9})
    assert result.reason is Reason.CHECK_FAILED
    assert "backwards" in result.detail


async def test_snmp_change_check_with_several_oids_takes_previous_as_json(snmpd):
    options = {"oid": "sysName.0,sysLocation.0", "change": "unchanged", **V2C}
    first = await run_probe("snmp", snmpd.target, options)
    again = await run_probe("snmp", snmpd.target, {**options, "previous": json.dumps(first.value)})
    assert again.ok, again
    changed = {**first.value, "1.3.6.1.2.1.1.5.0": "old-name"}
    result = await run_probe("snmp", snmpd.target, {**options, "previous": changed})
    assert result.reason is Reason.CHECK_FAILED
    assert "old-name" in result.detail


async def test_snmp_many_concurrent_gets_share_one_engine(snmpd):
    options = {"oid": "sysName.0", **V2C}
    results = await asyncio.gather(*(run_probe("snmp", snmpd.target, options) for _ in range(100)))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    from probes import snmp

    assert len(snmp._ENGINES) >= 1
    assert snmp._engine().engine is snmp._engine().engine


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "oid"),
        ({"oid": "sysFoo.0", **V2C}, "oid"),
        ({"oid": "sysName.0"}, "community"),
        ({"oid": "sysName.0", **V3, "auth_protocol": "SHA999"}, "auth_protocol"),
        ({"oid": "sysName.0", **V3, "priv_key": "short"}, "priv_key"),
        ({"oid": "sysName.0", "version": "1", **V2C}, "version"),
        ({"oid": "sysName.0", "change": "sideways", **V2C}, "change"),
        ({"oid": "sysName.0", "min": "lots", **V2C}, "min"),
        ({"oid": "sysName.0", "retries": "-1", **V2C}, "retries"),
    ],
)
async def test_snmp_bad_option_is_config_error_naming_it(snmpd, options, named):
    result = await run_probe("snmp", snmpd.target, options)
    assert result.reason is Reason.CONFIG_ERROR
    assert named in result.detail


def test_oid_names_and_numbers_are_understood():
    assert parse_oid("sysUpTime.0") == "1.3.6.1.2.1.1.3.0"
    assert parse_oid(".1.3.6.1.2.1.1.3.0") == "1.3.6.1.2.1.1.3.0"
    assert parse_oid("hrSWRunStatus.42") == "1.3.6.1.2.1.25.4.2.1.7.42"


def test_change_checks_without_previous_pass_on_first_run():
    assert failures(Check(change="changed"), {"1.3": 5}) == []
    assert failures(Check(change="changed", previous=5), {"1.3": 5}) == ["1.3 unchanged at 5"]
    assert failures(Check(change="increased", previous="4"), {"1.3": 5}) == []


async def test_snmp_agent_that_never_answers_is_timeout_within_the_timeout(silent_udp):
    # As the agent and `hotline probe` do: pysnmp's engine and first-request set-up happen
    # before the probe is timed (on a slow machine they alone took longer than this timeout).
    await prepare_kinds({"snmp"})
    target = f"127.0.0.1:{silent_udp.port}"
    start = time.perf_counter()
    result = await run_probe("snmp", target, {"oid": "sysName.0", **V2C}, timeout=0.4)
    elapsed = time.perf_counter() - start
    assert result.reason is Reason.TIMEOUT
    # The probe's own deadline answered, not the outer guard (which answers at timeout +
    # 0.25 s when set-up ate the budget): that is what the cold start broke, and it holds
    # however busy the machine is — a wall-clock upper bound would not.
    assert "elapsed_ms" not in result.extra
    assert elapsed >= 0.4  # it waited its whole timeout


async def test_snmp_prepare_creates_the_engine_and_does_pysnmps_first_request_work():
    from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD

    from probes import snmp

    await prepare_kinds({"snmp"})
    state = snmp._engine()
    assert state.prepared
    assert "mibViewController" in state.engine.cache  # OIDs resolve without loading MIBs
    cache = LCD._get_cache(state.engine)
    assert not any(cache.values())  # the stand-in credentials and target are gone again
    again = snmp._engine()
    await prepare_kinds({"snmp"})
    assert snmp._engine() is again  # idempotent
