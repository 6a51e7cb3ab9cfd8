"""A store's setup as a file: read and check it whole, plan what differs, apply it; export it.

The file is TOML shaped like docs/contract/store-config.example.toml. Reading checks all of it
before anything is written: its shape here, its values with the very rules of the API
(domain/stores.py, identities.py, email_templates.py, settings_update.py), its references against
itself and the database. Every problem is a DomainError whose `field` is its place in the file,
e.g. ("store_views", 2, "base_url"), which `place()` writes as `store_views[2].base_url`; they are
raised together as `Refused`.

A plan compares the file with the database and holds only what differs, so a file applied twice
changes nothing the second time and an export applied changes nothing. Codes identify things;
what a file does not name is left as it is. Its steps run in one transaction, through the same
functions the API's mutations use. The TOML itself lives in store_config_toml.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from domain import email_templates, identities, invitation_settings, stores
from domain.errors import DomainError, DuplicateInput, InvalidInput, NotAllowed, NotFound, Refused
from domain.identities import Sender
from domain.invitation_settings import EmailIdentity, Scope, ScopeType
from domain.settings_update import check_changes
from models.store import CustomerGroup, StoreView, Website

Place = tuple[str | int, ...]

# What a file calls the things stores.py checks, where the names differ.
STORE_VIEW_FIELDS = {"is_default": "default"}


def place(where: Sequence[str | int]) -> str:
    """A place in the file as a reader finds it: `store_views[2].base_url`."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if part.replace("_", "").replace("-", "").isalnum() else f'"{part}"'
            text += f".{key}" if text else key
    return text


# ---------------------------------------------------------------- what a file says


@dataclass(frozen=True, slots=True)
class WebsiteSpec:
    index: int
    code: str
    name: str | None = None
    default_group: str | None = None


@dataclass(frozen=True, slots=True)
class StoreViewSpec:
    index: int
    code: str
    name: str | None = None
    website: str | None = None
    locale: str | None = None
    base_url: str | None = None
    invitation_url_template: str | None = None
    is_default: bool | None = None
    sort_order: int | None = None

    def values(self) -> dict[str, Any]:
        """The attributes a store view has, as given (None: not given)."""
        return {
            "name": self.name,
            "locale": self.locale,
            "base_url": self.base_url,
            "invitation_url_template": self.invitation_url_template,
            "is_default": self.is_default,
            "sort_order": self.sort_order,
        }


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """A settings or senders scope named by code ("" at the default scope)."""

    type: ScopeType
    code: str = ""

    def at(self, table: str) -> Place:
        if self.type is ScopeType.DEFAULT:
            return (table, "default")
        return (table, f"{self.type.value}s", self.code)

    def label(self) -> str:
        return (
            "default"
            if self.type is ScopeType.DEFAULT
            else f"{self.type.value.replace('_', ' ')} {self.code}"
        )


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    index: int
    code: str
    name: str
    variants: tuple[email_templates.Variant, ...]
    # (locale, part) → the key that gave it, when a file did ("text_file")
    from_files: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(slots=True)
class StoreConfig:
    """A file's content in Python terms, its shape already checked."""

    customer_groups: list[tuple[int, str]] = field(default_factory=list)
    websites: list[WebsiteSpec] = field(default_factory=list)
    store_views: list[StoreViewSpec] = field(default_factory=list)
    settings: dict[ScopeRef, dict[str, Any]] = field(default_factory=dict)
    senders: dict[ScopeRef, dict[EmailIdentity, Sender]] = field(default_factory=dict)
    templates: list[TemplateSpec] = field(default_factory=list)
    # What reading found wrong; planning adds its own and reports them all together.
    problems: list[DomainError] = field(default_factory=list)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Step:
    """One change: what it does, and the call that does it."""

    description: str
    run: Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def changes_nothing(self) -> bool:
        return not self.steps

    def describe(self) -> list[str]:
        return [step.description for step in self.steps]


