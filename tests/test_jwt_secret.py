"""Outside `flowdesk dev` the API refuses to start without a JWT secret of 32 bytes or
more: a known or short secret would let anyone sign an admin's token."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.app import create_app
from api.auth.tokens import TokenIssuer, WeakSecret
from api.embedded import free_port
from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def example_secret() -> str:
    """The placeholder deploy/env.example ships."""
    text = (ROOT / "deploy" / "env.example").read_text()
    found = re.search(r"^FLOWDESK_JWT_SECRET=(.*)$", text, re.MULTILINE)
    assert found is not None
    return found.group(1).strip()


@pytest.mark.parametrize(
    "secret",
    [None, "x" * 31, "change-me-to-32-random-bytes-or-more-please", "example"],
    ids=["none", "31-bytes", "placeholder", "env-example"],
)
def test_an_unusable_secret_refuses_the_app_and_any_token(secret: str | None) -> None:
    if secret == "example":
        secret = example_secret()
    settings = Settings(jwt_secret=SecretStr(secret) if secret is not None else None)
    with pytest.raises(WeakSecret, match="FLOWDESK_JWT_SECRET"):
        create_app(settings)
    with pytest.raises(WeakSecret):
        TokenIssuer(settings).issue(uuid.uuid4(), "someone")


def test_a_secret_of_32_random_bytes_is_taken() -> None:
    settings = Settings(jwt_secret=SecretStr(secrets.token_urlsafe(32)))
    create_app(settings)
    issuer = TokenIssuer(settings)
    assert issuer.verify(issuer.issue(uuid.uuid4(), "someone")).username == "someone"


def test_flowdesk_api_exits_with_a_clear_message_without_a_secret() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDESK_")}
    env["FLOWDESK_PORT"] = str(free_port())
    flowdesk = Path(sys.executable).parent / "flowdesk"
    done = subprocess.run(
        [str(flowdesk), "api"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "no JWT secret is configured" in done.stderr
    assert "secrets.token_urlsafe" in done.stderr
