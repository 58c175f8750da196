"""Real servers for tests, on 127.0.0.1 and free ports, with temporary configs.

Each module offers a plain class usable outside pytest (`.start()`, `.stop()`, `.port`) and a
session-scoped pytest fixture that starts it once:

- `tests.peers.net`: `free_port`, `wait_until`, `SilentTcpServer` (accepts, reads, never
  answers), `BannerTcpServer` (sends a banner), `SilentUdpSocket`, `ClosedTcpPort`; fixtures
  `silent_tcp`, `banner_tcp`, `silent_udp`, `closed_port` (an int).
- `tests.peers.http`: `HttpServer` (plain and TLS, canned paths); fixtures `http_server`,
  `https_server`.
- `tests.peers.kamailio`: `Kamailio`; fixture `kamailio`.
- `tests.peers.snmpd`: `Snmpd`; fixture `snmpd`.
- `tests.peers.sshd`: `Sshd`; fixture `sshd`.
- `tests.peers.influxd`: `Influxd` (plain, TLS or auth; stop, kill, pause); fixtures
  `influxd` (one per session), `influxd_factory` (fresh servers a test may stop).

Use a fixture by importing it into a conftest.py or test module:
`from tests.peers.kamailio import kamailio  # noqa: F401`.
"""
