"""models.fields.DatetimeField reads what Tortoise's own field reads, to the tzinfo.

The fast path (`datetime.fromisoformat` on SQLite's text) is compared with Tortoise's
`DatetimeField.to_python_value` on the text Tortoise writes, on text in other shapes and on
hostile text, and every date-time column of the models is checked to use the project's field.
A row written and read back through the ORM on the test database (SQLite or PostgreSQL) keeps
its instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import iso8601
import pytest
from tortoise import Tortoise
from tortoise import fields as tortoise_fields

from domain.clock import utcnow
from models.accounts import Customer
from models.fields import DatetimeField
from models.invitation import Invitation
from tests.helpers import make_customer
from tests.invitation_factories import make_invitation

MOMENTS = [
    datetime(2026, 12, 2, 4, 21, 47, 6356, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(-timedelta(hours=11))),
]

TEXTS = [
    # What Tortoise's SQLite adapter writes, and what SQLite's CURRENT_TIMESTAMP writes.
    *(moment.isoformat(" ") for moment in MOMENTS),
    *(moment.isoformat() for moment in MOMENTS),
    "2026-12-02 04:21:47",
    "2026-12-02 04:21:47.5",
    "2026-12-02T04:21:47Z",
    "2026-12-02T04:21:47+0530",
    "2026-12-02",
    "20261202T042147Z",
]

HOSTILE = [
    "",
    " ",
    "not a date",
    "2026-13-01 00:00:00",
    "2026-02-30",
    "2026-12-02 25:00:00",
    "\x00",
]


def _same(ours: object, theirs: object) -> None:
    assert ours == theirs
    assert isinstance(ours, datetime)
    assert isinstance(theirs, datetime)
    assert ours.tzinfo == theirs.tzinfo
    assert ours.isoformat() == theirs.isoformat()


@pytest.mark.parametrize("text", TEXTS)
def test_text_reads_as_tortoise_reads_it(text: str) -> None:
    _same(
        DatetimeField().to_python_value(text), tortoise_fields.DatetimeField().to_python_value(text)
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_text_tortoise_refuses_is_refused_the_same_way(text: str) -> None:
    with pytest.raises(iso8601.ParseError) as theirs:
        tortoise_fields.DatetimeField().to_python_value(text)
    with pytest.raises(iso8601.ParseError) as ours:
        DatetimeField().to_python_value(text)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize(
    "value", [None, *MOMENTS, datetime(2026, 12, 2, 4, 0), 1_764_648_000], ids=repr
)
def test_other_values_go_to_tortoise(value: object) -> None:
    ours = DatetimeField().to_python_value(value)
    theirs = tortoise_fields.DatetimeField().to_python_value(value)
    if value is None:
        assert ours is None
        assert theirs is None
    else:
        _same(ours, theirs)


def test_every_date_time_column_uses_the_projects_field() -> None:
    columns = [
        f"{name}.{field_name}"
        for name, model in Tortoise.apps["models"].items()
        for field_name, field in model._meta.fields_map.items()
        if isinstance(field, tortoise_fields.DatetimeField)
    ]
    assert columns, "no date-time column found"
    others = [
        f"{name}.{field_name}"
        for name, model in Tortoise.apps["models"].items()
        for field_name, field in model._meta.fields_map.items()
        if isinstance(field, tortoise_fields.DatetimeField) and type(field) is not DatetimeField
    ]
    assert others == []


async def test_a_row_keeps_its_instants_through_the_database() -> None:
    customer = await make_customer("dates@example.com")
    now = utcnow()
    row = await make_invitation(customer, created_at=now, expires_at=now + timedelta(days=3))
    # An offset other than UTC, written through the ORM: it reads back as the same instant in UTC.
    elsewhere = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    await Invitation.filter(id=row.id).update(sent_at=elsewhere)
    read = await Invitation.get(id=row.id)
    assert read.created_at == now
    assert read.updated_at == now
    assert read.expires_at == now + timedelta(days=3)
    assert read.sent_at == elsewhere
    assert read.accepted_at is None
    for moment in (read.created_at, read.expires_at, read.sent_at):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)
    listed = await Invitation.filter(id=row.id).values("created_at", "sent_at")
    assert listed[0] == {"created_at": now, "sent_at": elsewhere}
    assert (await Customer.get(id=customer.id)).created_at == customer.created_at
