"""Secure defaults for the listening address: loopback needs no auth; any other address does,
unless the operator says `--insecure` on purpose."""

from __future__ import annotations

import ipaddress


class InsecureBindError(Exception):
    """Refusal to start, with the message the operator sees."""


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, auth_configured: bool, insecure: bool) -> None:
    if is_loopback(host) or auth_configured or insecure:
        return
    raise InsecureBindError(
        f"refusing to serve on {host} without authentication: anyone who can reach this address could run "
        "the models. Configure keys with --auth-file FILE (or OUTCROP_ACCESS_KEYS / OUTCROP_API_KEYS), "
        "bind 127.0.0.1, or pass --insecure to accept the risk."
    )
