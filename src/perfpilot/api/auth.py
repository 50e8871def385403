"""Guard for mutating endpoints: the bearer token, or loopback-only when no token is set."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from perfpilot.api.deps import State


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def require_writer(
    request: Request,
    state: State,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """401 for a missing, malformed or wrong token; 403 for a remote client when no token is set."""
    token = state.settings.api_token
    if token is None:
        client = request.client.host if request.client else None
        if not _is_loopback(client):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "PERFORMANCE_API_TOKEN is not set: mutating endpoints accept loopback clients only",
            )
        return
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authorization header must be 'Bearer <PERFORMANCE_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Constant-time comparison: the token guards production changes.
    if not hmac.compare_digest(credentials.strip().encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )


Writer = Annotated[None, Depends(require_writer)]
