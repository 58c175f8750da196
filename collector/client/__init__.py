"""The HTTP client side: `hotline maint` and `hotline incident`.

- `http`: `CollectorClient` over the `/api/v1` API, `read_token`;
- `common`: the `--collector` / `--token-file` options both commands share;
- `maint_cli`, `incident_cli`: the subcommands (`add_arguments`, `run`);
- `report_draft`: the Markdown draft of an incident's written report;
- `inspect_cli`, `inspection_report`: `hotline inspect`, the month's inspection report
  (巡检报告) as HTML (inline SVG charts drawn here) or Word.

It speaks to the collector over HTTP only: it imports nothing of the server (`collector.domain`,
`collector.api`, `collector.store`, `collector.service`), so it can run on an operator's laptop.
May import: the standard library, httpx and `conffile` (the token file).
"""
