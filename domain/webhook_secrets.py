"""Endpoint signing secrets: made, and kept encrypted at rest.

A signing secret must be read back to sign, so unlike a password it cannot be hashed. It is
encrypted with Fernet (AES-128-CBC with HMAC-SHA256) under a key derived (HKDF-SHA256) from
INVITATIONS_SECRET_KEY, so the database alone gives no secret away. Changing the secret key makes
the stored secrets unreadable: rotate every endpoint's secret after such a change.
"""

from __future__ import annotations

import base64
import secrets
from functools import cache, lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
_SECRET_BYTES = 32
_INFO = b"invitations webhook signing secrets v1"


def new_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and the base64 of random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


@cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str, *, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode("ascii")).decode("ascii")


def decrypt(token: str, *, secret_key: str) -> str:
    return _decrypted(token, secret_key)


# The sender signs every delivery: each endpoint's secret is decrypted once, not once a POST (a
# token is never reused for another secret; a rotation stores a new token).
@lru_cache(maxsize=1024)
def _decrypted(token: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(token.encode("ascii")).decode("ascii")
