"""Invitation e-mail templates: the built-in one and a store's own, rendered in a sandbox.

A template has one variant per locale (subject, text, html); a store view uses the variant of
its locale, else en_US. The built-in template is read from mailer/templates/ and cannot be
changed. A store's templates are rows of `EmailTemplate`.

Templates are Jinja2 in `jinja2.sandbox` (no attribute access to Python internals, no imports,
autoescape in html) with the documented variables only. Whoever may save a template is trusted
less than the mailer that renders it, so rendering is bounded too: every loop iteration and call
counts against a budget, checked with a deadline; arithmetic that would build a huge value is
refused before it runs; string methods that pad or multiply are not reachable; and the output of
each part is cut off past a size. A template breaking a bound fails its render (`RenderError`),
which the mailer records as a failed e-mail, rather than stalling a worker.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr
from pathlib import Path
from types import TracebackType
from typing import Any

from babel.dates import format_date
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.clock import utcnow
from domain.errors import (
    DomainError,
    InUse,
    InvalidInput,
    NotAllowed,
    NotFound,
    Refused,
    TemplateInvalid,
)
from domain.identities import sender_for
from domain.ids import parse_id
from domain.invitation_settings import BUILT_IN_TEMPLATE, PREFIX, for_store_view
from domain.stores import check_locale, check_name
from models.config_values import ConfigValue
from models.store import EmailTemplate, StoreView

BUILT_IN_DIRECTORY = (
    Path(__file__).resolve().parents[1] / "mailer" / "templates" / BUILT_IN_TEMPLATE
)
BUILT_IN_NAME = "Invitation (built-in)"
FALLBACK_LOCALE = "en_US"
VARIABLES = (
    "invitation_url",
    "store_name",
    "inviter_name",
    "message",
    "invitee_email",
    "expires_at",
)
PARTS = ("subject", "text", "html")
MAX_SOURCE = 50_000  # characters of one part
MAX_OUTPUT = 200_000  # characters one part may render
MAX_VALUE = 100_000  # characters (or items) of a value built while rendering
MAX_STEPS = 20_000  # loop iterations and calls of one part's render
MAX_SECONDS = 0.5  # of one part's render
MAX_NUMBER = 10_000  # an argument of a call, or an exponent
MAX_VARIANTS = 50

SAMPLE_URL = "https://shop.example/customer/account/create/?invitation=SAMPLE-code_0123456789"


@dataclass(frozen=True, slots=True)
class Variant:
    """One locale's subject, text and html."""

    locale: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    code: str
    name: str
    built_in: bool
    variants: tuple[Variant, ...]

    def variant_for(self, locale: str) -> Variant:
        """The variant of `locale`, else en_US, else the first."""
        by_locale = {v.locale: v for v in self.variants}
        return by_locale.get(locale) or by_locale.get(FALLBACK_LOCALE) or self.variants[0]


