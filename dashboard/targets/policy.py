"""Which hosts a team may point the dashboard at.

Registering a project makes the dashboard's workers connect to the given host, so a
hostile admin could use it to reach internal services (SSRF) or the dashboard's own
database. The dashboard's own database is always refused; private, loopback and
link-local networks are refused when TARGET_BLOCK_PRIVATE_NETWORKS is on (multi-tenant
deployments). Plain functions: the caller passes the settings in.
"""

import ipaddress
import socket
from dataclasses import dataclass

from .urls import InvalidURL, ParsedURL, parse_url


@dataclass(frozen=True)
class HostPolicy:
    own_database: tuple[str, int, str] | None  # (host, port, dbname) of the dashboard's database
    block_private_networks: bool = False


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []  # the connection check reports unknown hosts with its own clear message
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _is_internal(address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _same_server(parsed: ParsedURL, own: tuple[str, int, str]) -> bool:
    host, port, dbname = own
    return (
        parsed.port == port
        and parsed.dbname == dbname
        and (parsed.host == host.lower() or set(_resolve(parsed.host)) & set(_resolve(host)))
    )


def check_target_url(url: str, policy: HostPolicy) -> ParsedURL:
    """Parse the URL and refuse hosts the policy forbids; raises InvalidURL with a clear message."""
    parsed = parse_url(url)
    if policy.own_database and _same_server(parsed, policy.own_database):
        raise InvalidURL("This is the dashboard's own database; register the database you want to watch.")
    if policy.block_private_networks and any(_is_internal(a) for a in _resolve(parsed.host)):
        raise InvalidURL(
            "This host is on a private or local network, which this dashboard does not connect to."
        )
    return parsed
