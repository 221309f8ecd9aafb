"""How relation names travel in URLs.

Catalog names may contain anything, including "/" and "%". Servers decode %2F to
"/" before routing, so a plain percent-encoding would split such a name into two
segments. The converter therefore escapes "%" and "/" first (as %25 and %2F) and
lets Django percent-encode the result for transport; after the server decodes
once, to_python undoes the first step. Names "." and ".." get their dots escaped too,
since browsers resolve such path segments away.
"""

from urllib.parse import quote, unquote, urlencode

from django.urls import register_converter


class CatalogNameConverter:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        escaped = value.replace("%", "%25").replace("/", "%2F")
        if escaped in (".", ".."):
            # A bare dot segment would be resolved away by browsers ("/schema/public/../").
            escaped = escaped.replace(".", "%2E")
        return escaped


register_converter(CatalogNameConverter, "catname")


def name_segment(name: str) -> str:
    """The URL path segment for a catalog name, as Django's reverse() would build it."""
    return quote(CatalogNameConverter().to_url(name), safe="")


def table_url(slug: str, schema: str, table: str, branch: str = "") -> str:
    """A relation's page; `branch` (a Neon branch name, "" for the default) travels as ?branch=."""
    url = f"/projects/{slug}/schema/{name_segment(schema)}/{name_segment(table)}/"
    return f"{url}?{urlencode({'branch': branch})}" if branch else url
