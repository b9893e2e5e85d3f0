"""Liveness, readiness and Prometheus metrics."""
import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Một thành phần chưa sẵn sàng (xem `down`)"}})
async def readyz(request: Request) -> JSONResponse:
    """Database, retrieval index, PAKN classifier and outbox: 200 when all are ready, else 503 naming what is down."""
    from api.observability import readiness

    # Read from app.state, not through `get_services`: before the lifespan built the services the
    # probe must still answer (503, naming what is not loaded).
    ok, body = await run_in_threadpool(readiness, getattr(request.app.state, "services", None))
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition format. In production only for a scraper with `METRICS_TOKEN`: the
    figures (petition counts per status, outbox backlog) are operational data, not public."""
    from api.observability import metrics_payload
    from settings import get_settings

    settings = get_settings()
    if settings.env == "production":
        expected = settings.metrics_token.get_secret_value()
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                                   expected.encode()):
            return JSONResponse({"detail": "Không tìm thấy."}, status_code=404)

    payload, content_type = await run_in_threadpool(metrics_payload)
    return Response(payload, media_type=content_type)
