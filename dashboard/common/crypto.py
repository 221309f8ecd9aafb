"""Encryption at rest for credentials (database URLs, Neon API keys).

Keys come from settings.FIELD_ENCRYPTION_KEYS: the first key encrypts, every
key decrypts, so keys can be rotated by putting a new key first and running
`manage.py rotate_encryption_keys`.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS"
        ) from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column that stores a Fernet token; Python code sees the plaintext.

    An empty string is stored as an empty string (nothing secret to hide).
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
