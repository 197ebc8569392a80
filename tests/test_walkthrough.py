"""The README's walk-through works as written against the running app."""

from __future__ import annotations

import uuid

from api.services.users import UserService
from tests.client import PASSWORD
from tests.kit.people import make_user
from tests.walkthrough import readme_blocks, walk_through


def test_readme_has_the_nine_steps() -> None:
    assert len(readme_blocks()) == 9


async def test_readme_walkthrough_runs_over_http_and_websocket(
    app_url: str, users: UserService
) -> None:
    admin = await make_user(users, admin=True)
    await walk_through(
        app_url,
        admin=admin.username,
        admin_password=PASSWORD,
        alice=f"alice-{uuid.uuid4().hex[:8]}",
        key=f"vacation_{uuid.uuid4().hex[:8]}",
    )
