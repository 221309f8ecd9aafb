"""Which hosts a team may point the dashboard at.

Registering a project makes the dashboard's workers connect to the given host, so a
hostile admin could use it to reach internal services (SSRF) or the dashboard's own
database. The rules:

- one host per URL: host lists, `host=`/`hostaddr=` parameters and Unix-socket paths
  are refused (libpq would otherwise connect somewhere the check never saw);
- the name must resolve, and every address it resolves to is checked;
- the dashboard's own database is always refused, on every address its server answers
  on (a server on loopback also answers on 0.0.0.0, the whole 127/8 range, ::1 and the
  machine's own addresses); other databases of that server only when
  `allow_own_server` is on (local demo and tests);
- private, loopback and link-local networks are refused when `block_private_networks`
  is on (multi-tenant deployments).

The same check runs when the project is registered and again at connect time
(`targets.connect`), against the addresses actually used, so a name that resolves
differently later (DNS rebinding) is caught. Plain functions: the caller passes the
settings in.
"""

import functools
import ipaddress
import socket
from dataclasses import dataclass, field

from .urls import InvalidURL, ParsedURL, parse_url

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class OwnServer:
    """The dashboard's own Postgres server: where it answers and which database is its own."""

    port: int
    dbname: str
    addresses: frozenset[Address] = field(default_factory=frozenset)
    # Reached over loopback or a Unix socket: the server is on this machine.
    local: bool = False

    def answers_on(self, address: Address, port: int) -> bool:
        if port != self.port:
            return False
        if address in self.addresses:
            return True
        return self.local and (
            address.is_loopback or address.is_unspecified or address in machine_addresses()
        )


@dataclass(frozen=True)
class HostPolicy:
    own_server: OwnServer | None = None
    block_private_networks: bool = False
    allow_own_server: bool = False


def resolve(host: str) -> list[Address]:
    """Every address `host` resolves to (IPv4-mapped IPv6 addresses as IPv4), in resolver order."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address not in found:
            found.append(address)
    return found


@functools.lru_cache(maxsize=1)
def machine_addresses() -> frozenset[Address]:
    """The addresses of this machine's own interfaces that its host name resolves to."""
    return frozenset(resolve(socket.gethostname()))


def own_server_from(host: str, port: int, dbname: str) -> OwnServer:
    """Describe the dashboard's database server from its Django settings (host may be a socket dir)."""
    if not host or host.startswith("/"):
        return OwnServer(port=port, dbname=dbname, local=True)
    addresses = frozenset(resolve(host))
    local = any(a.is_loopback or a.is_unspecified or a in machine_addresses() for a in addresses)
    return OwnServer(port=port, dbname=dbname, addresses=addresses, local=local)


def _is_internal(address: Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_addresses(parsed: ParsedURL, addresses: list[Address], policy: HostPolicy) -> None:
    """Refuse `addresses` (what `parsed.host` resolved to) if any of them is forbidden."""
    if not addresses:
        raise InvalidURL(f"Unknown host {parsed.host!r}: the name does not resolve.")
    # Private networks first, so a refused internal address never reveals whether it is our server.
    if policy.block_private_networks and any(_is_internal(a) for a in addresses):
        raise InvalidURL(
            "This host is on a private or local network, which this dashboard does not connect to."
        )
    own = policy.own_server
    if own and any(own.answers_on(a, parsed.port) for a in addresses):
        if parsed.dbname == own.dbname:
            raise InvalidURL("This is the dashboard's own database; register the database you want to watch.")
        if not policy.allow_own_server:
            raise InvalidURL(
                "This is the dashboard's own database server; register a database on another server."
            )


def allowed_addresses(parsed: ParsedURL, policy: HostPolicy) -> list[Address]:
    """Resolve the URL's host and check every address; returns them for connecting to exactly these."""
    addresses = resolve(parsed.host)
    check_addresses(parsed, addresses, policy)
    return addresses


def check_target_url(url: str, policy: HostPolicy) -> ParsedURL:
    """Parse the URL and refuse hosts the policy forbids; raises InvalidURL with a clear message."""
    parsed = parse_url(url)
    allowed_addresses(parsed, policy)
    return parsed
