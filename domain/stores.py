"""Store setup: websites, store views and customer groups, with the rules of SPEC §10.

Every change is checked whole first: each problem is a DomainError at its argument (`code`,
`base_url`, ...), all of them are raised together as `Refused`, and nothing is written then. The
checks of single values are plain functions, shared with the config file (domain/store_config.py).

Each process keeps store views in a short-lived cache (api/store_views.py). A change made here
bumps `generation()`, so the cache of this process drops what it holds at once; other processes
see the change when their entries expire.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.errors import AlreadyExists, DomainError, InvalidInput, NotFound, Refused
from domain.ids import parse_id
from domain.validation import has_control_characters
from models.store import DEFAULT_URL_TEMPLATE, CustomerGroup, StoreView, Website

CODE = re.compile(r"[a-z0-9_]{1,64}")
MAX_NAME = 255
MAX_URL = 1024
SAMPLE_CODE = "SAMPLEcode-_0123456789"

_generation = 0


def generation() -> int:
    """A number that changes whenever this process changes the store structure."""
    return _generation


def changed() -> None:
    """Tell this process's caches that the store structure changed."""
    global _generation
    _generation += 1


# ---------------------------------------------------------------- single values


def check_code(value: str) -> str | None:
    """Why `value` is not a website or store view code; None when it is one."""
    if not CODE.fullmatch(value):
        return "A code is 1 to 64 of a-z, 0-9 and _."
    return None


def check_group_code(value: str) -> str | None:
    if not value.strip() or len(value) > 64 or has_control_characters(value):
        return "A group code is 1 to 64 printable characters."
    if value != value.strip():
        return "A group code has no spaces at either end."
    return None


def check_name(value: str) -> str | None:
    if not value.strip() or len(value) > MAX_NAME or has_control_characters(value):
        return f"A name is 1 to {MAX_NAME} printable characters."
    return None


def check_locale(value: str) -> str | None:
    """Why the service cannot format dates and pick templates for `value` (e.g. de_DE)."""
    if not re.fullmatch(r"[a-z]{2,3}_[A-Z]{2}", value):
        return "A locale looks like de_DE: a language, an underscore, a country."
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        return f"{value} is not a locale the service can format dates for."
    return None


def _is_absolute_http(url: str) -> bool:
    if len(url) > MAX_URL or has_control_characters(url) or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_base_url(value: str) -> str | None:
    if not _is_absolute_http(value):
        return "not an absolute http(s) URL"
    if not value.endswith("/"):
        return "A base URL ends in /."
    return None


def check_url_template(value: str) -> str | None:
    if "{code}" not in value:
        return "The invitation URL template must contain {code}."
    leftover = value.replace("{base_url}", "").replace("{code}", "")
    if "{" in leftover or "}" in leftover:
        return "Only {base_url} and {code} may stand in braces."
    sample = value.replace("{base_url}", "https://shop.example/").replace("{code}", SAMPLE_CODE)
    if not _is_absolute_http(sample):
        return "The invitation URL template must give an absolute http(s) URL."
    return None


def check_default(*, wanted: bool | None, is_default: bool, other_default: bool) -> str | None:
    """Why a store view cannot take the default flag `wanted` (None: left as it is).

    `is_default`: it is the default now; `other_default`: another store view is, or becomes, it.
    """
    if is_default and wanted is False and not other_default:
        return "Exactly one store view is the default: make another one the default instead."
    if not is_default and not wanted and not other_default:
        return "Exactly one store view is the default: the first one must be it."
    return None


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "code": check_code,
    "name": check_name,
    "locale": check_locale,
    "base_url": check_base_url,
    "invitation_url_template": check_url_template,
}


def check_values(
    values: dict[str, Any], checks: dict[str, Callable[[Any], str | None]]
) -> list[DomainError]:
    """Errors for the given values (None: not given), each at its name."""
    errors: list[DomainError] = []
    for name, value in values.items():
        if value is None or name not in checks:
            continue
        problem = checks[name](value)
        if problem is not None:
            errors.append(InvalidInput(problem, field=(name,)))
    return errors


def _raise_any(errors: list[DomainError]) -> None:
    if errors:
        raise Refused(errors)


async def _find(model: type[Any], raw_id: str, *, field: str, label: str) -> Any:
    row = await model.get_or_none(id=parse_id(raw_id, field=(field,)))
    if row is None:
        raise NotFound(f"There is no {label} with id {raw_id}.", field=(field,))
    return row


async def _refs(
    errors: list[DomainError], lookups: list[tuple[type[Any], str | None, str, str]]
) -> list[Any]:
    """Rows named by ids (None: not given); a bad id adds its error."""
    found: list[Any] = []
    for model, raw_id, field, label in lookups:
        if raw_id is None:
            found.append(None)
            continue
        try:
            found.append(await _find(model, raw_id, field=field, label=label))
        except DomainError as error:
            errors.append(error)
            found.append(None)
    return found


