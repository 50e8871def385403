"""The request body every action-running POST shares, parsed from the raw bytes.

``curl -d '{...}'`` without ``-H "Content-Type: application/json"`` sends
``application/x-www-form-urlencoded``; the specification's own example does that, so the body
is read as JSON whatever the header says. An empty body means the defaults.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError

from perfpilot.api.models import OptimizeIn


async def optimize_in(request: Request) -> OptimizeIn:
    raw = await request.body()
    if not raw.strip():
        return OptimizeIn()
    try:
        return OptimizeIn.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"body is not JSON: {exc}"
        ) from exc
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, jsonable_encoder(exc.errors(include_url=False))
        ) from exc


OptimizeBody = Annotated[OptimizeIn, Depends(optimize_in)]
