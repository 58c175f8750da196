"""The files an operator writes for us, read the same way by the agent, the collector and the
operator's commands: secret files (`read_secret`) and, later, YAML that remembers its lines.

A package of its own, beside `probes/`, `scoring/` and `durable/`, because every side needs it
and none may import another's: the agent may not import the collector, and `collector.client`
(which runs on an operator's laptop) may not import the collector's server. It imports nothing
of ours — the standard library only.

    token = read_secret("/etc/hotline/agent.token")  # SecretFileError: unreadable or empty
"""

from conffile.secret import SecretFileError, read_secret

__all__ = ["SecretFileError", "read_secret"]
