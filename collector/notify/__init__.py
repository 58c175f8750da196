"""Alerts and runbooks: subscribers at the edge that act on the collector's events.

May import collector.domain and the standard library/apprise/httpx/asyncssh; nothing
imports it but the service and the CLI.
"""
