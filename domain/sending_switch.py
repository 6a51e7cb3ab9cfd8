"""The global switch that stops all invitation e-mail at once.

Kept in the database (a default-scope ConfigValue), so one command pauses every mailer process
and worker within a poll interval, without a restart. INVITATIONS_SENDING_PAUSED=true pauses a
process regardless of the database.
"""

from __future__ import annotations

from models.config_values import ConfigValue

PATH = "mailer/sending_paused"


async def is_paused() -> bool:
    row = await ConfigValue.get_or_none(scope="default", scope_id=0, path=PATH)
    return bool(row is not None and row.value)


async def set_paused(paused: bool) -> None:
    await ConfigValue.update_or_create(
        scope="default", scope_id=0, path=PATH, defaults={"value": paused}
    )
