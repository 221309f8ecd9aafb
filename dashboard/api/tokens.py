"""API tokens: created by a management command, stored only as a SHA-256 hash, scoped to one team."""

import secrets

from django.utils import timezone

from dashboard.models import ApiToken, hash_token

TOKEN_PREFIX = "nod_"


def create_token(team, name: str, created_by=None) -> tuple[ApiToken, str]:
    """Returns the record and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        team=team, name=name, token_hash=hash_token(raw), prefix=raw[:10], created_by=created_by
    )
    return token, raw


def token_from_header(header: str) -> ApiToken | None:
    """The active token named by an `Authorization: Bearer <token>` header, or None."""
    scheme, _, raw = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = (
        ApiToken.objects.select_related("team")
        .filter(token_hash=hash_token(raw.strip()), revoked=False)
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
