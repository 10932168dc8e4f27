"""The dashboard (/dashboard, staff: bureau, finance, auditor — the token is pasted on the page and sent as a bearer
token; the report endpoints decide) and the public disclosure page (/disclosure, no token). Both are static files
served by the service itself, with Apache ECharts vendored under static/vendor (county networks are often
offline: no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["pages 页面"], include_in_schema=False)


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8")


@router.get("/disclosure")
async def disclosure() -> FileResponse:
    return FileResponse(STATIC / "disclosure.html", media_type="text/html; charset=utf-8")


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
