"""Subscriptions accept the provider's JWTs and service keys in connection_init (SPEC §11)."""

from __future__ import annotations

import pytest

from config import Settings
from domain import service_keys
from models.accounts import Permission
from tests.identity.conftest import provider_settings
from tests.identity.provider import Provider
from tests.live import Closed, live_client, live_server, refused_code

MINE = "subscription { myInvitationUpdates { id email status } }"
ALL = "subscription { invitationUpdates { id status } }"


def quick(settings: Settings, provider: Provider) -> Settings:
    return Settings(
        **{
            **provider_settings(settings, provider.url).model_dump(),
            "subscription_token_check_seconds": 0.2,
        }
    )


async def test_a_jwt_signs_in_and_its_expiry_closes_with_4403(
    settings: Settings, provider: Provider
) -> None:
    # exp within the verification leeway: accepted now, and the stream ends at exp.
    token = provider.token(ttl=4)
    async with live_server(quick(settings, provider)) as url:
        async with live_client(url, token=token) as client:
            await client.subscribe(MINE)
            await client.nothing_within(1.0)  # alive before its expiry
            with pytest.raises(Closed) as closed:
                await client.receive(timeout=5)
            assert closed.value.code == 4403
        assert await refused_code(url, token=provider.token(ttl=-120)) == 4403
        assert await refused_code(url, token=provider.token(aud="someone-else")) == 4403


async def test_a_service_key_subscribes_until_revoked(
    settings: Settings, provider: Provider
) -> None:
    key = await service_keys.create("grid-mirror", [Permission.INVITATIONS])
    reports_only = await service_keys.create("reports", [Permission.INVITATION_REPORTS])
    async with live_server(quick(settings, provider)) as url:
        async with live_client(url, token=reports_only) as client:
            await client.subscribe(ALL, wait=False)
            message = await client.receive()
            assert message["type"] == "error", message
        async with live_client(url, token=key) as client:
            await client.subscribe(ALL)
            await client.nothing_within(0.5)
            assert await service_keys.revoke("grid-mirror")
            with pytest.raises(Closed) as closed:
                await client.receive(timeout=3)
            assert closed.value.code == 4403
