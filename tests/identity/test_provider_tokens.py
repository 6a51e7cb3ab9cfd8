"""Customer and admin JWTs of the store's identity provider (SPEC §11), verified against a JWKS
served over HTTP on loopback, through the real app."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app import create_app
from config import Settings
from models.accounts import AdminUser, Customer, ProviderAccount
from tests.helpers import GraphQLClient, customer_token, error_codes, make_customer
from tests.identity.conftest import provider_settings, refused_because
from tests.identity.provider import ISSUER, Provider, SigningKey

ME = "{ customer { id email firstname lastname } }"
WEBSITES = "{ websites { code } }"
REPORT = '{ invitationsReport(filter: {from: "2026-01-01", to: "2026-01-31"}) { __typename } }'


async def test_a_good_token_creates_its_customer_once(
    client: GraphQLClient, provider: Provider
) -> None:
    token = provider.token()
    first = await client(ME, token=token)
    assert first["data"]["customer"]["email"] == "jwt.customer@example.com", first
    assert first["data"]["customer"]["firstname"] == "Jo"
    second = await client(ME, token=provider.token())
    assert second["data"]["customer"]["id"] == first["data"]["customer"]["id"]
    assert await ProviderAccount.filter(issuer=ISSUER, subject="user-1").count() == 1
    assert await Customer.filter(email_key="jwt.customer@example.com").count() == 1
    assert provider.fetches == 1  # the key set is kept


async def test_a_rotated_key_is_fetched_once(settings: Settings, provider: Provider) -> None:
    app = create_app(provider_settings(settings, provider.url, 1.0), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await _rotation(GraphQLClient(http), provider)


async def _rotation(client: GraphQLClient, provider: Provider) -> None:
    assert (await client(ME, token=provider.token()))["data"]["customer"]
    rotated = SigningKey.ec()
    provider.keys.append(rotated)
    # Within the refetch interval an unknown key id fetches nothing: refused.
    refused_because(await client(ME, token=provider.token(rotated)), "signing key")
    assert provider.fetches == 1
    await asyncio.sleep(1.1)
    body = await client(ME, token=provider.token(rotated))
    assert body["data"]["customer"]["email"] == "jwt.customer@example.com", body
    assert provider.fetches == 2
    # Made-up key ids within the minute fetch nothing more.
    for n in range(5):
        stranger = SigningKey.rsa()
        stranger.kid = f"unknown-{n}"
        refused_because(await client(ME, token=provider.token(stranger)), "signing key")
    assert provider.fetches == 2


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"ttl": -120}, "expired"),
        ({"iss": "https://evil.example.test"}, "issuer"),
        ({"aud": "someone-else"}, "audience"),
        ({"omit": ("sub",)}, "'sub'"),
        ({"omit": ("exp",)}, "'exp'"),
    ],
)
async def test_bad_claims_are_unauthenticated(
    client: GraphQLClient, provider: Provider, claims: dict[str, object], words: str
) -> None:
    body = await client(ME, token=provider.token(**claims))  # type: ignore[arg-type]
    refused_because(body, words)
    assert await Customer.filter(email_key="jwt.customer@example.com").count() == 0


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_is_refused(client: GraphQLClient, provider: Provider) -> None:
    claims = jwt.decode(provider.token(), options={"verify_signature": False})
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    refused_because(await client(ME, token=token), "algorithm 'none'")


async def test_hs256_signed_with_the_public_key_is_refused(
    client: GraphQLClient, provider: Provider
) -> None:
    claims = jwt.decode(provider.token(), options={"verify_signature": False})
    public_pem = (
        provider.keys[0]
        .private.public_key()
        .public_bytes(encoding=Encoding.PEM, format=PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": provider.keys[0].kid}
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = f"{signing_input.decode()}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    refused_because(await client(ME, token=token), "algorithm 'HS256'")


async def test_a_forged_signature_is_refused(client: GraphQLClient, provider: Provider) -> None:
    impostor = SigningKey.rsa()
    impostor.kid = provider.keys[0].kid
    refused_because(await client(ME, token=provider.token(impostor)), "signature")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_provider_down_is_unauthenticated_not_500(
    settings: Settings, provider: Provider
) -> None:
    down = provider_settings(settings, f"http://127.0.0.1:{_closed_port()}/certs")
    transport = httpx.ASGITransport(app=create_app(down, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        body = await GraphQLClient(http)(ME, token=provider.token())
    refused_because(body, "cannot be fetched")


async def test_built_in_tokens_work_beside_them(client: GraphQLClient, provider: Provider) -> None:
    customer = await make_customer(email="built.in@example.com")
    body = await client(ME, token=await customer_token(customer))
    assert body["data"]["customer"]["email"] == "built.in@example.com", body
    assert (await client(ME, token=provider.token()))["data"]["customer"]


async def test_an_admin_jwt_has_the_permissions_of_its_claim(
    client: GraphQLClient, provider: Provider
) -> None:
    staff = {"iss": ISSUER + "-staff", "sub": "staff-7", "preferred_username": "ops.jo"}
    token = provider.token(permissions=["INVITATION_REPORTS", "NOT_A_PERMISSION"], **staff)
    assert (await client(WEBSITES, token=token))["data"]["websites"]
    assert "errors" not in await client(REPORT, token=token)
    forbidden = await client("{ invitations { totalCount } }", token=token)
    assert error_codes(forbidden) == ["FORBIDDEN"], forbidden
    admin = await AdminUser.get(username="ops.jo")
    # The claim decides on each request: fewer permissions now, none stored.
    narrower = provider.token(permissions=[], **staff)
    assert error_codes(await client(REPORT, token=narrower)) == ["FORBIDDEN"]
    assert (await AdminUser.get(id=admin.id)).permissions == []
    # A customer JWT is not an admin's.
    assert error_codes(await client(WEBSITES, token=provider.token())) == ["FORBIDDEN"]
