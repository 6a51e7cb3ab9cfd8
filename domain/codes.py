"""Invitation codes: what the link in the e-mail carries.

A code is base64url(nonce ‖ HMAC-SHA256(secret, nonce)[:16]): 128 random bits, then 128 bits that
only the holder of the server secret can compute. The database keeps the nonce alone, so a copy of
it accepts nothing; every retry of an invitation's e-mail rebuilds the same link from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

NONCE_BYTES = 16
MAC_BYTES = 16
CODE_LENGTH = 43  # base64url of 32 bytes, without padding


def new_nonce() -> str:
    """A fresh nonce for a new invitation, as stored in Invitation.code_nonce (32 hex digits)."""
    return secrets.token_hex(NONCE_BYTES)


def _mac(secret: str, nonce: bytes) -> bytes:
    return hmac.new(secret.encode(), b"invitation-code:" + nonce, hashlib.sha256).digest()[
        :MAC_BYTES
    ]


def code_for(nonce_hex: str, *, secret: str) -> str:
    nonce = bytes.fromhex(nonce_hex)
    return base64.urlsafe_b64encode(nonce + _mac(secret, nonce)).rstrip(b"=").decode()


def nonce_of(code: str, *, secret: str) -> str | None:
    """The nonce a well-formed, authentic code carries; None for anything else (constant time)."""
    if len(code) != CODE_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(code + "=")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != NONCE_BYTES + MAC_BYTES:
        return None
    nonce, mac = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, nonce)):
        return None
    return nonce.hex()
