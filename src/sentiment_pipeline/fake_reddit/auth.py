"""``POST /api/v1/access_token`` and token revocation.

Mirrors Reddit: bad client credentials are a 401 (asyncprawcore raises
ResponseException before reading the body), while a bad username/password or
unknown grant is a 200 with ``{"error": ...}`` (asyncprawcore raises
OAuthException).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import hdrs

from . import errors
from .context import Ctx, World

INSTALLED_CLIENT = "https://oauth.reddit.com/grants/installed_client"


def basic_client(ctx: Ctx) -> tuple[str, str] | None:
    """Decode HTTP Basic credentials, if present and well-formed."""
    scheme, _, encoded = ctx.request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _grant_error(world: World, ctx: Ctx, secret: str) -> str | None:
    grant = ctx.form.get("grant_type")
    config = world.config
    if grant == "client_credentials":
        return None if secret == config.client_secret else "invalid_client"
    if grant == "password":
        if secret != config.client_secret:
            return "invalid_client"
        good = (ctx.form.get("username"), ctx.form.get("password")) == (
            config.username,
            config.password,
        )
        return None if good else "invalid_grant"
    if grant == INSTALLED_CLIENT:
        return None if ctx.form.get("device_id") else "invalid_request"
    return "unsupported_grant_type"


async def access_token(world: World, ctx: Ctx) -> dict[str, Any]:
    """Issue a bearer token for the client_credentials, password or installed grants."""
    creds = basic_client(ctx)
    if creds is None or creds[0] != world.config.client_id:
        raise errors.ApiError(401, errors.error_body(401))
    ctx.client_id = creds[0]
    problem = _grant_error(world, ctx, creds[1])
    if problem == "invalid_client":
        raise errors.ApiError(401, errors.error_body(401))
    if problem is not None:
        return {"error": problem}
    grant = ctx.form.get("grant_type", "")
    token = world.tokens.issue(creds[0], grant, ctx.form.get("username"))
    return {
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": world.config.token_ttl_seconds,
        "scope": ctx.form.get("scope", "*"),
    }


async def revoke_token(world: World, ctx: Ctx) -> dict[str, Any]:
    """Forget a token; Reddit answers 200 with an empty body either way."""
    if basic_client(ctx) is None:
        raise errors.ApiError(401, errors.error_body(401))
    world.tokens.revoke(ctx.form.get("token", ""))
    return {}