async def plan(config: StoreConfig, *, only_missing: bool = False) -> Plan:
    """What applying `config` would change, or Refused with every problem of the file.

    `only_missing`: create what does not exist and change nothing that does (seed-demo).
    """
    state = await _State.load()
    errors: list[DomainError] = list(config.problems)
    steps: list[Step] = []
    steps += _plan_groups(config, state, errors)
    steps += await _plan_templates(config, only_missing, errors)
    steps += _plan_websites(config, state, only_missing, errors)
    steps += _plan_store_views(config, state, only_missing, errors)
    steps += await _plan_settings(config, state, only_missing, errors)
    steps += await _plan_senders(config, state, only_missing, errors)
    if errors:
        raise Refused(errors)
    return Plan(tuple(steps))


async def apply(config: StoreConfig, *, only_missing: bool = False) -> Plan:
    """Check `config`, then make the database match it in one transaction; what it changed."""
    async with in_transaction():
        # Planned inside the transaction, so that what it saw is what it changes.
        planned = await plan(config, only_missing=only_missing)
        for step in planned.steps:
            await step.run()
    return planned


@dataclass(slots=True)
class _State:
    groups: dict[str, CustomerGroup]
    websites: dict[str, Website]
    store_views: dict[str, StoreView]

    @classmethod
    async def load(cls) -> _State:
        return cls(
            {g.code: g for g in await CustomerGroup.all()},
            {w.code: w for w in await Website.all()},
            {v.code: v for v in await StoreView.all()},
        )

    def group_code(self, group_id: int) -> str:
        return next(code for code, g in self.groups.items() if g.id == group_id)

    def website_code(self, website_id: int) -> str:
        return next(code for code, w in self.websites.items() if w.id == website_id)

    def scope_of(self, ref: ScopeRef) -> Scope | None:
        """The scope in the database; None when the file creates its website or store view."""
        if ref.type is ScopeType.DEFAULT:
            return invitation_settings.DEFAULT_SCOPE
        rows: dict[str, Any] = self.websites if ref.type is ScopeType.WEBSITE else self.store_views
        row = rows.get(ref.code)
        return Scope(ref.type, row.id) if row is not None else None


def _duplicates(codes: list[tuple[int, str]], table: str, errors: list[DomainError]) -> None:
    seen: set[str] = set()
    for index, code in codes:
        if code in seen:
            errors.append(
                DuplicateInput(f"{code!r} appears more than once.", field=(table, index, "code"))
            )
        seen.add(code)


def _plan_groups(config: StoreConfig, state: _State, errors: list[DomainError]) -> list[Step]:
    _duplicates(config.customer_groups, "customer_groups", errors)
    steps = []
    for code in dict.fromkeys(code for _, code in config.customer_groups):
        if code not in state.groups:
            steps.append(
                Step(
                    f"create customer group {code}", _call(stores.create_customer_group, code=code)
                )
            )
    return steps


def _plan_websites(
    config: StoreConfig, state: _State, only_missing: bool, errors: list[DomainError]
) -> list[Step]:
    _duplicates([(w.index, w.code) for w in config.websites], "websites", errors)
    groups = set(state.groups) | {code for _, code in config.customer_groups}
    steps = []
    for spec in config.websites:
        at = ("websites", spec.index)
        if spec.default_group is not None and spec.default_group not in groups:
            errors.append(
                NotFound(
                    f"There is no customer group {spec.default_group!r} in the file or the store.",
                    field=(*at, "default_group"),
                )
            )
        row = state.websites.get(spec.code)
        if row is None:
            for key in ("name", "default_group"):
                if getattr(spec, key) is None:
                    errors.append(InvalidInput("A new website needs it.", field=(*at, key)))
            steps.append(Step(f"create website {spec.code}", _create_website(spec)))
            continue
        changed = {}
        if spec.name is not None and spec.name.strip() != row.name:
            changed["name"] = spec.name
        if spec.default_group is not None and spec.default_group != state.group_code(
            row.default_group_id
        ):
            changed["default_group"] = spec.default_group
        if changed and not only_missing:
            steps.append(
                Step(
                    f"update website {spec.code}: {', '.join(changed)}",
                    _update_website(row.id, changed),
                )
            )
    return steps


