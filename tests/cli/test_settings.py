"""Settings are read when a command starts: refused ones are named one per line, secrets never
shown; Tortoise's own command line still finds its configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHORT_SECRET = "tiny-but-telling-secret-3141"


def run(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INVITATIONS_")}
    return subprocess.run(
        command,
        cwd=ROOT,
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_settings_are_named_one_line_each_without_the_secret() -> None:
    result = run(
        sys.executable,
        "-m",
        "cli",
        "serve",
        INVITATIONS_ENV="production",
        INVITATIONS_SECRET_KEY=SHORT_SECRET,
        INVITATIONS_SMTP_URL="smtp://mx.example.com:25",
        INVITATIONS_PORT="99999",
    )

    assert result.returncode == 2, result.stdout
    assert result.stdout.splitlines() == [
        "Configuration error: INVITATIONS_PORT: Input should be less than or equal to 65535",
        "Configuration error: INVITATIONS_SECRET_KEY must be set to a private value of at least "
        "32 characters in production",
    ]
    assert SHORT_SECRET not in result.stdout
    assert "Traceback" not in result.stdout


def test_importing_the_service_reads_no_settings() -> None:
    result = run(
        sys.executable,
        "-c",
        "import config, app, cli.main",
        INVITATIONS_ENV="production",
        INVITATIONS_SECRET_KEY=SHORT_SECRET,
        INVITATIONS_PORT="not a port",
    )

    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_tortoises_command_line_still_reads_the_configuration(tmp_path: Path) -> None:
    tortoise = Path(sys.executable).with_name("tortoise")
    database = f"sqlite://{tmp_path}/cli.sqlite3"

    result = run(str(tortoise), "history", INVITATIONS_DATABASE_URL=database)

    assert result.returncode == 0, result.stdout
    assert "(no applied migrations)" in result.stdout
    assert (tmp_path / "cli.sqlite3").exists()


def test_an_otel_exporter_nothing_provides_is_refused_before_serving() -> None:
    result = run(
        sys.executable,
        "-m",
        "cli",
        "serve",
        INVITATIONS_SECRET_KEY="a-private-secret-key-for-this-test-0123456789",
        OTEL_TRACES_EXPORTER="zipkin",
    )

    assert result.returncode == 2, result.stdout
    assert result.stdout.splitlines() == [
        "Configuration error: OTEL_TRACES_EXPORTER asks for 'zipkin', which no installed package"
        " provides (this service ships `otlp` over http/protobuf and `console`)."
    ]
