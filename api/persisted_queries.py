"""Automatic persisted queries (Apollo's protocol) as the view takes them, and the Cache-Control
of the GET requests they allow.

A request may name its document by hash, `extensions.persistedQuery = {version: 1, sha256Hash}`,
without `query`. A hash this service knows stands for its document; an unknown one is answered
`PersistedQueryNotFound` (HTTP 200, as Apollo Server does: Apollo Client's link then sends the
hash with the document). A document sent with a hash must hash to it; it is registered
(domain.persisted_queries, shared by every replica) once it passes the document checks that every
operation passes (schema.limits), and kept in each process's memory (a bounded LRU).

With `persisted_only`, only registered documents run: a document that is not registered is
refused (403, PERSISTED_QUERY_NOT_IN_LIST); documents are registered from the command line
(`invitations persisted-queries add`), never by a request.

GET is for persisted queries alone (a mutation by GET: 405). Its answer may be kept by a CDN when
every root field it selects is public and it was answered without error to a request without a
token: `Cache-Control: public, max-age=…`; any other GET answer is `private, no-store`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode

from domain import persisted_queries
from domain.persisted_queries import SHA256, Registration, sha256_of

logger = logging.getLogger("invitations.api")

NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
NOT_IN_LIST_CODE = "PERSISTED_QUERY_NOT_IN_LIST"
# Apollo Server's Cache-Control on PersistedQueryNotFound: the next request registers the hash.
NOT_FOUND_HEADERS = {"Cache-Control": "private, no-cache, must-revalidate"}

# Root fields whose answer is the same for every visitor of a store view.
PUBLIC_ROOT_FIELDS = frozenset({"storefrontInvitationSettings", "storeViews", "__typename"})
PRIVATE = "private, no-store"


class Refused(Exception):
    """A request answered with one error before GraphQL runs."""

    def __init__(
        self,
        status_code: int,
        message: str,
        code: str = "BAD_REQUEST",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass(slots=True)
class Persisted:
    """What a request's `persistedQuery` extension came to."""

    sha256: str
    registration: Registration | None = None  # None: known already


# Whether a document parses and validates (the checks every operation passes).
DocumentCheck = Callable[[str], DocumentNode | None]


class PersistedQueries:
    """The persisted queries of one process: the database's, with a bounded cache in front."""

    def __init__(self, *, limit: int, cached: int, only: bool, check: DocumentCheck) -> None:
        self.limit = limit
        self.only = only
        self._check = check
        # Only documents found are kept: unknown hashes cannot fill the cache.
        self._documents: LRUCache[str, str] = LRUCache(maxsize=cached)

    async def find(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is None:
            document = await persisted_queries.find(sha256)
            if document is not None:
                self._documents[sha256] = document
        return document

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None
    ) -> tuple[str | None, Persisted | None]:
        """The document a request runs, and what its persistedQuery extension came to (None
        without one). Refused: an unknown hash, a hash that is not its document's, a document
        not registered in persisted-only mode."""
        extension = (extensions or {}).get("persistedQuery")
        if extension is None:
            if self.only and query is not None and await self.find(sha256_of(query)) is None:
                raise self._not_in_list()
            return query, None
        sha256 = _requested_hash(extension)
        if query is None:
            document = await self.find(sha256)
            if document is None:
                raise Refused(200, NOT_FOUND, NOT_FOUND_CODE, NOT_FOUND_HEADERS)
            return document, Persisted(sha256)
        if sha256_of(query) != sha256:
            raise Refused(
                400,
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent "
                "with it (the lower-case hex digest of the query's UTF-8 text).",
            )
        if await self.find(sha256) is not None:
            return query, Persisted(sha256)
        if self.only:
            raise self._not_in_list()
        return query, Persisted(sha256, await self._register(query))

    async def _register(self, document: str) -> Registration | None:
        if self._check(document) is None:
            return None  # the operation fails, and says why
        registration = await persisted_queries.register(document=document, limit=self.limit)
        if registration is Registration.FULL:
            logger.warning(
                "A persisted query was not registered: %d are, the most allowed "
                "(INVITATIONS_PERSISTED_QUERIES_MAX)",
                self.limit,
            )
        else:
            self._documents[sha256_of(document)] = document
        return registration

    def is_public(self, document: str, operation_name: str | None) -> bool:
        """Whether every root field of the operation is public (its answer may be cached)."""
        parsed = self._check(document)
        operation = _operation(parsed, operation_name) if parsed is not None else None
        return operation is not None and all(
            isinstance(selection, FieldNode) and selection.name.value in PUBLIC_ROOT_FIELDS
            for selection in operation.selection_set.selections
        )

    def _not_in_list(self) -> Refused:
        return Refused(
            403,
            "Only registered operations run on this service (INVITATIONS_PERSISTED_ONLY), "
            "and this document is not registered.",
            NOT_IN_LIST_CODE,
        )


def _requested_hash(extension: object) -> str:
    if not isinstance(extension, dict) or extension.get("version") != 1:
        raise Refused(
            400, "extensions.persistedQuery must be an object with version 1 and a sha256Hash."
        )
    sha256 = extension.get("sha256Hash")
    if not isinstance(sha256, str) or not SHA256.match(sha256):
        raise Refused(
            400,
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in lower-case hex "
            "(64 characters).",
        )
    return sha256


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def document_check(
    check: Callable[[str], tuple[DocumentNode, list[GraphQLError], Any]],
) -> DocumentCheck:
    """A DocumentCheck from the served schema's `check_document`."""

    def parses_and_validates(document: str) -> DocumentNode | None:
        try:
            parsed, errors, _ = check(document)
        except GraphQLError:
            return None
        return None if errors else parsed

    return parses_and_validates
