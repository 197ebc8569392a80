"""Signed access tokens (JWT, HS256) with joserfc, the JOSE library of the Authlib project."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from api.errors import Unauthenticated
from api.settings import Settings

_ALGORITHM = "HS256"
# HS256 is as strong as its key: RFC 7518 asks for at least the hash's 256 bits.
MIN_SECRET_BYTES = 32


class WeakSecret(Exception):
    """The configured JWT secret cannot be used: the process must not start with it."""


def signing_key(settings: Settings) -> OctKey:
    """The key tokens are signed with; `WeakSecret` when none is set, when it is shorter
    than 32 bytes, or when it is still a placeholder from the examples."""
    how = (
        "set FLOWDESK_JWT_SECRET to 32 random bytes or more, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )
    if settings.jwt_secret is None:
        raise WeakSecret(f"no JWT secret is configured: {how}")
    secret = settings.jwt_secret.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise WeakSecret(f"the JWT secret is shorter than {MIN_SECRET_BYTES} bytes: {how}")
    if "change-me" in secret.lower():
        raise WeakSecret(f"the JWT secret is the example's placeholder: {how}")
    return OctKey.import_key(secret)


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    username: str
    expires_at: int


class TokenIssuer:
    def __init__(self, settings: Settings) -> None:
        # Checked when first needed, not here: commands that never sign nor verify a token
        # (`flowdesk user add`, `flowdesk deploy`) run without a secret; the API refuses to
        # start without one (create_app).
        self._settings = settings
        self._issuer = settings.jwt_issuer
        self._ttl = settings.jwt_ttl_seconds
        self._registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self._issuer},
            sub={"essential": True},
            exp={"essential": True},
        )

    @functools.cached_property
    def _key(self) -> OctKey:
        return signing_key(self._settings)

    def issue(self, user_id: uuid.UUID, username: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "sub": str(user_id),
            "name": username,
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode({"alg": _ALGORITHM}, claims, self._key, algorithms=[_ALGORITHM])

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token; `Unauthenticated` for a malformed, tampered or expired one."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALGORITHM])
            self._registry.validate(decoded.claims)
            return TokenClaims(
                user_id=uuid.UUID(decoded.claims["sub"]),
                username=str(decoded.claims.get("name", "")),
                expires_at=int(decoded.claims["exp"]),
            )
        except ExpiredTokenError as exc:
            raise Unauthenticated("expired token: log in again") from exc
        except (JoseError, ValueError, KeyError) as exc:
            raise Unauthenticated("invalid token") from exc

    def verify_header(self, authorization: str | None) -> TokenClaims:
        """Claims from an `Authorization: Bearer <token>` value."""
        if not authorization:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("expected 'Authorization: Bearer <token>'")
        return self.verify(token.strip())
