"""Encryption at rest for credentials (database URLs, Neon API keys).

Keys come from settings.FIELD_ENCRYPTION_KEYS: the first key encrypts, every
key decrypts, so keys can be rotated by putting a new key first and running
`manage.py rotate_encryption_keys`.

Stored values are decrypted lazily, when code reads the attribute: a page or a
job that does not need the secret (the project list, /metrics, a periodic job
over many projects) never decrypts it, so one token that no configured key can
read (a rotation gone wrong) fails only what needs that one secret, with
SecretUnreadable.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute

UNREADABLE_MESSAGE = "stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS"


class SecretUnreadable(ValueError):
    """A stored token that none of the configured keys decrypts."""

    def __init__(self, message: str = UNREADABLE_MESSAGE):
        super().__init__(message)


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable() from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class Ciphertext(str):
    """A token as loaded from the database, not decrypted yet."""


class DecryptingAttribute(DeferredAttribute):
    """Decrypts the loaded token on first read and keeps the plaintext on the instance.

    A data descriptor (it has __set__), so reads go through __get__ even once the value
    sits in the instance's __dict__.
    """

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Ciphertext):
            value = decrypt(value)
            instance.__dict__[self.field.attname] = value
        return value


def is_readable(instance, name: str) -> bool:
    """True when the secret field `name` of `instance` decrypts (or is empty).

    A token not read yet is checked and the plaintext dropped: showing that a secret is
    unreadable does not put the others in memory.
    """
    if name not in instance.__dict__:
        instance.refresh_from_db(fields=[name])
    value = instance.__dict__[name]
    if not isinstance(value, Ciphertext):
        return True
    try:
        decrypt(value)
    except SecretUnreadable:
        return False
    return True


class EncryptedTextField(models.TextField):
    """A text column that stores a Fernet token; Python code sees the plaintext when it reads it.

    An empty string is stored as an empty string (nothing secret to hide). A value never
    read is saved back as the same token, so saving a row with an unreadable secret keeps it.
    """

    descriptor_class = DecryptingAttribute

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return Ciphertext(value)

    def pre_save(self, model_instance, add):
        # The raw attribute: reading it through the descriptor would decrypt it for nothing.
        return model_instance.__dict__.get(self.attname)

    def get_prep_value(self, value):
        if isinstance(value, Ciphertext):
            return str(value)
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
