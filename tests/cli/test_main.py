"""The `invitations create-admin` command, run as a separate process against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from domain.passwords import verify_password
from models.accounts import AdminUser, Permission
from tests.helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    env = os.environ | {
        "INVITATIONS_DATABASE_URL": database_url,
        "INVITATIONS_PASSWORD_HASH_PROFILE": "cheapest",
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_without_permission_options_the_admin_gets_all_permissions(
    database_url: str,
) -> None:
    code, output = await run_cli(
        database_url, "create-admin", "--username", "boss", "--password", PASSWORD
    )

    assert code == 0, output
    admin = await AdminUser.get(username="boss")
    assert sorted(admin.permissions) == sorted(p.value for p in Permission)
    assert await verify_password(admin.password_hash, PASSWORD, profile="cheapest")


async def test_the_permissions_given_are_the_ones_stored(database_url: str) -> None:
    code, output = await run_cli(
        database_url,
        "create-admin",
        "--username",
        "analyst",
        "--password",
        PASSWORD,
        "--permission",
        "INVITATION_REPORTS",
        "--permission",
        "INVITATION_SETTINGS",
    )

    assert code == 0, output
    admin = await AdminUser.get(username="analyst")
    assert sorted(admin.permissions) == ["INVITATION_REPORTS", "INVITATION_SETTINGS"]


async def test_running_it_again_replaces_the_permissions(database_url: str) -> None:
    base = ("create-admin", "--username", "analyst", "--password", PASSWORD)
    await run_cli(database_url, *base, "--permission", "INVITATIONS")

    code, output = await run_cli(database_url, *base, "--permission", "INVITATION_REPORTS")

    assert code == 0, output
    assert (await AdminUser.get(username="analyst")).permissions == ["INVITATION_REPORTS"]


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (("--password", PASSWORD, "--permission", "EVERYTHING"), 2),
        (("--password", "weak"), 1),
    ],
)
async def test_a_bad_permission_or_password_is_refused_and_nothing_is_stored(
    database_url: str, args: tuple[str, ...], exit_code: int
) -> None:
    code, output = await run_cli(database_url, "create-admin", "--username", "boss", *args)

    assert code == exit_code, output
    assert not await AdminUser.filter(username="boss").exists()
