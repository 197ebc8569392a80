"""GraphiQL works in a real browser on a machine without internet: every file it needs comes
from the package, its first query logs in, and a query sent with the token runs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright

from api import graphiql
from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from tests.client import PASSWORD
from tests.conftest import serve_app
from tests.kit.people import make_user

# Where the screenshots of a run go, for a person to look at: the page as it opens
# (...-welcome.png) and as the run ends.
SCREENSHOT = Path(os.environ.get("FLOWDESK_GRAPHIQL_SCREENSHOT", "/tmp/flowdesk-graphiql.png"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The tool editors (variables, headers) share a class; the tab not shown is hidden.
HEADERS = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: `make browser` installs Debian's package"
    return found


@pytest.fixture(scope="module")
async def graphiql_url(settings: Settings) -> AsyncIterator[str]:
    with_ide = settings.model_copy(update={"graphiql": True, "port": free_port()})
    async with serve_app(with_ide) as url:
        yield f"{url}/graphql"


def test_every_asset_is_the_published_file_its_integrity_names_with_its_license() -> None:
    folder = files(graphiql.__name__) / "static"
    for asset in graphiql.ASSETS:
        digest = hashlib.sha384((folder / asset.file).read_bytes()).digest()
        assert asset.integrity == "sha384-" + base64.b64encode(digest).decode(), asset.file
        assert (folder / "licenses" / f"{asset.package}.txt").is_file(), asset.package


async def test_the_page_loads_nothing_from_outside(graphiql_url: str) -> None:
    async with httpx.AsyncClient() as http:
        page = await http.get(graphiql_url, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "unpkg" not in page.text and "https://" not in page.text
        for asset in graphiql.ASSETS:
            served = await http.get(
                f"{graphiql_url.removesuffix('/graphql')}/graphiql/{asset.file}"
            )
            assert served.status_code == 200, asset.file


async def _editor_text(page: Page, editor: str) -> str:
    text: str = await page.locator(f"{editor} .CodeMirror").evaluate(
        "(element) => element.CodeMirror.getValue()"
    )
    return text


async def _type_into(page: Page, editor: str, text: str) -> None:
    """Replace what an editor holds, as a person would: click, select all, type."""
    await page.locator(f"{editor} .CodeMirror").click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)


async def _run_and_read(page: Page, expected: str) -> dict[str, object]:
    await page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    await result.get_by_text(expected).first.wait_for(timeout=20_000)
    answer: dict[str, object] = json.loads(await _editor_text(page, ".result-window"))
    return answer


async def test_graphiql_renders_offline_logs_in_and_runs_a_query_with_the_token(
    graphiql_url: str, users: UserService
) -> None:
    user = await make_user(users)
    blocked: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium())
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.route("**/*", loopback_only)
            await page.goto(graphiql_url)
            await page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=30_000)

            await page.screenshot(path=str(SCREENSHOT.with_stem(SCREENSHOT.stem + "-welcome")))
            query = await _editor_text(page, ".graphiql-query-editor")
            assert 'login(username: "admin", password: "<password>")' in query
            assert '{"Authorization": "Bearer <token>"}' in query

            # The default query, as a newcomer runs it: the password filled in.
            await _type_into(
                page,
                ".graphiql-query-editor",
                query.replace('"admin"', json.dumps(user.username)).replace("<password>", PASSWORD),
            )
            login = await _run_and_read(page, '"token"')
            token = login["data"]["login"]["token"]  # type: ignore[index]

            # Where the note says the token goes.
            await _type_into(page, HEADERS, json.dumps({"Authorization": f"Bearer {token}"}))
            await _type_into(page, ".graphiql-query-editor", "query { me { username } }")
            me = await _run_and_read(page, user.username)
            assert me == {"data": {"me": {"username": user.username}}}
            # The schema came through introspection: the docs explorer lists the root types.
            await page.get_by_role("button", name="Show Documentation Explorer").click()
            await page.locator(".graphiql-doc-explorer").get_by_text("Query").first.wait_for()
        finally:
            # Also when it fails: the picture shows what a person would have seen.
            await page.screenshot(path=str(SCREENSHOT))
            await browser.close()
    assert blocked == []
    assert errors == []
