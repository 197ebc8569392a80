"""The migration that introduced roles and owners keeps existing accounts and keys working:
every user gets the default role, every key its first version's deployer as owner."""

from __future__ import annotations

import secrets
import uuid

import asyncpg

from api.embedded import drop_database, ensure_database
from api.migrate import upgrade

# The revision before roles and owners existed.
BEFORE_ROLES = "0005"


async def test_existing_users_get_the_user_role_and_keys_their_first_deployer(
    database_url: str,
) -> None:
    name = f"flowdesk_rights_{secrets.token_hex(4)}"
    url = await ensure_database(database_url, name)
    try:
        await upgrade(url, BEFORE_ROLES)
        alice, bob, admin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            await connection.executemany(
                "INSERT INTO users (id, username, password_hash, roles) VALUES ($1, $2, 'x', $3)",
                [(alice, "alice", []), (bob, "bob", []), (admin, "root", ["admin"])],
            )
            await connection.executemany(
                "INSERT INTO process_definitions (id, key, version, name, spec, checksum,"
                " suspended, deployed_by) VALUES ($1, $2, $3, 'n', '{}', 'c', false, $4)",
                [
                    (uuid.uuid4(), "leave", 1, alice),
                    (uuid.uuid4(), "leave", 2, bob),
                    (uuid.uuid4(), "orphan", 1, None),
                ],
            )
        finally:
            await connection.close()

        await upgrade(url)

        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            roles = dict(await connection.fetch("SELECT username, roles FROM users"))
            owners = [
                tuple(r)
                for r in await connection.fetch("SELECT key, user_id FROM definition_owners")
            ]
            rights = {
                r[0] for r in await connection.fetch("SELECT rights::text FROM process_definitions")
            }
            active = {r[0] for r in await connection.fetch("SELECT active FROM users")}
        finally:
            await connection.close()
        assert roles == {"alice": ["user"], "bob": ["user"], "root": ["admin", "user"]}
        assert owners == [("leave", alice)]
        assert rights == {"{}"}
        assert active == {True}
    finally:
        await drop_database(database_url, name)
