"""The HTTP face of the collector (Starlette): `collector.api.app.create_app(collector)`.

- `app`: `create_app`, the routes (one per action), token authentication, error mapping;
- `handlers`: one module-level handler per route, reading `request.app.state.collector`;
- `parse`: the JSON body and the query and body fields, refused with a 400 naming the field;
- `views`: records to the JSON bodies the API returns;
- `metrics`: the Prometheus registry and the per-route request middleware;
- `openapi`: the OpenAPI document (parameters and request bodies).

A thin layer over `collector.service.Collector`. May import: `collector.service`,
`collector.domain`, `collector.config` (principals), `collector.store.base` (its errors) —
never a store implementation or `collector.client`.
"""
