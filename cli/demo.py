"""The demo store of docs/contract/OPERATIONS.md, and admin users from the command line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from domain import store_config, store_config_toml
from domain.clock import utcnow
from domain.errors import InvalidInput
from domain.passwords import hash_password
from domain.validation import check_password_strength, has_control_characters
from models.accounts import AdminUser, Permission

DEMO_FILE = Path(__file__).with_name("demo_store.toml")


async def seed_demo() -> None:
    """Website `base`, three store views and three groups (cli/demo_store.toml): what is missing
    is created, what exists is left as it is, so running it again changes nothing."""
    await store_config.apply(store_config_toml.load(DEMO_FILE), only_missing=True)


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
