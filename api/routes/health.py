"""Liveness, readiness and Prometheus metrics."""
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Một thành phần chưa sẵn sàng (xem `down`)"}})
async def readyz() -> JSONResponse:
    """Database, retrieval index, PAKN classifier and outbox: 200 when all are ready, else 503 naming what is down."""
    from api.observability import readiness

    ok, body = await run_in_threadpool(readiness)
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus exposition format."""
    from api.observability import metrics_payload

    payload, content_type = await run_in_threadpool(metrics_payload)
    return Response(payload, media_type=content_type)
