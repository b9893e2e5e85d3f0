"""FastAPI dependencies that hand the process's running parts to routes.

Why a dependency and not an import: the parts are built once by the app's lifespan
(runtime.services) and kept on `app.state.services`; a route that declares
`services: ServicesDep` gets the ones of the app it serves, so tests run apps
with fakes side by side and nothing is a process-wide singleton.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from runtime.services import Services


def get_services(request: Request) -> Services:
    """The services of the app serving this request.

    An app served without its lifespan (Starlette's TestClient used without `with`) gets them built
    on first use, once (single-flight), without warm-up or background work (`create_app`'s
    `app.state.unstarted_services`); /readyz still reports such an app as not loaded.
    """
    services = getattr(request.app.state, "services", None)
    if services is None:
        return request.app.state.unstarted_services()
    return services


# A route parameter `services: ServicesDep` receives the app's services.
ServicesDep = Annotated[Services, Depends(get_services)]