class RenderError(ValueError):
    """A template failed to render, or broke a bound; `line` is its line when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason, self.line = reason, line
        super().__init__(f"{reason} (line {line})" if line else reason)


# ---------------------------------------------------------------- the sandbox


@dataclass(slots=True)
class _Budget:
    steps: int
    deadline: float

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderError(f"more than {MAX_STEPS} loop iterations or calls")
        if time.monotonic() > self.deadline:
            raise RenderError(f"rendering took longer than {MAX_SECONDS} s")


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("template_budget")

# What a template may call on a string: nothing that pads, repeats or formats.
STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "endswith", "find", "isalnum", "isalpha", "isdigit",
        "islower", "isspace", "istitle", "isupper", "lower", "lstrip", "removeprefix",
        "removesuffix", "rfind", "rsplit", "rstrip", "split", "splitlines", "startswith",
        "strip", "swapcase", "title", "upper",
    }
)  # fmt: skip
FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
        "join", "last", "length", "list", "lower", "reverse", "round", "safe", "sort", "string",
        "striptags", "sum", "title", "trim", "truncate", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _check_size(value: object) -> object:
    if _size(value) > MAX_VALUE:
        raise RenderError(f"a value longer than {MAX_VALUE} characters")
    return value


def _bounded(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get()
    for item in iterable:
        budget.spend()
        yield item


def _nl2br(value: str) -> Markup:
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Markup.join escapes each line: the text stays plain, its line breaks visible.
    return Markup("<br>\n").join(lines)


def _replace(value: str, old: str, new: str) -> str:
    if _size(value) + value.count(old) * max(len(new) - len(old), 0) > MAX_VALUE:
        raise RenderError(f"a value longer than {MAX_VALUE} characters")
    return value.replace(old, new)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox with the bounds of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
        )
        self.filters = {name: f for name, f in self.filters.items() if name in FILTERS}
        self.filters.update(nl2br=_nl2br, replace=_replace, _bounded=_bounded)
        # range stays (bounded by the loop budget); lipsum, cycler, joiner and namespace go:
        # namespace would let a loop carry a growing value from one iteration to the next.
        self.globals = {"range": self.globals["range"]}

    def wrap_str_format(self, value: Any) -> None:
        # str.format and format_map are refused (padding multiplies), not made "safe".
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in STR_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and (abs(_number(right)) > 64 or abs(_number(left)) > MAX_NUMBER):
            raise RenderError("a power too large")
        if operator == "*" and (_size(left) or _size(right)):
            times = right if _size(left) else left
            if isinstance(times, int) and max(_size(left), _size(right)) * times > MAX_VALUE:
                raise RenderError(f"a value longer than {MAX_VALUE} characters")
        if operator == "+" and _size(left) + _size(right) > MAX_VALUE:
            raise RenderError(f"a value longer than {MAX_VALUE} characters")
        if operator == "%" and isinstance(left, str):
            raise RenderError("%-formatting is not available in templates")
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _budget.get().spend()
        for argument in (*args, *kwargs.values()):
            if isinstance(argument, int | float) and abs(argument) > MAX_NUMBER:
                raise RenderError(f"a number above {MAX_NUMBER} in a call")
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every loop's iterable goes through _bounded, which spends the budget per iteration.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_bounded", [], [], None, None, lineno=loop.lineno)
        return tree


def _number(value: object) -> float:
    return value if isinstance(value, int | float) else 0


_ENVIRONMENTS = {"text": _Sandbox(autoescape=False), "html": _Sandbox(autoescape=True)}


def _environment(part: str) -> _Sandbox:
    return _ENVIRONMENTS["html" if part == "html" else "text"]


@functools.lru_cache(maxsize=1024)
def compile_part(part: str, source: str) -> Template:
    """The compiled template of one part (cached by its source: an edit is a new entry)."""
    if len(source) > MAX_SOURCE:
        raise RenderError(f"longer than {MAX_SOURCE} characters")
    environment = _environment(part)
    try:
        tree = environment.parse(source)
        unknown = meta.find_undeclared_variables(tree) - set(VARIABLES) - set(environment.globals)
        for name_node in tree.find_all(nodes.Name):
            if name_node.name in unknown:
                raise RenderError(f"unknown variable {name_node.name!r}", name_node.lineno)
        return environment.from_string(source)
    except TemplateSyntaxError as error:  # also an unknown filter (TemplateAssertionError)
        raise RenderError(error.message or "syntax error", error.lineno) from None


@functools.lru_cache(maxsize=1024)
def variables_used(variant: Variant) -> frozenset[str]:
    """The documented variables the variant reads."""
    used: set[str] = set()
    for part in PARTS:
        tree = _environment(part).parse(getattr(variant, part))
        used |= meta.find_undeclared_variables(tree) & set(VARIABLES)
    return frozenset(used)


def _line_of(traceback: TracebackType | None) -> int | None:
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def render_part(part: str, source: str, values: Mapping[str, object]) -> str:
    """One part rendered within the bounds; RenderError when it fails or breaks one."""
    template = compile_part(part, source)
    token = _budget.set(_Budget(MAX_STEPS, time.monotonic() + MAX_SECONDS))
    try:
        pieces: list[str] = []
        size = 0
        for piece in template.generate(dict(values)):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise RenderError(f"renders more than {MAX_OUTPUT} characters")
            pieces.append(piece)
        return "".join(pieces)
    except RenderError as error:
        if error.line is None:
            error.line = _line_of(error.__traceback__)
        raise
    except (SecurityError, RecursionError, MemoryError, OverflowError) as error:
        raise RenderError(
            f"refused: {error or type(error).__name__}", _line_of(error.__traceback__)
        ) from None
    except Exception as error:
        raise RenderError(
            str(error) or type(error).__name__, _line_of(error.__traceback__)
        ) from None
    finally:
        _budget.reset(token)


def local_date(moment: datetime, locale: str) -> str:
    """A date as people of `locale` write it, e.g. "December 31, 2026" or "31. Dezember 2026"."""
    try:
        return str(format_date(moment.date(), format="long", locale=locale))
    except ValueError:  # a locale Babel does not know (the store setup refuses those)
        return str(format_date(moment.date(), format="long", locale=FALLBACK_LOCALE))


# ---------------------------------------------------------------- checking before saving


def sample_values(*, full: bool) -> dict[str, object]:
    return {
        "invitation_url": SAMPLE_URL,
        "store_name": "Sample <Store> & Co",
        "inviter_name": "Alice Example" if full else None,
        "message": "A message\nwith two lines & <tags>" if full else None,
        "invitee_email": "invitee@example.com",
        "expires_at": "December 31, 2026" if full else None,
    }


def check_variant(variant: Variant) -> list[DomainError]:
    """Every problem of a variant, each naming the part, the line and the reason."""
    errors: list[DomainError] = []
    for part in PARTS:
        source = getattr(variant, part)
        for full in (True, False):
            try:
                rendered = render_part(part, source, sample_values(full=full))
            except RenderError as error:
                where = f", line {error.line}" if error.line else ""
                message = f"Variant {variant.locale}, {part}{where}: {error.reason}."
                errors.append(TemplateInvalid(message, field=(part,)))
                break
            if part in ("text", "html") and full and SAMPLE_URL not in rendered:
                message = (
                    f"Variant {variant.locale}, {part}: it must show {{{{ invitation_url }}}}."
                )
                errors.append(TemplateInvalid(message, field=(part,)))
                break
    return errors


def check_template(code: str, name: str, variants: Sequence[Variant]) -> list[DomainError]:
    """Every problem of a template to save: code, name, each variant (at its index)."""
    errors: list[DomainError] = []
    if code == BUILT_IN_TEMPLATE:
        errors.append(NotAllowed("The built-in template cannot be changed.", field=("code",)))
    elif problem := _check_template_code(code):
        errors.append(InvalidInput(problem, field=("code",)))
    if problem := check_name(name):
        errors.append(InvalidInput(problem, field=("name",)))
    if not variants:
        errors.append(InvalidInput("A template needs at least one variant.", field=("variants",)))
    if len(variants) > MAX_VARIANTS:
        errors.append(InvalidInput(f"At most {MAX_VARIANTS} variants.", field=("variants",)))
    locales = {v.locale for v in variants}
    if variants and FALLBACK_LOCALE not in locales:
        errors.append(
            InvalidInput(
                f"The {FALLBACK_LOCALE} variant is the fallback: it is required.",
                field=("variants",),
            )
        )
    seen: set[str] = set()
    for index, variant in enumerate(variants):
        if variant.locale in seen:
            errors.append(
                InvalidInput("This locale appears twice.", field=("variants", index, "locale"))
            )
        seen.add(variant.locale)
        if problem := check_locale(variant.locale):
            errors.append(InvalidInput(problem, field=("variants", index, "locale")))
        for error in check_variant(variant):
            errors.append(error.at("variants", index, *(error.field or ())))
    return errors


def _check_template_code(code: str) -> str | None:
    if not re.fullmatch(r"[a-z0-9_]{1,64}", code):
        return "A template code is 1 to 64 of a-z, 0-9 and _."
    return None


# ---------------------------------------------------------------- reading and writing


@functools.cache
def built_in() -> StoredTemplate:
    variants = []
    for directory in sorted(BUILT_IN_DIRECTORY.iterdir()):
        if directory.is_dir():
            variants.append(
                Variant(
                    locale=directory.name,
                    subject=(directory / "subject.txt").read_text().strip(),
                    text=(directory / "body.txt").read_text(),
                    html=(directory / "body.html").read_text(),
                )
            )
    return StoredTemplate(BUILT_IN_TEMPLATE, BUILT_IN_NAME, True, tuple(variants))


def _from_row(row: EmailTemplate) -> StoredTemplate:
    variants = tuple(Variant(**v) for v in row.variants)  # type: ignore[attr-defined]
    return StoredTemplate(row.code, row.name, False, variants)


async def all_templates() -> list[StoredTemplate]:
    return [built_in()] + [_from_row(r) for r in await EmailTemplate.all().order_by("code")]


async def known_codes() -> set[str]:
    codes: list[str] = await EmailTemplate.all().values_list("code", flat=True)  # type: ignore[assignment]
    return {BUILT_IN_TEMPLATE, *codes}


async def find(code: str) -> StoredTemplate | None:
    if code == BUILT_IN_TEMPLATE:
        return built_in()
    row = await EmailTemplate.get_or_none(code=code)
    return _from_row(row) if row is not None else None


async def variant_for(code: str, locale: str) -> Variant:
    """What a store view with this template setting and locale sends (built-in if it is gone)."""
    template = await find(code) or built_in()
    return template.variant_for(locale)


async def write(code: str, name: str, variants: Sequence[Variant]) -> None:
    """Create or replace the template (already checked)."""
    stored = [
        {"locale": v.locale, "subject": v.subject, "text": v.text, "html": v.html} for v in variants
    ]
    await EmailTemplate.update_or_create(
        code=code, defaults={"name": name.strip(), "variants": stored, "updated_at": utcnow()}
    )


async def save(*, code: str, name: str, variants: Sequence[Variant]) -> StoredTemplate:
    """Check every variant (compile and test-render with sample values), then save, or refuse."""
    errors = check_template(code, name, variants)
    if errors:
        raise Refused(errors)
    try:
        async with in_transaction():
            await write(code, name, variants)
    except IntegrityError:  # two saves of a new code at once: the other one won
        raise Refused(
            [InvalidInput("Saved at the same time elsewhere: try again.", field=("code",))]
        ) from None
    found = await find(code)
    assert found is not None
    return found


async def users_of(code: str) -> int:
    """How many scopes select the template."""
    rows = await ConfigValue.filter(path=f"{PREFIX}email_template")
    return sum(1 for row in rows if row.value == code or row.value == json.dumps(code))


async def delete(*, code: str) -> None:
    if code == BUILT_IN_TEMPLATE:
        raise NotAllowed("The built-in template cannot be deleted.", field=("code",))
    async with in_transaction():
        if not await EmailTemplate.exists(code=code):
            raise NotFound(f"There is no template {code!r}.", field=("code",))
        if await users_of(code):
            raise InUse(
                "A settings scope selects this template: choose another there first.",
                field=("code",),
            )
        await EmailTemplate.filter(code=code).delete()


@dataclass(frozen=True, slots=True)
class Preview:
    sender: str
    subject: str
    text: str
    html: str


async def preview(*, template_code: str, store_view_id: str, message: str | None) -> Preview:
    """What an admin invitation from this store view would look like with this template."""
    template = await find(template_code)
    if template is None:
        raise NotFound(f"There is no template {template_code!r}.", field=("template_code",))
    store_view = await StoreView.get_or_none(id=parse_id(store_view_id, field=("store_view_id",)))
    if store_view is None:
        raise NotFound(f"There is no store view with id {store_view_id}.", field=("store_view_id",))
    settings = await for_store_view(store_view)
    sender = await sender_for(store_view, settings.email_sender_identity)
    lifetime = settings.lifetime_days
    values = {
        "invitation_url": store_view.invitation_url("SAMPLE-code"),
        "store_name": " ".join(store_view.name.split()),
        "inviter_name": None,
        "message": message.strip() if message and message.strip() else None,
        "invitee_email": "invitee@example.com",
        "expires_at": local_date(utcnow() + timedelta(days=lifetime), store_view.locale)
        if lifetime
        else None,
    }
    variant = template.variant_for(store_view.locale)
    try:
        parts = [render_part(part, getattr(variant, part), values) for part in PARTS]
    except RenderError as error:
        raise TemplateInvalid(
            f"Variant {variant.locale}: {error}.", field=("template_code",)
        ) from None
    return Preview(
        formataddr((sender.name, sender.email)), " ".join(parts[0].split()), parts[1], parts[2]
    )
