"""From claimed rows to the mails they stand for: the store data of a batch, looked up once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from domain.clock import utcnow
from domain.codes import code_for
from domain.email_templates import Variant, variant_for
from domain.identities import Sender, sender_for
from domain.invitation_settings import for_store_view
from mailer.message import InvitationMail
from mailer.outbox import Claimed
from models.accounts import Customer
from models.invitation import Invitation
from models.store import StoreView


@dataclass(frozen=True, slots=True)
class _StoreMail:
    store_view: StoreView
    sender: Sender
    variant: Variant


@dataclass(frozen=True, slots=True)
class Batch:
    """What a batch of claimed rows needs from the store: a few queries for the whole batch."""

    stores: dict[int, _StoreMail]
    inviters: dict[int, str]
    expiries: dict[int, datetime]
    secret: str

    def message_id(self, row: Claimed) -> str:
        """The row's Message-ID: the stored one for a retry, else a new one for this send."""
        if row.message_id:
            return row.message_id
        domain = self.stores[row.store_view_id].sender.email.rpartition("@")[2] or "localhost"
        # No idstring: a longer id would be folded onto a second header line.
        return make_msgid(domain=domain)

    def mail_for(self, row: Claimed, message_id: str) -> InvitationMail:
        store = self.stores[row.store_view_id]
        code = code_for(row.code_nonce, secret=self.secret)
        return InvitationMail(
            invitation_id=row.id,
            recipient=row.email,
            sender=store.sender,
            inviter_name=self.inviters.get(row.inviter_id) if row.inviter_id else None,
            message=row.message,
            url=store.store_view.invitation_url(code),
            store_name=store.store_view.name,
            locale=store.store_view.locale,
            message_id=message_id,
            date=utcnow(),
            variant=store.variant,
            expires_at=self.expiries.get(row.id),
        )


async def load(rows: Sequence[Claimed], *, secret: str) -> Batch:
    store_views = await StoreView.filter(id__in={row.store_view_id for row in rows})
    stores = {}
    for store_view in store_views:
        settings = await for_store_view(store_view)
        sender = await sender_for(store_view, settings.email_sender_identity)
        variant = await variant_for(settings.email_template, store_view.locale)
        stores[store_view.id] = _StoreMail(store_view, sender, variant)
    inviter_ids = {row.inviter_id for row in rows if row.inviter_id is not None}
    inviters = {
        customer.id: f"{customer.firstname} {customer.lastname}".strip()
        for customer in await Customer.filter(id__in=inviter_ids).only(
            "id", "firstname", "lastname"
        )
    }
    expiries = dict(
        await Invitation.filter(
            id__in=[row.id for row in rows], expires_at__isnull=False
        ).values_list("id", "expires_at")
    )
    return Batch(stores=stores, inviters=inviters, expiries=expiries, secret=secret)
