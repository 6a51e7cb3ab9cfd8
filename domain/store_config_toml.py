"""The store-config file as TOML: read it into a StoreConfig (checking its shape and the values
the API's rules check without the database), and write the current setup in the same shape.

Kept apart from domain/store_config.py, which plans and applies a StoreConfig whatever it came
from. Reading is the standard library's tomllib; writing is tomli-w.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from types import NoneType
from typing import Any, get_args, get_type_hints

import tomli_w

from domain import email_templates, identities, invitation_settings, stores
from domain.errors import DomainError, InvalidInput, Refused
from domain.identities import Sender
from domain.invitation_settings import EmailIdentity, InvitationSettings, Scope, ScopeType
from domain.settings_update import NULLABLE
from domain.store_config import (
    Place,
    ScopeRef,
    StoreConfig,
    StoreViewSpec,
    TemplateSpec,
    WebsiteSpec,
)
from models.store import CustomerGroup, EmailTemplate, StoreView, Website

# A nullable setting's null ("no lifetime", "no quota"): TOML has no null.
NULL = "none"
INT32 = (-(2**31), 2**31 - 1)
TABLES = ("customer_groups", "websites", "store_views", "settings", "senders", "templates")
SCOPE_TABLES = {"websites": ScopeType.WEBSITE, "store_views": ScopeType.STORE_VIEW}
SETTING_TYPES = get_type_hints(InvitationSettings)


def load(path: Path) -> StoreConfig:
    """The config in the file at `path` (templates' files are found beside it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Refused([InvalidInput(f"cannot read the file: {error}", field=())]) from None
    return read(text, base_dir=path.parent)


def read(text: str, *, base_dir: Path) -> StoreConfig:
    """The config in `text`, with every problem of its shape and values in `problems` (what is
    wrong is left out, so that planning can still check the rest); Refused if it is not TOML."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Refused([InvalidInput(f"not valid TOML: {error}", field=())]) from None
    reader = _Reader(base_dir)
    config = reader.config(document)
    config.problems = reader.errors
    return config


class _Reader:
    """Reads one document, noting every problem at its place instead of stopping at the first."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.errors: list[DomainError] = []

    def problem(self, at: Place, message: str) -> None:
        self.errors.append(InvalidInput(message, field=at))

    def config(self, document: dict[str, Any]) -> StoreConfig:
        self.only(document, (), TABLES)
        config = StoreConfig()
        for index, table in self.tables(document, "customer_groups"):
            at = ("customer_groups", index)
            self.only(table, at, ("code",))
            code = self.text(table, at, "code", required=True)
            if code is not None:
                if problem := stores.check_group_code(code):
                    self.problem((*at, "code"), problem)
                config.customer_groups.append((index, code))
        for index, table in self.tables(document, "websites"):
            if (website := self.website(index, table)) is not None:
                config.websites.append(website)
        for index, table in self.tables(document, "store_views"):
            if (store_view := self.store_view(index, table)) is not None:
                config.store_views.append(store_view)
        config.settings = {
            ref: values
            for ref, table in self.scopes(document, "settings")
            if (values := self.settings(ref, table)) is not None
        }
        config.senders = {
            ref: senders
            for ref, table in self.scopes(document, "senders")
            if (senders := self.senders(ref, table)) is not None
        }
        for index, table in self.tables(document, "templates"):
            if (template := self.template(index, table)) is not None:
                config.templates.append(template)
        return config

    # ------------------------------------------------------------ shapes

    def only(self, table: dict[str, Any], at: Place, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.problem((*at, key), f"unknown key; the keys here are: {', '.join(allowed)}")

    def tables(self, document: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
        value = document.get(name, [])
        if not isinstance(value, list):
            self.problem((name,), f"must be an array of tables: [[{name}]]")
            return []
        found = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                found.append((index, item))
            else:
                self.problem((name, index), "must be a table")
        return found

    def table(self, value: object, at: Place) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(at, "must be a table")
        return None

    def text(self, table: dict[str, Any], at: Place, key: str, *, required: bool) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem((*at, key), "required")
            return None
        if not isinstance(value, str):
            self.problem((*at, key), "must be a string")
            return None
        return value

    def value(self, table: dict[str, Any], at: Place, key: str, kind: type) -> Any:
        value = table.get(key)
        if value is None:
            return None
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.problem((*at, key), "must be a whole number")
            return None
        if kind is int and not INT32[0] <= value <= INT32[1]:
            self.problem((*at, key), "out of range")
            return None
        if kind is bool and not isinstance(value, bool):
            self.problem((*at, key), "must be true or false")
            return None
        return value

    def checked(self, at: Place, values: dict[str, Any]) -> None:
        """The API's checks of single values (stores.CHECKS), at their places in the file."""
        for error in stores.check_values(values, stores.CHECKS):
            self.errors.append(error.at(*at, *(error.field or ())))

    # ------------------------------------------------------------ websites and store views

    def website(self, index: int, table: dict[str, Any]) -> WebsiteSpec | None:
        at = ("websites", index)
        self.only(table, at, ("code", "name", "default_group"))
        code = self.text(table, at, "code", required=True)
        name = self.text(table, at, "name", required=False)
        group = self.text(table, at, "default_group", required=False)
        self.checked(at, {"code": code, "name": name})
        return WebsiteSpec(index, code, name, group) if code is not None else None

    def store_view(self, index: int, table: dict[str, Any]) -> StoreViewSpec | None:
        at = ("store_views", index)
        strings = ("code", "name", "website", "locale", "base_url", "invitation_url_template")
        self.only(table, at, (*strings, "default", "sort_order"))
        values = {key: self.text(table, at, key, required=key == "code") for key in strings}
        self.checked(at, {k: v for k, v in values.items() if k != "website"})
        if values["code"] is None:
            return None
        return StoreViewSpec(
            index,
            values["code"],
            name=values["name"],
            website=values["website"],
            locale=values["locale"],
            base_url=values["base_url"],
            invitation_url_template=values["invitation_url_template"],
            is_default=self.value(table, at, "default", bool),
            sort_order=self.value(table, at, "sort_order", int),
        )

    # ------------------------------------------------------------ settings and senders

    def scopes(self, document: dict[str, Any], name: str) -> list[tuple[ScopeRef, dict[str, Any]]]:
        """`[name.default]`, `[name.websites.<code>]`, `[name.store_views.<code>]`."""
        top = self.table(document.get(name, {}), (name,))
        if top is None:
            return []
        self.only(top, (name,), ("default", *SCOPE_TABLES))
        found = []
        if "default" in top and (table := self.table(top["default"], (name, "default"))):
            found.append((ScopeRef(ScopeType.DEFAULT), table))
        for key, scope_type in SCOPE_TABLES.items():
            by_code = self.table(top.get(key, {}), (name, key)) or {}
            for code, value in by_code.items():
                if (table := self.table(value, (name, key, code))) is not None:
                    found.append((ScopeRef(scope_type, code), table))
        return found

    def settings(self, ref: ScopeRef, table: dict[str, Any]) -> dict[str, Any] | None:
        at = ref.at("settings")
        self.only(table, at, invitation_settings.SETTING_NAMES)
        values: dict[str, Any] = {}
        for name, value in table.items():
            if name not in invitation_settings.SETTING_NAMES:
                continue
            kinds = get_args(SETTING_TYPES[name]) or (SETTING_TYPES[name],)
            kind = next(k for k in kinds if k is not NoneType)
            if name in NULLABLE and value == NULL:
                values[name] = None
            elif isinstance(kind, type) and issubclass(kind, StrEnum):
                if isinstance(value, str) and value.upper() in kind.__members__:
                    values[name] = kind[value.upper()]
                else:
                    self.problem((*at, name), f"one of: {', '.join(kind.__members__)}")
            elif kind is str:
                if isinstance(value, str):
                    values[name] = value
                else:
                    self.problem((*at, name), "must be a string")
            elif kind is bool:
                if isinstance(value, bool):
                    values[name] = value
                else:
                    self.problem((*at, name), "must be true or false")
            elif isinstance(value, int) and not isinstance(value, bool):
                values[name] = value  # its bounds are check_changes' (domain/settings_update.py)
            else:
                null = f', or "{NULL}"' if name in NULLABLE else ""
                self.problem((*at, name), f"must be a whole number{null}")
        return values

    def senders(self, ref: ScopeRef, table: dict[str, Any]) -> dict[EmailIdentity, Sender] | None:
        at = ref.at("senders")
        names = [identity.value.lower() for identity in EmailIdentity]
        self.only(table, at, tuple(names))
        given: list[tuple[EmailIdentity, str, str]] = []
        for key in names:
            if key not in table or (sender := self.table(table[key], (*at, key))) is None:
                continue
            self.only(sender, (*at, key), ("name", "email"))
            name = self.text(sender, (*at, key), "name", required=True)
            email = self.text(sender, (*at, key), "email", required=True)
            if name is not None and email is not None:
                given.append((EmailIdentity(key.upper()), name, email))
        cleaned, errors = identities.check_senders(given)
        for error in errors:
            index, *rest = error.field or (0,)
            assert isinstance(index, int)
            self.errors.append(error.at(*at, given[index][0].value.lower(), *rest))
        return {given[i][0]: sender for i, sender in enumerate(cleaned)}

    # ------------------------------------------------------------ templates

    def template(self, index: int, table: dict[str, Any]) -> TemplateSpec | None:
        at = ("templates", index)
        self.only(table, at, ("code", "name", "variants"))
        code = self.text(table, at, "code", required=True)
        name = self.text(table, at, "name", required=True)
        by_locale = self.table(table.get("variants"), (*at, "variants"))
        if code is None or name is None or by_locale is None:
            return None
        before = len(self.errors)
        variants: list[email_templates.Variant] = []
        from_files: dict[tuple[str, str], str] = {}
        for locale, value in by_locale.items():
            variant_at = (*at, "variants", locale)
            part_table = self.table(value, variant_at)
            if part_table is None:
                continue
            self.only(part_table, variant_at, ("subject", "text", "text_file", "html", "html_file"))
            parts = {}
            for part in email_templates.PARTS:
                parts[part] = self.part(part_table, variant_at, part, from_files, locale)
            if None not in parts.values():
                variants.append(email_templates.Variant(locale=locale, **parts))  # type: ignore[arg-type]
        incomplete = len(self.errors) > before
        for error in email_templates.check_template(code, name, variants):
            if incomplete and error.field == ("variants",):
                continue  # about the variants left out, whose problems are listed already
            self.errors.append(error.at(*at, *_template_place(error, variants, from_files)))
        return TemplateSpec(index, code, name, tuple(variants), from_files)

    def part(
        self,
        table: dict[str, Any],
        at: Place,
        part: str,
        from_files: dict[tuple[str, str], str],
        locale: str,
    ) -> str | None:
        """A part inline, or (text and html) from a file beside the config file."""
        file_key = f"{part}_file"
        if part != "subject" and file_key in table:
            if part in table:
                self.problem((*at, file_key), f"give {part} or {file_key}, not both")
                return None
            relative = self.text(table, at, file_key, required=True)
            if relative is None:
                return None
            try:
                source = (self.base_dir / relative).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                self.problem((*at, file_key), f"cannot read {relative}: {error}")
                return None
            from_files[(locale, part)] = file_key
            return source
        return self.text(table, at, part, required=True)


def _template_place(
    error: DomainError,
    variants: list[email_templates.Variant],
    from_files: dict[tuple[str, str], str],
) -> Place:
    """Where in the file a problem that check_template found at `error.field` is."""
    where = error.field or ()
    if len(where) >= 2 and where[0] == "variants" and isinstance(where[1], int):
        locale = variants[where[1]].locale
        rest = tuple(where[2:])
        if rest and rest[0] != "locale":
            rest = (from_files.get((locale, str(rest[0])), rest[0]), *rest[1:])
        return ("variants", locale, *(r for r in rest if r != "locale"))
    return tuple(where)


# ---------------------------------------------------------------- export


async def export() -> str:
    """The current setup as a store-config file; applying it changes nothing."""
    groups = {g.id: g.code for g in await CustomerGroup.all().order_by("id")}
    websites = {w.id: w for w in await Website.all().order_by("id")}
    store_views = {v.id: v for v in await StoreView.all().order_by("sort_order", "id")}
    document: dict[str, Any] = {
        "customer_groups": [{"code": code} for code in groups.values()],
        "websites": [
            {"code": w.code, "name": w.name, "default_group": groups[w.default_group_id]}
            for w in websites.values()
        ],
        "store_views": [
            {
                "code": v.code,
                "name": v.name,
                "website": websites[v.website_id].code,
                "locale": v.locale,
                "base_url": v.base_url,
                "invitation_url_template": v.invitation_url_template,
                "default": v.is_default,
                "sort_order": v.sort_order,
            }
            for v in store_views.values()
        ],
    }
    scopes = [(ScopeRef(ScopeType.DEFAULT), invitation_settings.DEFAULT_SCOPE)]
    scopes += [
        (ScopeRef(ScopeType.WEBSITE, w.code), Scope(ScopeType.WEBSITE, i))
        for i, w in websites.items()
    ]
    scopes += [
        (ScopeRef(ScopeType.STORE_VIEW, v.code), Scope(ScopeType.STORE_VIEW, i))
        for i, v in store_views.items()
    ]
    for ref, scope in scopes:
        settings = await invitation_settings.stored_at(scope)
        if settings:
            _put(
                document,
                ref.at("settings"),
                {k: NULL if v is None else v for k, v in settings.items()},
            )
        senders = await identities.stored_at(scope)
        if senders:
            _put(
                document,
                ref.at("senders"),
                {i.value.lower(): {"name": s.name, "email": s.email} for i, s in senders.items()},
            )
    templates = await EmailTemplate.all().order_by("code")
    if templates:
        document["templates"] = [
            {
                "code": t.code,
                "name": t.name,
                "variants": {
                    v["locale"]: {part: v[part] for part in email_templates.PARTS}
                    for v in t.variants  # type: ignore[attr-defined]
                },
            }
            for t in templates
        ]
    header = "# The store's setup, written by `invitations config export`.\n\n"
    return header + tomli_w.dumps({k: v for k, v in document.items() if v}, multiline_strings=True)


def _put(document: dict[str, Any], at: Place, value: dict[str, Any]) -> None:
    for key in at[:-1]:
        document = document.setdefault(str(key), {})
    document[str(at[-1])] = value
