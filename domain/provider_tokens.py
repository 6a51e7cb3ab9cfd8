"""JWTs of the store's own identity provider (SPEC §11): verified against its published key set.

Only asymmetric algorithms are accepted, so a public key can never serve as an HMAC secret. The
key set is fetched over HTTP, kept, and fetched again when a token names an unknown key id, at
most once a minute: a flood of made-up key ids cannot hammer the provider. Every way a token can
be wrong, the provider being unreachable included, is a ProviderTokenRejected with a sentence.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.clock import utcnow
from domain.errors import DomainError
from domain.tokens import Principal, hash_token
from domain.validation import email_key, normalize_email
from models.accounts import AdminUser, Customer, Permission, ProviderAccount
from models.store import Website

ALGORITHMS = ("RS256", "ES256", "EdDSA")
LEEWAY_SECONDS = 30
# An unknown key id fetches the key set again at most this often; a failed fetch is retried
# sooner, so that a provider coming back is noticed quickly.
REFETCH_SECONDS = 60.0
RETRY_AFTER_FAILURE_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_KEY_SET_BYTES = 256 * 1024
# The password hash of a provider's principal: no password ever verifies against it.
NO_PASSWORD = "!provider"  # noqa: S105 (not a hash: nothing verifies against it)


class ProviderTokenRejected(Exception):
    """A JWT that does not sign anyone in; `str(error)` says why."""


def looks_like_jwt(token: str) -> bool:
    """Built-in tokens are URL-safe base64 without dots; a compact JWS has exactly two."""
    return token.count(".") == 2


@dataclass
class KeySet:
    """The provider's signing keys by key id, fetched from `url` when needed."""

    url: str
    refetch_seconds: float = REFETCH_SECONDS
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _next_fetch: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        found = self._find(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._find(kid)
            if found is None and time.monotonic() >= self._next_fetch:
                await self._fetch()
                found = self._find(kid)
        if found is None:
            raise ProviderTokenRejected(f"its signing key ({kid or 'no key id'}) is not known")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # Without a key id only a key set of one key says which key is meant.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        self._next_fetch = time.monotonic() + min(RETRY_AFTER_FAILURE_SECONDS, self.refetch_seconds)
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
            if response.status_code != 200 or len(response.content) > MAX_KEY_SET_BYTES:
                raise ValueError(f"HTTP {response.status_code}")
            document = response.json()
            entries = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(entries, list):
                raise ValueError("no 'keys' list")
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderTokenRejected(
                "the identity provider's signing keys cannot be fetched right now"
            ) from error
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a kind of key we do not accept (symmetric, unknown curve, ...)
            if key.algorithm_name in ALGORITHMS:
                keys[str(entry.get("kid", ""))] = key
        self._keys = keys
        self._next_fetch = time.monotonic() + self.refetch_seconds


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    audience: str
    keys: KeySet

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a JWT this provider signed for us, now valid; else rejected."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise ProviderTokenRejected("it is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise ProviderTokenRejected(
                f"its algorithm {algorithm!r} is not accepted (only {', '.join(ALGORITHMS)})"
            )
        kid = header.get("kid")
        key = await self.keys.key(kid if isinstance(kid, str) else None)
        if key.algorithm_name != algorithm:
            raise ProviderTokenRejected(f"its algorithm {algorithm!r} does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise ProviderTokenRejected("it has expired") from None
        except jwt.ImmatureSignatureError:
            raise ProviderTokenRejected("it is not valid yet (nbf or iat)") from None
        except jwt.InvalidIssuerError:
            raise ProviderTokenRejected("its issuer is not the configured one") from None
        except jwt.InvalidAudienceError:
            raise ProviderTokenRejected("its audience is not this service") from None
        except jwt.MissingRequiredClaimError as error:
            raise ProviderTokenRejected(f"it lacks the claim {error.claim!r}") from None
        except jwt.InvalidSignatureError:
            raise ProviderTokenRejected("its signature does not verify") from None
        except jwt.InvalidTokenError:
            raise ProviderTokenRejected("it is not a valid JWT") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise ProviderTokenRejected("its 'sub' claim is not a non-empty string")
        return claims


def _text_claim(claims: dict[str, Any], name: str, *, limit: int = 255) -> str:
    value = claims.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def expiry(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)


@dataclass(frozen=True, slots=True)
class ProviderTokens:
    """The providers of one app: for customers and for admins, each optional."""

    customer: Provider | None = None
    admin: Provider | None = None
    permissions_claim: str = "permissions"

    @classmethod
    def configured(
        cls,
        *,
        customer: tuple[str | None, str | None, str | None],
        admin: tuple[str | None, str | None, str | None],
        permissions_claim: str,
        refetch_seconds: float = REFETCH_SECONDS,
    ) -> ProviderTokens:
        """From (issuer, JWKS URL, audience) of each kind; an unset issuer leaves it off."""

        def provider(values: tuple[str | None, str | None, str | None]) -> Provider | None:
            issuer, url, audience = values
            if not (issuer and url and audience):
                return None
            return Provider(issuer=issuer, audience=audience, keys=KeySet(url, refetch_seconds))

        return cls(provider(customer), provider(admin), permissions_claim)

    @property
    def enabled(self) -> bool:
        return self.customer is not None or self.admin is not None

    async def authenticate(self, token: str, *, website_id: int | None) -> Principal:
        """The principal a provider's JWT signs in; customers are created on first sight in
        the website `website_id` (the request's store view)."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.DecodeError:
            raise ProviderTokenRejected("it is not a well-formed JWT") from None
        if self.customer is not None and issuer == self.customer.issuer:
            claims = await self.customer.verify(token)
            customer = await _customer(self.customer.issuer, claims, website_id=website_id)
            verified = claims.get("email_verified")
            email = claims.get("email")
            return Principal(
                token_hash=hash_token(token),
                customer=customer,
                expires_at=expiry(claims),
                email=email if isinstance(email, str) else None,
                # Some providers send "false" as a string.
                email_verified=verified not in (False, "false")
                if "email_verified" in claims
                else None,
            )
        if self.admin is not None and issuer == self.admin.issuer:
            claims = await self.admin.verify(token)
            admin = await _admin(self.admin.issuer, claims, self.permissions_claim)
            return Principal(token_hash=hash_token(token), admin=admin, expires_at=expiry(claims))
        raise ProviderTokenRejected("its issuer is not the configured one")


async def _customer(issuer: str, claims: dict[str, Any], *, website_id: int | None) -> Customer:
    subject = claims["sub"]
    account = await _account(issuer, subject)
    if account is not None and account.customer is not None:
        return account.customer
    if website_id is None:
        raise ProviderTokenRejected("a new customer needs the Store header of a store view")
    raw_email = claims.get("email")
    if not isinstance(raw_email, str):
        raise ProviderTokenRejected("it lacks the claim 'email'")
    try:
        email = normalize_email(raw_email)
    except DomainError:
        raise ProviderTokenRejected("its 'email' claim is not a valid address") from None
    website = await Website.get(id=website_id)
    now = utcnow()
    try:
        async with in_transaction():
            customer = await Customer.create(
                website_id=website.id,
                group_id=website.default_group_id,
                email=email,
                email_key=email_key(email),
                firstname=_text_claim(claims, "given_name"),
                lastname=_text_claim(claims, "family_name"),
                password_hash=NO_PASSWORD,
                created_at=now,
            )
            await ProviderAccount.create(
                issuer=issuer, subject=subject, customer=customer, created_at=now
            )
            return customer
    except IntegrityError:
        pass
    # A concurrent first request created it, or the e-mail belongs to another customer.
    account = await _account(issuer, subject)
    if account is not None and account.customer is not None:
        return account.customer
    raise ProviderTokenRejected(
        "its e-mail already belongs to a customer of this website who signs in here"
    )


async def _admin(issuer: str, claims: dict[str, Any], permissions_claim: str) -> AdminUser:
    subject = claims["sub"]
    account = await _account(issuer, subject)
    admin = account.admin if account is not None else None
    if admin is None:
        username = _text_claim(claims, "preferred_username", limit=64) or subject[:64]
        now = utcnow()
        try:
            async with in_transaction():
                admin = await AdminUser.create(
                    username=username, password_hash=NO_PASSWORD, permissions=[], created_at=now
                )
                await ProviderAccount.create(
                    issuer=issuer, subject=subject, admin=admin, created_at=now
                )
        except IntegrityError:
            account = await _account(issuer, subject)
            admin = account.admin if account is not None else None
            if admin is None:
                raise ProviderTokenRejected(
                    f"the admin user name {username!r} belongs to a built-in admin"
                ) from None
    if not admin.is_active:
        raise ProviderTokenRejected("its admin user is deactivated")
    granted = claims.get(permissions_claim)
    names = {p.value for p in Permission}
    # The claim decides, on every request; what is stored for the row is never used.
    admin.permissions = (
        sorted({p for p in granted if isinstance(p, str) and p in names})
        if isinstance(granted, list)
        else []
    )
    return admin


async def _account(issuer: str, subject: str) -> ProviderAccount | None:
    return (
        await ProviderAccount.filter(issuer=issuer, subject=subject)
        .select_related("customer", "admin")
        .first()
    )
