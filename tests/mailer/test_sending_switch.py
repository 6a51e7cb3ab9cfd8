"""The global kill switch: paused mailers claim nothing; resumed, they send what waited."""

from __future__ import annotations

from config import Settings
from domain import sending_switch
from mailer.worker import Mailer
from models.invitation import DeliveryState, Invitation
from tests.cli.test_main import run_cli
from tests.mailer.conftest import SmtpServer, configured, drain, make_invitation, make_mailer


async def test_the_switch_in_the_database_holds_the_queue_until_resumed(
    smtp: SmtpServer, mailer: Mailer, database_url: str
) -> None:
    await make_invitation("bob@example.com")
    code, output = await run_cli(database_url, "pause-sending")
    assert code == 0, output

    paused = await mailer.run_once()

    assert paused.claimed == 0
    assert smtp.received == []
    assert (await Invitation.get()).delivery_state is DeliveryState.QUEUED

    code, output = await run_cli(database_url, "resume-sending")
    assert code == 0, output
    await drain(mailer)

    assert len(smtp.received) == 1
    assert (await Invitation.get()).delivery_state is DeliveryState.DELIVERED


async def test_the_environment_pauses_one_process_whatever_the_database_says(
    smtp: SmtpServer, mailer_settings: Settings
) -> None:
    await make_invitation("bob@example.com")
    await sending_switch.set_paused(False)
    paused_process = make_mailer(configured(mailer_settings, sending_paused=True))

    result = await paused_process.run_once()
    await paused_process.transport.close()

    assert result.claimed == 0
    assert smtp.received == []
