"""GraphiQL works offline: the page and its files come from the service, under a
Content-Security-Policy that allows nothing else, checked in a real headless Chromium (Debian's,
driven by playwright) against a real uvicorn, with every request to another host aborted."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HTTPRoute

from api.graphiql import HOME, IMMUTABLE, GraphiQLFiles, content_security_policy
from app import create_app
from config import Settings
from events import BROKER
from tests.helpers import GraphQLClient, admin_token, customer_token, make_admin, make_customer
from tests.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (the tests may run as root), and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEND = """
mutation Send($emails: [String!]!) {
  sendInvitations(input: {emails: $emails}) { userErrors { code } }
}
"""
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="session")
def graphiql_installed() -> None:
    """GraphiQL's npm files, installed from package-lock.json when missing (as `make install`)."""
    if not (HOME / "node_modules" / "graphiql").is_dir():
        assert shutil.which("npm"), "npm is needed to install GraphiQL's files (README)"
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=HOME,
            check=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
async def browser(graphiql_installed: None) -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), (
        "Debian's chromium is needed for the GraphiQL test: `apt-get install chromium` "
        "(`make test` installs it when run as root)"
    )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def url(settings: Settings, graphiql_installed: None) -> AsyncIterator[str]:
    async with live_server(settings) as ws_url:
        yield "http" + ws_url.removeprefix("ws")


@dataclass
class GraphiQL:
    """A GraphiQL page in the browser, and what it tried that the test did not allow."""

    page: Page
    outside: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    async def type_into(self, editor: str, text: str) -> None:
        await self.page.locator(f"{editor} .CodeMirror").locator("visible=true").click()
        await self.page.keyboard.press("Control+A")
        # As pasted: typed key by key, the editor would close each bracket itself.
        await self.page.keyboard.insert_text(text)

    async def run(self, query: str) -> None:
        await self.type_into(".graphiql-query-editor", query)
        # GraphiQL parses the query (is it a subscription?) 100 ms after the last edit, then
        # calls onEditQuery, which boot.js mirrors in the URL: run once it has.
        await self.page.wait_for_function(
            "query => new URLSearchParams(location.search).get('q') === query", arg=query
        )
        await self.page.click(".graphiql-execute-button")

    async def result_shows(self, text: str) -> None:
        await self.page.locator(".result-window").get_by_text(text).first.wait_for()


@pytest.fixture
async def graphiql(browser: Browser, url: str) -> AsyncIterator[GraphiQL]:
    """GraphiQL loaded from the live server, every request to any other host aborted."""
    server = urlsplit(url)
    context = await browser.new_context()
    context.set_default_timeout(20_000)  # the machine may be busy
    tried = GraphiQL(await context.new_page())

    async def only_the_server(route: Route) -> None:
        target = urlsplit(route.request.url)
        if (target.hostname, target.port) == (server.hostname, server.port):
            await route.continue_()
        else:
            tried.outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_server)
    tried.page.on("console", lambda message: _note_violation(tried, message.text))
    await tried.page.add_init_script(
        "document.addEventListener('securitypolicyviolation', event => console.log("
        "'CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI))"
    )
    await tried.page.goto(url)
    await tried.page.wait_for_selector(".graphiql-execute-button")
    yield tried
    await context.close()
    assert tried.outside == []
    assert tried.violations == []


def _note_violation(tried: GraphiQL, text: str) -> None:
    if text.startswith("CSP violation") or "Content Security Policy" in text:
        tried.violations.append(text)


