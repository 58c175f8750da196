"""The files an operator writes for us, read the same way by the agent, the collector and the
operator's commands:

- `secret`: `read_secret(path)`, a token or password file — stripped, an empty file refused;
- `yamlmarks`: `parse(text, name)` / `load`, a YAML config parsed once into `MarkedDict` /
  `MarkedList` that keep each value's and key's line (`line_of`, `key_line_of`), duplicate keys,
  self-referring aliases and alias bombs refused as `YamlError(line, key, problem)`.

A package of its own, beside `probes/`, `scoring/` and `durable/`, because every side needs it
and none may import another's: the agent may not import the collector, and `collector.client`
(which runs on an operator's laptop) may not import the collector's server. It imports nothing
of ours — the standard library and PyYAML only (`secret` the standard library alone).

    token = read_secret("/etc/hotline/agent.token")  # SecretFileError: unreadable or empty
    doc = yamlmarks.parse(text, "agent.yaml")        # YamlError names the line
"""

from conffile import yamlmarks
from conffile.secret import SecretFileError, read_secret

__all__ = ["SecretFileError", "read_secret", "yamlmarks"]