def _create_website(spec: WebsiteSpec) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        group = await CustomerGroup.get(code=spec.default_group)
        return await stores.create_website(
            code=spec.code, name=spec.name or "", default_group_id=str(group.id)
        )

    return run


def _update_website(website_id: int, changed: dict[str, str]) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        group_id = None
        if "default_group" in changed:
            group_id = str((await CustomerGroup.get(code=changed["default_group"])).id)
        return await stores.update_website(
            website_id=str(website_id), name=changed.get("name"), default_group_id=group_id
        )

    return run


def _plan_store_views(
    config: StoreConfig, state: _State, only_missing: bool, errors: list[DomainError]
) -> list[Step]:
    views = config.store_views
    _duplicates([(v.index, v.code) for v in views], "store_views", errors)
    websites = set(state.websites) | {w.code for w in config.websites}
    wanting = [v for v in views if v.is_default]
    for spec in wanting[1:]:
        errors.append(
            InvalidInput(
                f"Store view {wanting[0].code!r} is the default already in this file.",
                field=("store_views", spec.index, "default"),
            )
        )
    current_default = next((c for c, v in state.store_views.items() if v.is_default), None)
    creates: list[Step] = []
    updates: list[Step] = []
    for spec in views:
        at = ("store_views", spec.index)
        row = state.store_views.get(spec.code)
        # Filling in what is missing never moves the default away from where it is.
        wanted = spec.is_default and not (only_missing and current_default is not None)
        if not (only_missing and row is not None) and (
            problem := stores.check_default(
                wanted=wanted if spec.is_default is not None else None,
                is_default=row is not None and row.is_default,
                other_default=any(v is not spec for v in wanting)
                or current_default not in (None, spec.code),
            )
        ):
            errors.append(InvalidInput(problem, field=(*at, "default")))
        if spec.website is not None and spec.website not in websites:
            errors.append(
                NotFound(
                    f"There is no website {spec.website!r} in the file or the store.",
                    field=(*at, "website"),
                )
            )
        if row is None:
            for key in ("name", "website", "locale", "base_url"):
                if getattr(spec, key) is None:
                    errors.append(InvalidInput("A new store view needs it.", field=(*at, key)))
            step = Step(f"create store view {spec.code}", _create_store_view(spec, wanted))
            # The store view that becomes the default goes first: the others may rely on it.
            (creates.insert(0, step) if wanted else creates.append(step))
            continue
        if spec.website is not None and spec.website != state.website_code(row.website_id):
            errors.append(
                NotAllowed(
                    "A store view stays in its website: its customers and invitations belong "
                    "there. Create a new store view instead.",
                    field=(*at, "website"),
                )
            )
        changed = {
            key: value
            for key, value in spec.values().items()
            if value is not None and _differs(row, key, value)
        }
        if changed and not only_missing:
            names = ", ".join(STORE_VIEW_FIELDS.get(key, key) for key in changed)
            step = Step(f"update store view {spec.code}: {names}", _update_store_view(row, changed))
            (updates.insert(0, step) if changed.get("is_default") else updates.append(step))
    return creates + updates


def _differs(row: StoreView, key: str, value: Any) -> bool:
    current = getattr(row, key)
    return bool(value.strip() != current if key == "name" else value != current)


def _create_store_view(
    spec: StoreViewSpec, is_default: bool | None
) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        website = await Website.get(code=spec.website)
        return await stores.create_store_view(
            code=spec.code,
            name=spec.name or "",
            website_id=str(website.id),
            locale=spec.locale or "",
            base_url=spec.base_url or "",
            invitation_url_template=spec.invitation_url_template,
            is_default=is_default,
            sort_order=spec.sort_order,
        )

    return run