async def test_the_page_loads_nothing_from_another_origin(settings: Settings) -> None:
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        page = await http.get("/graphql", headers=HTML)
        sources = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        files = [await http.get(source) for source in sources if not source.startswith("data:")]
        wrong_digest = await http.get(re.sub(r"static/\w+/", "static/0000/", sources[1]))

    assert page.status_code == 200
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src data:; connect-src 'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    assert "unpkg" not in page.text
    assert "<script>" not in page.text  # no inline script: script-src 'self' needs none
    assert len(files) == 8
    assert all(source.startswith("/graphiql/static/") for source in sources[1:])
    assert [file.status_code for file in files] == [200] * 8
    assert {file.headers["cache-control"] for file in files} == {IMMUTABLE}
    assert {file.headers["content-type"].split(";")[0] for file in files} == {
        "text/css",
        "text/javascript",
    }
    assert wrong_digest.status_code == 404


def test_a_host_header_that_is_no_host_is_left_out_of_the_policy() -> None:
    assert "connect-src 'self'; " in content_security_policy("evil; script-src *")
    assert "ws://[::1]:8000 " in content_security_policy("[::1]:8000")


async def test_without_its_files_the_page_says_how_to_install_them(tmp_path: Path) -> None:
    files = GraphiQLFiles(home=tmp_path)

    def page(request: Request) -> Response:
        return files.page(request)

    transport = httpx.ASGITransport(app=Starlette(routes=[HTTPRoute("/", page)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/")

    assert response.status_code == 503
    assert "make install" in response.text


async def test_production_serves_neither_the_page_nor_its_files(settings: Settings) -> None:
    production = Settings(
        env="production",
        database_url=settings.database_url,
        secret_key="p" * 48,
        smtp_url="smtp://127.0.0.1:2525",
    )
    transport = httpx.ASGITransport(app=create_app(production, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/graphql", headers=HTML)
        file = await http.get("/graphiql/static/0000/graphiql.min.js")

    assert "graphiql" not in page.text.lower()
    assert file.status_code == 404


async def test_a_query_typed_in_runs_and_shows_its_result(graphiql: GraphiQL) -> None:
    await graphiql.run("{ storeViews { code locale } }")

    await graphiql.result_shows('"zh_CN"')


async def test_the_docs_explorer_shows_the_schema(graphiql: GraphiQL) -> None:
    page = graphiql.page
    await page.click("button[aria-label='Show Documentation Explorer']")
    await page.fill(".graphiql-doc-explorer-search-input input", "Invitation")
    # The list of matches re-renders as the search settles: find and click the option in one
    # step, or a click can land on the match that took its place.
    await page.wait_for_function(
        """() => {
          const options = [...document.querySelectorAll("[data-cy=doc-explorer-option]")];
          const option = options.find(each => each.textContent === "Invitation");
          option?.click();
          return option !== undefined;
        }"""
    )

    title = page.locator(".graphiql-doc-explorer-title")
    await page.wait_for_function(
        "() => document.querySelector('.graphiql-doc-explorer-title')?.textContent !== 'Docs'"
    )
    assert await title.inner_text() == "Invitation"
    fields = page.locator(".graphiql-doc-explorer-content")
    await fields.get_by_text("createdAt", exact=True).wait_for()


async def test_a_subscription_signed_in_by_the_headers_pane_shows_updates(
    graphiql: GraphiQL, gql: GraphQLClient
) -> None:
    admin = await admin_token(await make_admin())
    alice = await customer_token(await make_customer("alice@example.com"))
    page = graphiql.page
    await page.get_by_role("button", name="Headers", exact=True).click()
    await graphiql.type_into(
        ".graphiql-editor-tool", f'{{"Authorization": "Bearer {admin}", "Store": "default"}}'
    )
    before = BROKER.subscriber_count
    await graphiql.run("subscription { invitationUpdates { email status } }")
    for _ in range(1000):  # the server is in this process: wait until it holds the subscription
        if BROKER.subscriber_count > before:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(await page.inner_text(".result-window"))

    body = await gql(SEND, {"emails": ["friend@example.com"]}, token=alice)
    assert body["data"]["sendInvitations"]["userErrors"] == []

    await graphiql.result_shows('"friend@example.com"')
    await graphiql.result_shows('"NOT_SENT"')
