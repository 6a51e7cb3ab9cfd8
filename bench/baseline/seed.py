"""Seeds the database of bench/graphql.py (run in a child process of it; not a test).

    .venv/bin/python bench/baseline/seed.py <database url>

Prints the tokens of the reading customer, the sending customer and the admin as JSON.
Tortoise keeps per-dialect state for the process, so each database is seeded by a new one.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tortoise import Tortoise

from cli.database import migrate
from cli.demo import seed_demo
from config import tortoise_config
from domain.codes import new_nonce
from domain.tokens import issue_token
from models.accounts import AdminUser, Customer
from models.invitation import DeliveryState, Invitation, InvitationStatus
from models.store import CustomerGroup, StoreView, Website

INVITATIONS = 10_000  # in the grid; the reading customer has 60 of them


async def seed(url: str) -> dict[str, str]:
    """A store, 200 customers, INVITATIONS invitations, and tokens; returns the tokens."""
    config = tortoise_config(url)
    await migrate(config)
    await Tortoise.init(config=config)
    try:
        await seed_demo()
        website = await Website.get(code="base")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        await Customer.bulk_create(
            [
                Customer(
                    website_id=website.id,
                    group_id=website.default_group_id,
                    email=f"c{i}@bench.example",
                    email_key=f"c{i}@bench.example",
                    firstname="Åsa" if i % 2 else "Chris",
                    lastname=f"Customer {i}",
                    password_hash="x",
                    created_at=start,
                )
                for i in range(200)
            ],
            batch_size=500,
        )
        customers = await Customer.all().order_by("id")
        reader, sender = customers[0], customers[1]
        views = await StoreView.all().order_by("id")
        groups = [None, *await CustomerGroup.all().order_by("id")]
        statuses = [InvitationStatus.SENT] * 4 + [
            InvitationStatus.NOT_SENT,
            InvitationStatus.ACCEPTED,
            InvitationStatus.CANCELED,
        ]
        messages = [None, "Join us!", 'Välkommen — "private sale" 🎉\nSee you', None]
        rows = []
        for i in range(INVITATIONS):
            created = start + timedelta(minutes=7 * i, microseconds=1000 * (i % 7))
            status = statuses[i % len(statuses)]
            view = views[i % len(views)]
            group = groups[i % len(groups)]
            inviter = reader if i % 166 == 0 else customers[2 + i % 198] if i % 5 else None
            accepted = status is InvitationStatus.ACCEPTED
            rows.append(
                Invitation(
                    email=f"friend{i}@bench.example",
                    email_key=f"friend{i}@bench.example",
                    message=messages[i % len(messages)],
                    status=status,
                    created_at=created,
                    updated_at=created,
                    sent_at=None if status is InvitationStatus.NOT_SENT else created,
                    accepted_at=created + timedelta(days=1) if accepted else None,
                    # Some open invitations have expired: they read EXPIRED.
                    expires_at=created + timedelta(days=30) if i % 3 == 0 else None,
                    store_view_id=view.id,
                    website_id=view.website_id,
                    invitee_group_id=group.id if group is not None else None,
                    inviter_id=inviter.id if inviter is not None else None,
                    invitee_id=customers[100 + i % 100].id if accepted else None,
                    code_nonce=new_nonce(),
                    delivery_state=(
                        DeliveryState.QUEUED
                        if status is InvitationStatus.NOT_SENT
                        else DeliveryState.DELIVERED
                    ),
                )
            )
        await Invitation.bulk_create(rows, batch_size=1000)
        admin = await AdminUser.create(
            username="bench", password_hash="x", permissions=["INVITATIONS"], created_at=start
        )
        ttl = 24 * 3600
        return {
            "customer": (await issue_token(customer=reader, ttl_seconds=ttl)).token,
            "sender": (await issue_token(customer=sender, ttl_seconds=ttl)).token,
            "admin": (await issue_token(admin=admin, ttl_seconds=ttl)).token,
        }
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(seed(sys.argv[1]))))
