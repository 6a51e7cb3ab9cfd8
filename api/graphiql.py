"""GraphiQL as served in development: our page and every file it loads, from this service.

Strawberry's own page loads React and GraphiQL from unpkg.com, so without internet it never
renders. Ours (web/graphiql/page.html, with its script in boot.js) loads the same versions,
installed from npm at build time (web/graphiql/package-lock.json, `npm ci` by `make install`),
under /graphiql/static/<digest>/<name>: the digest is of the file's bytes, so a URL names one
content forever and is cached for a year. The page's Content-Security-Policy allows nothing from
another origin, and no inline script.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

HOME = Path(__file__).resolve().parents[1] / "web" / "graphiql"
STATIC = "/graphiql/static"

EXPLORER = "node_modules/@graphiql/plugin-explorer/dist"
# The page's placeholders: the name each file is served under, and where it lies under HOME.
FILES = {
    "react": ("react.production.min.js", "node_modules/react/umd/react.production.min.js"),
    "react_dom": (
        "react-dom.production.min.js",
        "node_modules/react-dom/umd/react-dom.production.min.js",
    ),
    "graphiql": ("graphiql.min.js", "node_modules/graphiql/graphiql.min.js"),
    "graphiql_css": ("graphiql.min.css", "node_modules/graphiql/graphiql.min.css"),
    "explorer": ("plugin-explorer.js", f"{EXPLORER}/index.umd.js"),
    "explorer_css": ("plugin-explorer.css", f"{EXPLORER}/style.css"),
    "page_css": ("page.css", "page.css"),
    "boot": ("boot.js", "boot.js"),
}
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
MISSING = (
    "GraphiQL's files are not installed: run `make install` "
    "(or `npm ci` in web/graphiql), then restart the server.\n"
)

# A Host header that can stand in a CSP source: a name or an IPv4 or [IPv6] address, a port.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The page's policy: its own scripts, styles and API, fonts and images as data: URLs (what
    GraphiQL's stylesheet holds).

    connect-src 'self' covers ws: and wss: of the same host in CSP 3; the host is named too for
    browsers that read 'self' as http(s) only.
    """
    connect = "'self'"
    if host and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


@dataclass(frozen=True)
class Asset:
    """One file the page loads, read once."""

    body: bytes
    media_type: str


class GraphiQLFiles:
    """The page and its files, read from HOME on the first request (none read in production)."""

    def __init__(self, home: Path = HOME) -> None:
        self.home = home
        self._page: str | None = None
        self._assets: dict[str, Asset] = {}

    def _load(self) -> str | None:
        """The page, reading the files on first use; None while any is missing."""
        if self._page is None:
            paths = {key: self.home / path for key, (_, path) in FILES.items()}
            if not all(path.is_file() for path in paths.values()):
                return None
            urls = {}
            for key, (name, _) in FILES.items():
                body = paths[key].read_bytes()
                digest = hashlib.sha256(body).hexdigest()[:16]
                path = f"{digest}/{name}"
                self._assets[path] = Asset(body, MEDIA_TYPES[Path(name).suffix])
                urls[key] = f"{STATIC}/{path}"
            template = Template((self.home / "page.html").read_text(encoding="utf-8"))
            self._page = template.substitute(urls)
        return self._page

    def page(self, request: Request) -> Response:
        page = self._load()
        if page is None:
            return PlainTextResponse(MISSING, status_code=503)
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": content_security_policy(request.headers.get("host")),
                "Cache-Control": "no-cache",  # the files' digests change with an upgrade
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def static(self, request: Request) -> Response:
        self._load()
        asset = self._assets.get(f"{request.path_params['digest']}/{request.path_params['name']}")
        if asset is None:
            return PlainTextResponse("Not found.\n", status_code=404)
        return Response(
            asset.body,
            media_type=asset.media_type,
            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
        )

    @property
    def route(self) -> Route:
        return Route(STATIC + "/{digest}/{name}", self.static, methods=["GET", "HEAD"])
