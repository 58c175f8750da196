"""The HTTP face of the collector (Starlette): `create_app(collector, principals)`.

- `app`: routes, authentication, error mapping, metrics, the OpenAPI document;
- `views`: records to the JSON bodies the API returns.

A thin layer over `collector.service.Collector`. May import: `collector.service`,
`collector.domain`, `collector.config` (principals), `collector.store.base` (its errors) —
never a store implementation or `collector.client`.
"""

from collector.api.app import create_app

__all__ = ["create_app"]
