"""The real peers the probe tests talk to (session-scoped, started on first use)."""

from tests.peers.baresip import baresip, baresip_silent  # noqa: F401
from tests.peers.http import http_server, https_server  # noqa: F401
from tests.peers.kamailio import kamailio  # noqa: F401
from tests.peers.net import banner_tcp, closed_port, silent_tcp, silent_udp  # noqa: F401
from tests.peers.sipuas import sip_uas  # noqa: F401
from tests.peers.snmpd import snmpd  # noqa: F401
from tests.peers.sshd import sshd  # noqa: F401
