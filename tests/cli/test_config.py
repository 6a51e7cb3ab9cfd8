"""`invitations config apply` and `config export`, run as separate processes against the test
database (SQLite file, or PostgreSQL under .ci/with-postgres); each test starts from the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.demo import seed_demo
from domain.identities import sender_for
from domain.invitation_settings import EmailIdentity, for_store_view
from models.config_values import ConfigValue
from models.store import CustomerGroup, EmailTemplate, StoreView, Website
from tests.cli.test_main import ROOT, run_cli

EXAMPLE = ROOT / "docs" / "contract" / "store-config.example.toml"

WITH_FILES = """
[[customer_groups]]
code = "VIP"

[[websites]]
code = "eu"
name = "EU Website"
default_group = "VIP"

[[store_views]]
code = "de"
name = "Deutsch"
website = "eu"
locale = "de_DE"
base_url = "https://eu.shop.example/de/"
sort_order = 3

[settings.store_views.de]
email_template = "vip_invite"
lifetime_days = "none"

[[templates]]
code = "vip_invite"
name = "VIP invitation"

[templates.variants.en_US]
subject = "Welcome to {{ store_name }}"
text_file = "templates/en_US.txt"
html_file = "templates/en_US.html"
"""
EN_TEXT = "Hello,\n\njoin us: {{ invitation_url }}\n"
EN_HTML = '<p>Hello,</p>\n<p><a href="{{ invitation_url }}">Join us</a></p>\n'

INVALID = """
[[customer_groups]]
code = "Gold"

[[websites]]
code = "EU"
name = "EU Website"
default_group = "Platinum"

[[store_views]]
code = "fr"
name = "Français"
website = "base"
locale = "fr_FR"
base_url = "https://shop.example/fr"

[[store_views]]
code = "it"
name = "Italiano"
website = "nowhere"
locale = "it_IT"
base_url = "ftp://shop.example/it/"
default = "yes"

[settings.default]
max_invitations_per_send = 0
colour = "red"

[senders.default.general]
name = "Shop"
email = "not an address"

[[templates]]
code = "broken"
name = "Broken"

[templates.variants.en_US]
subject = "Hi"
text_file = "broken.txt"
html = "<p>{{ invitation_url }}</p>"
"""
BROKEN_TEXT = "Hello\n{% for x in range(3) %}\n{{ invitation_url }}\n"
INVALID_LINES = [
    "websites[0].code: A code is 1 to 64 of a-z, 0-9 and _.",
    "websites[0].default_group: There is no customer group 'Platinum' in the file or the store.",
    "store_views[0].base_url: A base URL ends in /.",
    "store_views[1].base_url: not an absolute http(s) URL",
    "store_views[1].default: must be true or false",
    "store_views[1].website: There is no website 'nowhere' in the file or the store.",
    "settings.default.max_invitations_per_send: The value must be between 1 and 1000.",
    "settings.default.colour: unknown key;",
    "senders.default.general.email: This is not a valid e-mail address",
    "templates[0].variants.en_US.text_file: Variant en_US, text, line 3:",
]


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row the store setup consists of."""
    return {
        model.__name__: await model.all().order_by("id").values()
        for model in (CustomerGroup, Website, StoreView, ConfigValue, EmailTemplate)
    }


def write(directory: Path, text: str, files: dict[str, str] | None = None) -> Path:
    """A config file (and the files beside it that it names) in `directory`."""
    for name, content in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    config = directory / "store.toml"
    config.write_text(text)
    return config


TEMPLATE_FILES = {"templates/en_US.txt": EN_TEXT, "templates/en_US.html": EN_HTML}


async def test_the_example_file_sets_up_a_website_store_view_settings_senders_and_a_template(
    database_url: str,
) -> None:
    code, output = await run_cli(database_url, "config", "apply", str(EXAMPLE))

    assert code == 0, output
    assert "create store view de" in output
    assert "Applied 9 changes." in output
    de = await StoreView.get(code="de")
    assert (de.name, de.locale, de.base_url) == ("Deutsch", "de_DE", "https://eu.shop.example/de/")
    assert (
        de.invitation_url("c0de") == "https://eu.shop.example/de/konto/registrieren?einladung=c0de"
    )
    assert not de.is_default
    assert (await Website.get(id=de.website_id)).code == "eu"
    settings = await for_store_view(de)
    assert (settings.email_template, settings.allow_custom_message) == ("vip_invite", False)
    assert (settings.lifetime_days, settings.max_invitations_per_send) == (30, 10)
    sender = await sender_for(de, EmailIdentity.GENERAL)
    assert (sender.name, sender.email) == ("Example Shop DE", "hallo@shop.example")
    template = await EmailTemplate.get(code="vip_invite")
    assert [v["locale"] for v in template.variants] == ["en_US", "de_DE"]  # type: ignore[attr-defined]


async def test_templates_are_read_from_files_beside_the_config_file(
    database_url: str, tmp_path: Path
) -> None:
    config = write(tmp_path, WITH_FILES, TEMPLATE_FILES)

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 0, output
    template = await EmailTemplate.get(code="vip_invite")
    assert template.variants == [  # type: ignore[attr-defined]
        {
            "locale": "en_US",
            "subject": "Welcome to {{ store_name }}",
            "text": EN_TEXT,
            "html": EN_HTML,
        }
    ]
    de = await StoreView.get(code="de")
    settings = await for_store_view(de)
    assert (settings.email_template, settings.lifetime_days, de.sort_order) == (
        "vip_invite",
        None,
        3,
    )
    assert (await Website.get(code="eu")).default_group_id == (
        await CustomerGroup.get(code="VIP")
    ).id