# ---------------------------------------------------------------- customer groups


async def create_customer_group(*, code: str) -> CustomerGroup:
    problem = check_group_code(code)
    _raise_any([InvalidInput(problem, field=("code",))] if problem else [])
    if await CustomerGroup.exists(code=code):
        raise Refused([AlreadyExists(f"A customer group {code!r} exists.", field=("code",))])
    try:
        group = await CustomerGroup.create(code=code)
    except IntegrityError:
        raise Refused(
            [AlreadyExists(f"A customer group {code!r} exists.", field=("code",))]
        ) from None
    changed()
    return group


# ---------------------------------------------------------------- websites


async def create_website(*, code: str, name: str, default_group_id: str) -> Website:
    errors = check_values({"code": code, "name": name}, CHECKS)
    (group,) = await _refs(
        errors, [(CustomerGroup, default_group_id, "default_group_id", "customer group")]
    )
    if not errors and await Website.exists(code=code):
        errors.append(AlreadyExists(f"A website {code!r} exists.", field=("code",)))
    _raise_any(errors)
    try:
        website = await Website.create(code=code, name=name.strip(), default_group_id=group.id)
    except IntegrityError:
        raise Refused([AlreadyExists(f"A website {code!r} exists.", field=("code",))]) from None
    changed()
    return website


async def update_website(
    *, website_id: str, name: str | None = None, default_group_id: str | None = None
) -> Website:
    errors = check_values({"name": name}, CHECKS)
    website, group = await _refs(
        errors,
        [
            (Website, website_id, "website_id", "website"),
            (CustomerGroup, default_group_id, "default_group_id", "customer group"),
        ],
    )
    _raise_any(errors)
    if name is not None:
        website.name = name.strip()
    if group is not None:
        website.default_group_id = group.id
    await website.save()
    changed()
    return website


# ---------------------------------------------------------------- store views


async def create_store_view(
    *,
    code: str,
    name: str,
    website_id: str,
    locale: str,
    base_url: str,
    invitation_url_template: str | None = None,
    is_default: bool | None = False,
    sort_order: int | None = 0,
) -> StoreView:
    values = {
        "code": code,
        "name": name,
        "locale": locale,
        "base_url": base_url,
        "invitation_url_template": invitation_url_template,
    }
    errors = check_values(values, CHECKS)
    (website,) = await _refs(errors, [(Website, website_id, "website_id", "website")])
    if not errors and await StoreView.exists(code=code):
        errors.append(AlreadyExists(f"A store view {code!r} exists.", field=("code",)))
    has_default = await StoreView.filter(is_default=True).exists()
    if problem := check_default(wanted=is_default, is_default=False, other_default=has_default):
        errors.append(InvalidInput(problem, field=("is_default",)))
    _raise_any(errors)
    async with in_transaction():
        if is_default:
            await StoreView.filter(is_default=True).update(is_default=False)
        try:
            store_view = await StoreView.create(
                code=code,
                name=name.strip(),
                website_id=website.id,
                locale=locale,
                base_url=base_url,
                invitation_url_template=invitation_url_template or DEFAULT_URL_TEMPLATE,
                is_default=bool(is_default),
                sort_order=sort_order or 0,
            )
        except IntegrityError:
            raise Refused(
                [AlreadyExists(f"A store view {code!r} exists.", field=("code",))]
            ) from None
    changed()
    return store_view


async def update_store_view(
    *,
    store_view_id: str,
    name: str | None = None,
    locale: str | None = None,
    base_url: str | None = None,
    invitation_url_template: str | None = None,
    is_default: bool | None = None,
    sort_order: int | None = None,
) -> StoreView:
    """Change what is given. The links of later sends, retries and resends follow a new URL."""
    values = {
        "name": name,
        "locale": locale,
        "base_url": base_url,
        "invitation_url_template": invitation_url_template,
    }
    errors = check_values(values, CHECKS)
    (store_view,) = await _refs(errors, [(StoreView, store_view_id, "store_view_id", "store view")])
    # Exactly one store view is the default: when this one is not, another one is.
    if store_view is not None and (
        problem := check_default(
            wanted=is_default,
            is_default=store_view.is_default,
            other_default=not store_view.is_default,
        )
    ):
        errors.append(InvalidInput(problem, field=("is_default",)))
    _raise_any(errors)
    for attribute, value in values.items():
        if value is not None:
            setattr(store_view, attribute, value.strip() if attribute == "name" else value)
    if sort_order is not None:
        store_view.sort_order = sort_order
    async with in_transaction():
        if is_default and not store_view.is_default:
            await StoreView.filter(is_default=True).update(is_default=False)
            store_view.is_default = True
        await store_view.save()
    changed()
    return store_view
