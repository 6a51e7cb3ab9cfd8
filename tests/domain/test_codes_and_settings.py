"""Invitation codes and the scoped settings, at the domain level."""

from __future__ import annotations

from domain import codes
from domain import invitation_settings as s
from models.store import StoreView
from tests.helpers import TEST_SECRET, default_website


def test_a_code_round_trips_and_needs_the_secret() -> None:
    nonce = codes.new_nonce()

    code = codes.code_for(nonce, secret=TEST_SECRET)

    assert len(code) == codes.CODE_LENGTH
    assert nonce not in code
    assert codes.nonce_of(code, secret=TEST_SECRET) == nonce
    assert codes.nonce_of(code, secret="another-secret") is None
    assert codes.code_for(nonce, secret=TEST_SECRET) == code


def test_tampered_or_malformed_codes_are_refused() -> None:
    code = codes.code_for(codes.new_nonce(), secret=TEST_SECRET)
    flipped = code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]

    for bad in (flipped, "", "x" * 43, code + "A", "€" * 43, "=" * 43, code[:-1]):
        assert codes.nonce_of(bad, secret=TEST_SECRET) is None


async def test_store_view_inherits_from_website_and_default() -> None:
    website = await default_website()
    sv = await StoreView.get(code="sv")
    default = await StoreView.get(code="default")
    await s.write(s.DEFAULT_SCOPE, {"max_invitations_per_send": 7, "lifetime_days": 30})
    await s.write(s.Scope(s.ScopeType.WEBSITE, website.id), {"max_invitations_per_send": 9})
    await s.write(s.Scope(s.ScopeType.STORE_VIEW, sv.id), {"lifetime_days": None})
    # "enabled" exists at the default scope only: a website value is ignored.
    await s.write(s.Scope(s.ScopeType.WEBSITE, website.id), {"enabled": False})

    at_sv = await s.for_store_view(sv)
    at_default_view = await s.for_store_view(default)

    assert (at_sv.max_invitations_per_send, at_sv.lifetime_days, at_sv.enabled) == (9, None, True)
    assert (at_default_view.max_invitations_per_send, at_default_view.lifetime_days) == (9, 30)
    assert (await s.at_scope(s.DEFAULT_SCOPE)).max_invitations_per_send == 7
    assert await s.at_scope(s.Scope(s.ScopeType.STORE_VIEW, sv.id)) == at_sv


async def test_built_in_defaults() -> None:
    effective = await s.for_store_view(await StoreView.get(code="default"))

    assert effective == s.BUILT_IN
    assert effective.max_invitations_per_send == 5
    assert effective.referred_customer_group is s.ReferredCustomerGroup.SAME_AS_INVITER
    assert effective.lifetime_days is None


async def test_string_settings_round_trip_and_can_be_overwritten() -> None:
    await s.write(
        s.DEFAULT_SCOPE,
        {
            "registration_mode": s.RegistrationMode.BY_INVITATION_ONLY,
            "email_template": s.BUILT_IN_TEMPLATE,
        },
    )
    await s.write(s.DEFAULT_SCOPE, {"registration_mode": s.RegistrationMode.AVAILABLE_TO_ALL})
    await s.write(s.DEFAULT_SCOPE, {"referred_customer_group": "DEFAULT_GROUP"})

    effective = await s.at_scope(s.DEFAULT_SCOPE)

    assert effective.registration_mode is s.RegistrationMode.AVAILABLE_TO_ALL
    assert effective.referred_customer_group is s.ReferredCustomerGroup.DEFAULT_GROUP
    assert effective.email_template == s.BUILT_IN_TEMPLATE
