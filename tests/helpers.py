"""Plain helpers and factories for the tests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from domain.clock import utcnow
from domain.passwords import hash_password
from domain.tokens import issue_token
from domain.validation import email_key
from models.accounts import AdminUser, Customer, Permission
from models.store import StoreView, Website

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "Correct-horse-9"


@dataclass
class GraphQLClient:
    """Posts GraphQL documents to /graphql and returns the decoded body (status must be 200)."""

    http: httpx.AsyncClient

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        store: str | None = None,
        expect_status: int = 200,
    ) -> dict[str, Any]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if store is not None:
            headers["Store"] = store
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == expect_status, response.text
        body: dict[str, Any] = response.json()
        return body


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


async def default_website() -> Website:
    return await Website.get(code="base")


async def store_view(code: str = "default") -> StoreView:
    return await StoreView.get(code=code)


async def make_customer(
    email: str = "alice@example.com",
    *,
    password: str = PASSWORD,
    firstname: str = "Alice",
    lastname: str = "Doe",
    website: Website | None = None,
    group_code: str | None = None,
) -> Customer:
    website = website or await default_website()
    from models.store import CustomerGroup

    group_id = (
        (await CustomerGroup.get(code=group_code)).id if group_code else website.default_group_id
    )
    return await Customer.create(
        website_id=website.id,
        group_id=group_id,
        email=email,
        email_key=email_key(email),
        firstname=firstname,
        lastname=lastname,
        password_hash=await hash_password(password, profile="cheapest"),
        created_at=utcnow(),
    )


async def customer_token(customer: Customer, ttl_seconds: int = 3600) -> str:
    return (await issue_token(customer=customer, ttl_seconds=ttl_seconds)).token


async def make_admin(
    username: str = "root", *, permissions: list[Permission] | None = None, password: str = PASSWORD
) -> AdminUser:
    granted = list(Permission) if permissions is None else permissions
    return await AdminUser.create(
        username=username,
        password_hash=await hash_password(password, profile="cheapest"),
        permissions=[p.value for p in granted],
        created_at=utcnow(),
    )


async def admin_token(admin: AdminUser, ttl_seconds: int = 3600) -> str:
    return (await issue_token(admin=admin, ttl_seconds=ttl_seconds)).token


def npm_installed(folder: Path, package: str) -> Path:
    """`folder` with its locked node packages (package-lock.json), installed on first use
    (`make test` installs them before the suites run side by side)."""
    assert shutil.which("node"), "node is needed (README)"
    assert shutil.which("npm"), "npm is needed (README)"
    if not (folder / "node_modules" / package).is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=folder,
            check=True,
            timeout=300,
        )
    return folder
