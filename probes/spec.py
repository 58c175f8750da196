"""What everyone needs to know of one probe kind, written once, in the kind's own module.

Each probe module ends with `SPEC = KindSpec(…)`; the registry lists those specs, and the agent's
config loader, `hotline agent --check`, `hotline probe` and the scheduler read them instead of
keeping tables of their own.

- `parse(target, options)` is pure and the one parser of a check: it returns the parsed check
  or raises `OptionError` naming the option. The probe calls it on every run; a config loader
  calls it once at load, so a typo fails `--check` instead of becoming a `config_error` result
  at run time. It touches no network; it does check that files named by options are readable
  and that `NAME_env` variables are set.
- `files` / `file_lists`: options that name files (besides every `*_file`), which a config
  resolves against its own directory (`options.resolve_paths`).
- `prepare()`: one-time, per event loop set-up (imports, engines, contexts) that the agent runs
  at start, outside any probe's timeout; a probe never needs it (it sets up lazily) but its
  first run is then slower by that much.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from probes.result import ProbeResult

ProbeFn = Callable[[str, Mapping[str, Any], float], Awaitable[ProbeResult]]
ParseFn = Callable[[str, Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    probe: ProbeFn
    parse: ParseFn
    # The target a config derives when a probe gives none: `{host}`, `{host_uri}` (bracketed
    # if IPv6); None when the kind needs an explicit target.
    default_target: str | None = None
    # Checks of this kind running at once in the agent, unless its config says otherwise.
    concurrency: int = 64
    # Compares with its previous run: takes the last result's `value` in the option `previous`.
    stateful: bool = False
    files: frozenset[str] = field(default_factory=frozenset)
    file_lists: frozenset[str] = field(default_factory=frozenset)
    prepare: Callable[[], Awaitable[None]] | None = None
