"""The exact monthly scorer: facts and rules in, the report out.

Pure: nothing here touches a file, a socket or the clock except the loaders (`load_rules`,
`load_calendar_year`) and `scoring.cli`. Imports nothing else of the suite.
"""

from scoring.facts import Facts, FactsError, parse_facts
from scoring.rules import Rules, RulesError, load_rules
from scoring.score import score
from scoring.values import InputError

__all__ = [
    "Facts",
    "FactsError",
    "InputError",
    "Rules",
    "RulesError",
    "load_rules",
    "parse_facts",
    "score",
]
