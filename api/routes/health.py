"""Liveness probe."""
from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Process is alive."""
    return {"status": "ok"}
