"""The demo store of docs/contract/OPERATIONS.md, and admin users from the command line."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.transactions import in_transaction

from domain.clock import utcnow
from domain.errors import InvalidInput
from domain.passwords import hash_password
from domain.validation import check_password_strength, has_control_characters
from models.accounts import AdminUser, Permission
from models.store import CustomerGroup, StoreView, Website

DEMO_GROUPS = ("General", "Wholesale", "Retailer")
DEMO_STORE_VIEWS = (
    # code, name, locale, sort order
    ("default", "Default Store View", "en_US", 0),
    ("sv", "Svenska", "sv_SE", 1),
    ("zh", "中文", "zh_CN", 2),
)
DEMO_BASE_URL = "http://localhost:3000/"


async def seed_demo() -> None:
    """Website `base`, three store views and three groups; running it again changes nothing."""
    async with in_transaction():
        groups = [(await CustomerGroup.get_or_create(code=code))[0] for code in DEMO_GROUPS]
        website, _ = await Website.get_or_create(
            code="base", defaults={"name": "Main Website", "default_group_id": groups[0].id}
        )
        has_default = await StoreView.filter(is_default=True).exists()
        for code, name, locale, order in DEMO_STORE_VIEWS:
            await StoreView.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "locale": locale,
                    "website_id": website.id,
                    "base_url": DEMO_BASE_URL if code == "default" else f"{DEMO_BASE_URL}{code}/",
                    "is_default": code == "default" and not has_default,
                    "sort_order": order,
                },
            )


async def create_admin(
    *, username: str, password: str, permissions: Iterable[Permission], password_profile: str
) -> AdminUser:
    """A new admin user, or the existing one with a new password and these permissions."""
    username = username.strip()
    if not username or len(username) > 64 or has_control_characters(username):
        raise InvalidInput("The username must be 1 to 64 printable characters.")
    check_password_strength(password)
    password_hash = await hash_password(password, profile=password_profile)
    granted = sorted({p.value for p in permissions})
    admin, created = await AdminUser.get_or_create(
        username=username,
        defaults={"password_hash": password_hash, "permissions": granted, "created_at": utcnow()},
    )
    if not created:
        admin.password_hash = password_hash
        admin.permissions = granted
        admin.is_active = True
        await admin.save(update_fields=["password_hash", "permissions", "is_active"])
    return admin