def _update_store_view(row: StoreView, changed: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    return _call(stores.update_store_view, store_view_id=str(row.id), **changed)


def _scopes_exist(
    refs: Sequence[ScopeRef], table: str, config: StoreConfig, state: _State
) -> list[DomainError]:
    in_file = {
        ScopeType.WEBSITE: {w.code for w in config.websites} | set(state.websites),
        ScopeType.STORE_VIEW: {v.code for v in config.store_views} | set(state.store_views),
    }
    errors: list[DomainError] = []
    for ref in refs:
        if ref.type is not ScopeType.DEFAULT and ref.code not in in_file[ref.type]:
            label = ref.type.value.replace("_", " ")
            errors.append(
                NotFound(
                    f"There is no {label} {ref.code!r} in the file or the store.",
                    field=ref.at(table),
                )
            )
    return errors


async def _plan_settings(
    config: StoreConfig, state: _State, only_missing: bool, errors: list[DomainError]
) -> list[Step]:
    errors += _scopes_exist(list(config.settings), "settings", config, state)
    templates = await email_templates.known_codes() | {t.code for t in config.templates}
    steps = []
    for ref, values in config.settings.items():
        for error in check_changes(ref.type, values, templates=templates):
            errors.append(error.at(*ref.at("settings"), *(error.field or ())))
        scope = state.scope_of(ref)
        stored = await invitation_settings.stored_at(scope) if scope else {}
        changed = {
            name: value
            for name, value in values.items()
            if (name not in stored if only_missing else stored.get(name, ...) != value)
        }
        if changed:
            steps.append(
                Step(
                    f"set settings at {ref.label()}: {', '.join(changed)}",
                    _write_at(ref, invitation_settings.write, changed),
                )
            )
    return steps


async def _plan_senders(
    config: StoreConfig, state: _State, only_missing: bool, errors: list[DomainError]
) -> list[Step]:
    errors += _scopes_exist(list(config.senders), "senders", config, state)
    steps = []
    for ref, senders in config.senders.items():
        scope = state.scope_of(ref)
        stored = await identities.stored_at(scope) if scope else {}
        changed = {
            identity: sender
            for identity, sender in senders.items()
            if (identity not in stored if only_missing else stored.get(identity) != sender)
        }
        if changed:
            names = ", ".join(identity.value.lower() for identity in changed)
            steps.append(
                Step(
                    f"set senders at {ref.label()}: {names}",
                    _write_at(ref, identities.write_senders, changed),
                )
            )
    return steps


def _write_at(
    ref: ScopeRef, write: Callable[[Scope, Any], Awaitable[None]], values: dict[Any, Any]
) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        scope = invitation_settings.DEFAULT_SCOPE
        if ref.type is ScopeType.WEBSITE:
            scope = Scope(ref.type, (await Website.get(code=ref.code)).id)
        elif ref.type is ScopeType.STORE_VIEW:
            scope = Scope(ref.type, (await StoreView.get(code=ref.code)).id)
        await write(scope, values)
        return None

    return run


async def _plan_templates(
    config: StoreConfig, only_missing: bool, errors: list[DomainError]
) -> list[Step]:
    _duplicates([(t.index, t.code) for t in config.templates], "templates", errors)
    steps = []
    for spec in config.templates:
        stored = await email_templates.find(spec.code)
        if stored is not None and (
            only_missing or (stored.name, stored.variants) == (spec.name.strip(), spec.variants)
        ):
            continue
        verb = "create" if stored is None else "update"
        steps.append(
            Step(
                f"{verb} e-mail template {spec.code}",
                _call(email_templates.write, spec.code, spec.name, spec.variants),
            )
        )
    return steps


def _call(
    function: Callable[..., Awaitable[object]], *args: Any, **kwargs: Any
) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        return await function(*args, **kwargs)

    return run
