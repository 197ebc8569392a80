"""Signed access tokens (JWT, HS256) with joserfc, the JOSE library of the Authlib project.

Each token names the key that signed it (`kid`, a digest of the secret that says nothing
about it), its audience (`aud`) and its own id (`jti`). The current secret signs; the
previous ones (FLOWDESK_JWT_PREVIOUS_SECRETS) still verify the tokens they signed, so a
secret is rotated without logging anyone out."""

from __future__ import annotations

import base64
import functools
import hashlib
import time
import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import GuestProtocol, OctKey

from api.errors import Unauthenticated
from api.settings import Settings

_ALGORITHM = "HS256"
# HS256 is as strong as its key: RFC 7518 asks for at least the hash's 256 bits.
MIN_SECRET_BYTES = 32


class WeakSecret(Exception):
    """The configured JWT secret cannot be used: the process must not start with it."""


def signing_key(settings: Settings) -> OctKey:
    """The key tokens are signed with; `WeakSecret` when none is set, when it (or a
    previous one) is shorter than 32 bytes, or when it is still a placeholder from the
    examples."""
    if settings.jwt_secret is None:
        raise WeakSecret(f"no JWT secret is configured: {_HOW}")
    for previous in settings.jwt_previous_secrets:
        _checked(previous.get_secret_value(), "a previous JWT secret")
    return _key(_checked(settings.jwt_secret.get_secret_value(), "the JWT secret"))


_HOW = (
    "set FLOWDESK_JWT_SECRET to 32 random bytes or more, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)


def _checked(secret: str, which: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise WeakSecret(f"{which} is shorter than {MIN_SECRET_BYTES} bytes: {_HOW}")
    if "change-me" in secret.lower():
        raise WeakSecret(f"{which} is the example's placeholder: {_HOW}")
    return secret


def _key(secret: str) -> OctKey:
    """The key of `secret`, with a kid that every replica derives alike."""
    digest = hashlib.sha256(b"flowdesk-kid:" + secret.encode()).digest()[:12]
    kid = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return OctKey.import_key(secret, {"kid": kid})


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    username: str
    expires_at: int
    token_id: str
    # The refresh family (login session) the token belongs to, if any.
    session_id: str | None = None


class TokenIssuer:
    def __init__(self, settings: Settings) -> None:
        # Checked when first needed, not here: commands that never sign nor verify a token
        # (`flowdesk user add`, `flowdesk deploy`) run without a secret; the API refuses to
        # start without one (create_app).
        self._settings = settings
        self._issuer = settings.jwt_issuer
        self._ttl = settings.jwt_ttl_seconds
        self._audience = settings.jwt_audience
        self._registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            sub={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
        )

    @functools.cached_property
    def _key(self) -> OctKey:
        return signing_key(self._settings)

    @functools.cached_property
    def _verifying(self) -> dict[str, OctKey]:
        """Every key that verifies, by kid: the current one and the previous ones."""
        keys = [self._key]
        keys += [_key(s.get_secret_value()) for s in self._settings.jwt_previous_secrets]
        return {str(k.kid): k for k in keys}

    def _key_of(self, token: GuestProtocol) -> OctKey:
        found = self._verifying.get(str(token.headers().get("kid")))
        if found is None:
            raise Unauthenticated("invalid token")
        return found

    def issue(self, user_id: uuid.UUID, username: str, session_id: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid.uuid4().hex,
            "sub": str(user_id),
            "name": username,
            "iat": now,
            "exp": now + self._ttl,
        }
        if session_id is not None:
            claims["sid"] = session_id
        header = {"alg": _ALGORITHM, "kid": self._key.kid}
        return jwt.encode(header, claims, self._key, algorithms=[_ALGORITHM])

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token; `Unauthenticated` for a malformed, tampered or expired one."""
        try:
            decoded = jwt.decode(token, self._key_of, algorithms=[_ALGORITHM])
            self._registry.validate(decoded.claims)
            return TokenClaims(
                user_id=uuid.UUID(decoded.claims["sub"]),
                username=str(decoded.claims.get("name", "")),
                expires_at=int(decoded.claims["exp"]),
                token_id=str(decoded.claims["jti"]),
                session_id=str(decoded.claims["sid"]) if "sid" in decoded.claims else None,
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
