"""Machine-readable output for the benchmark scripts (`--json`), collected by `benchmarks/run`.

A script records its headline figures with `row(...)`; under `json_output(True)` everything it
prints goes to stderr and, at the end, one JSON object goes to stdout:
`{"rows": [{measure, ours, baseline, ratio, goal, unit, met, note}, …]}`.
`ratio` is ours / baseline unless the script says otherwise (`note` does); `goal` is text
("≥ 10,000/CPU-s", "ratio ≥ 0.5"), `met` true/false, or null when there is no goal.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

ROWS: list[dict] = []


def row(
    measure: str,
    ours: float | None,
    baseline: float | None = None,
    *,
    unit: str = "",
    goal: str | None = None,
    met: bool | None = None,
    ratio: float | None = None,
    note: str = "",
) -> None:
    if ratio is None and ours is not None and baseline:
        ratio = ours / baseline
    ROWS.append(
        {
            "measure": measure,
            "ours": ours,
            "baseline": baseline,
            "ratio": ratio,
            "goal": goal,
            "met": met,
            "unit": unit,
            "note": note,
        }
    )


def skipped(measure: str, why: str, unit: str = "") -> None:
    row(measure, None, unit=unit, note=f"skipped: {why}")


@contextlib.contextmanager
def json_output(enabled: bool) -> Iterator[None]:
    """With `enabled`, send the script's prints to stderr and print the rows as JSON at the end."""
    if not enabled:
        yield
        return
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        yield
    print(json.dumps({"rows": ROWS}), file=out, flush=True)
