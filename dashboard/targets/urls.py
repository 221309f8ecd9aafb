"""Parsing, validating and masking target connection URLs."""

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

ALLOWED_SCHEMES = ("postgres", "postgresql")
NEON_HOST_SUFFIXES = (".neon.tech", ".neon.build")
POOLER_MARK = "-pooler"


class InvalidURL(ValueError):
    """A connection URL that cannot be used; the message is safe to show (no password)."""


@dataclass(frozen=True)
class ParsedURL:
    user: str
    password: str
    host: str
    port: int
    dbname: str
    options: dict[str, str]


def parse_url(url: str) -> ParsedURL:
    url = (url or "").strip()
    if not url:
        raise InvalidURL("Enter a connection URL.")
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        raise InvalidURL("The URL is malformed (check the port and special characters).") from None
    if parts.scheme not in ALLOWED_SCHEMES:
        raise InvalidURL("The URL must start with postgresql:// or postgres://.")
    if not parts.hostname:
        raise InvalidURL("The URL has no host.")
    _refuse_other_hosts(parts.hostname, parse_qsl(parts.query))
    if not parts.username:
        raise InvalidURL("The URL has no user name.")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidURL("The URL has no database name (…/dbname).")
    if "/" in dbname:
        raise InvalidURL("The database name must not contain '/'.")
    return ParsedURL(
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        host=parts.hostname,
        port=port,
        dbname=dbname,
        options=dict(parse_qsl(parts.query)),
    )


# Query parameters through which libpq would connect somewhere other than the URL's one host.
HOST_PARAMETERS = ("host", "hostaddr", "service", "servicefile", "port")


def _refuse_other_hosts(hostname: str, query: list[tuple[str, str]]) -> None:
    """One TCP host per URL: the host policy checks that host, so libpq must not pick another."""
    if "," in hostname:
        raise InvalidURL("The URL names several hosts; register one host per project.")
    if "%" in hostname or hostname.startswith("/"):
        raise InvalidURL("Unix-socket paths are not allowed; use the server's TCP host name.")
    named = sorted({key for key, _ in query if key.lower() in HOST_PARAMETERS})
    if named:
        raise InvalidURL(
            f"The URL parameter {named[0]!r} is not allowed; put the one host and port in the URL itself."
        )


def mask_url(url: str) -> str:
    """The URL with its password replaced, for display. Unparseable URLs are hidden entirely."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(hidden)"
    user = quote(unquote(parts.username or ""), safe="")
    auth = f"{user}:••••••@" if parts.password else (f"{user}@" if user else "")
    return urlunsplit((parts.scheme, f"{auth}{host}{port}", parts.path, "", ""))


def is_neon_host(host: str) -> bool:
    return host.endswith(NEON_HOST_SUFFIXES)


def derive_direct_url(pooled_url: str) -> str:
    """For a Neon pooler host (ep-x-pooler.region.aws.neon.tech) the direct host drops `-pooler`.

    Other hosts have no separate direct endpoint, so the pooled URL is used as is.
    """
    try:
        parts = urlsplit(pooled_url)
        host = parts.hostname or ""
    except ValueError:
        return pooled_url
    first_label, _, rest = host.partition(".")
    if not (is_neon_host(host) and first_label.endswith(POOLER_MARK)):
        return pooled_url
    direct_host = first_label[: -len(POOLER_MARK)] + "." + rest
    return with_host(pooled_url, direct_host)


def with_host(url: str, host: str) -> str:
    """`url` with its host replaced; user, password (quoted as given) and port are kept.

    The netloc is rebuilt rather than searched for the old host: urlsplit lowercases
    `hostname`, so a search would miss a host written in upper case.
    """
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if hostinfo.startswith("["):  # IPv6 literal: the port follows the closing bracket
        port = hostinfo.partition("]")[2]
    else:
        port = hostinfo.partition(":")[1] + hostinfo.partition(":")[2]
    new_host = f"[{host}]" if ":" in host else host
    netloc = f"{userinfo}{at}{new_host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