async def test_an_invalid_file_lists_every_problem_at_its_place_and_applies_nothing(
    database_url: str, tmp_path: Path
) -> None:
    config = write(tmp_path, INVALID, {"broken.txt": BROKEN_TEXT})
    before = await snapshot()

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 1, output
    lines = output.splitlines()
    for expected in INVALID_LINES:
        assert any(line.startswith(expected) for line in lines), (expected, output)
    assert lines[-1] == f"Nothing applied: {len(lines) - 1} problems."
    assert len(lines) - 1 == len(INVALID_LINES)
    assert await snapshot() == before  # not even the valid customer group "Gold"


async def test_a_file_that_is_not_toml_is_refused_with_its_line(
    database_url: str, tmp_path: Path
) -> None:
    config = write(tmp_path, '[[websites]]\ncode = "eu\n')

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 1, output
    assert f"{config}: not valid TOML: " in output
    assert "line 2" in output


async def test_applying_a_file_twice_changes_nothing_the_second_time(database_url: str) -> None:
    await run_cli(database_url, "config", "apply", str(EXAMPLE))
    before = await snapshot()

    code, output = await run_cli(database_url, "config", "apply", str(EXAMPLE))

    assert code == 0, output
    assert "Nothing to change: the store already matches" in output
    assert await snapshot() == before


async def test_a_dry_run_prints_the_changes_and_writes_nothing(database_url: str) -> None:
    before = await snapshot()

    code, output = await run_cli(database_url, "config", "apply", "--dry-run", str(EXAMPLE))

    assert code == 0, output
    assert "create website eu" in output
    assert "set settings at store view de: allow_custom_message, email_template" in output
    assert "Dry run: 9 changes, nothing written." in output
    assert await snapshot() == before


async def test_an_export_applied_changes_nothing(database_url: str, tmp_path: Path) -> None:
    await run_cli(database_url, "config", "apply", str(EXAMPLE))
    code, exported = await run_cli(database_url, "config", "export")
    assert code == 0, exported
    config = write(tmp_path, exported)
    before = await snapshot()

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 0, output
    assert "Nothing to change" in output
    assert await snapshot() == before
    assert "lifetime_days = 30" in exported
    assert "[senders.store_views.de.general]" in exported


async def test_an_export_recreates_the_setup_on_an_empty_store(
    database_url: str, tmp_path: Path
) -> None:
    await run_cli(database_url, "config", "apply", str(write(tmp_path, WITH_FILES, TEMPLATE_FILES)))
    _, exported = await run_cli(database_url, "config", "export")
    setup = await snapshot()
    for model in (ConfigValue, EmailTemplate, StoreView, Website, CustomerGroup):
        await model.all().delete()

    code, output = await run_cli(database_url, "config", "apply", str(write(tmp_path, exported)))

    assert code == 0, output
    assert _without_ids(await snapshot()) == _without_ids(setup)


def _without_ids(setup: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Rows compared by what they say: ids, references by id and times differ after re-creating."""
    dropped = ("id", "updated_at")
    return {
        name: sorted(
            (
                {k: v for k, v in row.items() if k not in dropped and not k.endswith("_id")}
                for row in rows
            ),
            key=repr,
        )
        for name, rows in setup.items()
    }


async def test_the_default_store_view_moves_when_the_file_says_so(
    database_url: str, tmp_path: Path
) -> None:
    config = write(tmp_path, '[[store_views]]\ncode = "sv"\ndefault = true\n')

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 0, output
    assert "update store view sv: default" in output
    assert [v.code for v in await StoreView.filter(is_default=True)] == ["sv"]


async def test_the_only_default_cannot_be_unset_without_naming_another(
    database_url: str, tmp_path: Path
) -> None:
    config = write(tmp_path, '[[store_views]]\ncode = "default"\ndefault = false\n')

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 1, output
    assert "store_views[0].default: Exactly one store view is the default" in output
    assert [v.code for v in await StoreView.filter(is_default=True)] == ["default"]


async def test_a_store_view_cannot_move_to_another_website(
    database_url: str, tmp_path: Path
) -> None:
    await run_cli(database_url, "config", "apply", str(EXAMPLE))
    config = write(tmp_path, '[[store_views]]\ncode = "sv"\nwebsite = "eu"\n')

    code, output = await run_cli(database_url, "config", "apply", str(config))

    assert code == 1, output
    assert "store_views[0].website: A store view stays in its website" in output


async def test_seed_demo_creates_what_is_missing_and_keeps_what_was_changed() -> None:
    sv = await StoreView.get(code="sv")
    sv.base_url = "https://shop.example/sv/"
    await sv.save()
    await StoreView.filter(code="zh").delete()

    await seed_demo()

    assert (await StoreView.get(code="sv")).base_url == "https://shop.example/sv/"
    zh = await StoreView.get(code="zh")
    assert (zh.name, zh.locale, zh.base_url, zh.sort_order) == (
        "中文",
        "zh_CN",
        "http://localhost:3000/zh/",
        2,
    )
    assert [v.code for v in await StoreView.filter(is_default=True)] == ["default"]
