"""Fuzz /graphql with schemathesis against the real server on a throwaway SQLite database.

    .venv/bin/python -m tests.fuzz.run_fuzz [--seconds 25] [--seed 1]

Starts `invitations serve` on a free port (a migrated, seeded database in a temporary directory),
signs in a customer and an admin, then runs schemathesis three times (anonymously, as the
customer, as the admin), each for a bounded time. schemathesis counts every GraphQL error as a
failure; most are expected (validation errors, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED), so this
script judges its report instead: an HTTP 5xx, or an error with extensions.code INTERNAL (a masked
exception; the server also logs "unexpected error"), fails the run. Prints what ran and what it
found; exits 1 on a finding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "fuzz-secret-key-that-is-long-enough-0123456789"
PASSWORD = "Correct-horse-9"
ADMIN = "fuzz-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITATIONS_")}
    env.update(
        INVITATIONS_DATABASE_URL=f"sqlite://{tmp}/fuzz.sqlite3",
        INVITATIONS_SECRET_KEY=SECRET,
        INVITATIONS_PASSWORD_HASH_PROFILE="cheapest",
        INVITATIONS_PORT=str(port),
        INVITATIONS_MAIL_DIR=str(tmp / "mail"),
        INVITATIONS_MAILER_IN_PROCESS="false",
        # The limits work (tests/schema/test_abuse_limits.py); here they would only hide the
        # business logic behind RATE_LIMITED after a few dozen cases.
        INVITATIONS_RATE_LIMIT_SIGN_IN_PER_ADDRESS="1000000",
        INVITATIONS_RATE_LIMIT_SIGN_IN_PER_ACCOUNT="1000000",
        INVITATIONS_RATE_LIMIT_CREATE_CUSTOMER_PER_ADDRESS="1000000",
        INVITATIONS_RATE_LIMIT_CREATE_CUSTOMER_PER_ACCOUNT="1000000",
        INVITATIONS_RATE_LIMIT_CODE_LOOKUP_PER_ADDRESS="1000000",
        INVITATIONS_RATE_LIMIT_SEND_INVITATIONS_PER_ADDRESS="1000000",
        INVITATIONS_RATE_LIMIT_SEND_INVITATIONS_PER_ACCOUNT="1000000",
    )
    return env


def prepare_database(env: dict[str, str]) -> None:
    def cli(*args: str) -> None:
        subprocess.run(
            [str(BIN / "invitations"), *args], cwd=ROOT, env=env, check=True, capture_output=True
        )

    cli("migrate")
    cli("seed-demo")
    cli("create-admin", "--username", ADMIN, "--password", PASSWORD)


async def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit("the server exited before it was ready")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not come up within 30 s")


async def tokens(url: str) -> dict[str, str | None]:
    async with httpx.AsyncClient(base_url=url) as client:

        async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        await gql(
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }",
            {
                "i": {
                    "email": "fuzz@example.com",
                    "firstname": "Fuzz",
                    "lastname": "Er",
                    "password": PASSWORD,
                }
            },
        )
        customer = await gql(
            "mutation($e: String!, $p: String!) { generateCustomerToken(email: $e, password: $p)"
            " { customerToken { token } } }",
            {"e": "fuzz@example.com", "p": PASSWORD},
        )
        admin = await gql(
            "mutation($u: String!, $p: String!) { generateAdminToken(username: $u, password: $p)"
            " { token } }",
            {"u": ADMIN, "p": PASSWORD},
        )
    return {
        "anonymous": None,
        "customer": customer["data"]["generateCustomerToken"]["customerToken"]["token"],
        "admin": admin["data"]["generateAdminToken"]["token"],
    }


@dataclass
class Findings:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    # Errors without a code (GraphQL validation, variable coercion), by their first words.
    uncoded: Counter[str] = field(default_factory=Counter)
    bugs: list[str] = field(default_factory=list)


def judge(cassette: Path, findings: Findings) -> None:
    """Reads the run's HAR file: every request schemathesis sent, with its response."""
    har = json.loads(cassette.read_text())
    for entry in har["log"]["entries"]:
        findings.cases += 1
        status = entry["response"]["status"]
        findings.statuses[status] += 1
        text = entry["response"]["content"].get("text") or ""
        query = (entry["request"].get("postData") or {}).get("text", "")
        if status >= 500:
            findings.bugs.append(f"HTTP {status} for {query[:300]}")
            continue
        try:
            body = json.loads(text)
        except ValueError:
            continue
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or ():
            code = (error.get("extensions") or {}).get("code") or "GRAPHQL_VALIDATION"
            findings.error_codes[code] += 1
            if code == "GRAPHQL_VALIDATION":
                findings.uncoded[" ".join(str(error.get("message")).split()[:5])] += 1
            if code == "INTERNAL":
                findings.bugs.append(f"INTERNAL at {error.get('path')} for {query[:300]}")


def fuzz(url: str, role: str, token: str | None, seconds: int, seed: int, tmp: Path) -> Path:
    har = tmp / f"{role}.har"
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"{url}/graphql",
        "--max-time",
        str(seconds),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--checks",
        "not_a_server_error",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        "--no-color",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    if role == "customer":
        # Revoking its own token would turn the rest of the run into an anonymous one.
        command += ["--exclude-name", "Mutation.revokeCustomerToken"]
    if os.environ.get("FUZZ_VERBOSE"):
        command += ["--output-truncate", "false"]
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    generated = re.findall(r"(\d+) generated", run.stdout)
    if os.environ.get("FUZZ_VERBOSE"):
        print(run.stdout)
    # schemathesis exits 1 on GraphQL validation errors, which are expected answers to its
    # random documents; the verdict below reads the HAR and the server log instead.
    cases = f"{generated[-1]} test cases" if generated else "no case count printed"
    print(f"-- {role}: schemathesis ran {elapsed:.0f} s, {cases}")
    if not har.exists():
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        raise SystemExit(f"schemathesis wrote no report for {role}")
    return har


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=25, help="fuzzing time per role")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="invitations-fuzz-") as name:
        tmp = Path(name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = server_env(tmp, port)
        prepare_database(env)
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(
            [str(BIN / "invitations"), "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            await wait_until_up(url, server)
            per_role = {}
            for role, token in (await tokens(url)).items():
                findings = Findings()
                judge(fuzz(url, role, token, args.seconds, args.seed, tmp), findings)
                per_role[role] = findings
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
        server_log = (tmp / "server.log").read_text(errors="replace")

    unexpected = server_log.count("unexpected error")
    crashed = server_log.count("Exception in ASGI application")
    bugs = [bug for f in per_role.values() for bug in f.bugs]
    print()
    for role, f in per_role.items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(f.statuses.items()))
        codes = ", ".join(f"{c}: {n}" for c, n in f.error_codes.most_common())
        print(f"{role:>9}: {f.cases} requests ({statuses}); errors by code: {codes or 'none'}")
        for message, n in f.uncoded.most_common(4):
            print(f"           {n:5} x {message}...")
    print(f"server log: {unexpected} unexpected errors, {crashed} ASGI exceptions")
    if bugs or unexpected or crashed:
        distinct = list(dict.fromkeys(bugs))
        print(f"\nFOUND {len(bugs)} failing requests, {len(distinct)} distinct:")
        for bug in distinct:
            print(f"  {bug}")
        return 1
    total = sum(f.cases for f in per_role.values())
    print(f"\nfuzzing: {total} requests, no 5xx and no INTERNAL error")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
