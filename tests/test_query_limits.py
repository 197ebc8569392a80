"""Depth, alias and token limits refuse abusive documents, every time they are sent, and
malformed documents are refused with a code too."""

from __future__ import annotations

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.kit.people import as_user

DEEP = "{ me { groups { members { groups { members { groups { members { groups { members { groups { members { groups { members { groups { key } } } } } } } } } } } } } } }"
ALIASES = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(40)) + " }"
SYNTAX = "{ me { id "
TOKENS = "{ me { " + " ".join("id" for _ in range(6000)) + " } }"


async def test_limits_refuse_deep_aliased_and_huge_documents_each_time(
    client: GraphQLClient, users: UserService
) -> None:
    caller = await as_user(client, users)
    for query, code in (
        (DEEP, "GRAPHQL_VALIDATION_FAILED"),
        (ALIASES, "GRAPHQL_VALIDATION_FAILED"),
        (TOKENS, "GRAPHQL_PARSE_FAILED"),
        (SYNTAX, "GRAPHQL_PARSE_FAILED"),
    ):
        for _ in range(2):  # the second time comes from the parser and validation caches
            body = await caller.raw(query)
            assert body.get("data") is None, query[:40]
            assert [e.get("extensions", {}).get("code") for e in body["errors"]] == [code], str(
                body
            )[:300]
    assert (await caller.execute("{ me { id } }"))["me"]["id"]
