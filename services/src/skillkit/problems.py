"""RFC 9457 problem details for every error.

`title` is Chinese for the mobile apps, `code` is the stable English code, `detail` says what was wrong: in Chinese
by default (skillkit.problem_texts, with the precise English text beside it as `detail_en`), in English when the
request's `Accept-Language` prefers English (`en`). The language is stated in `Content-Language`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from skillkit.county import COUNTY_TIME_EXAMPLE
from skillkit.problem_texts import detail_zh as catalogue_detail_zh

PROBLEM_JSON = "application/problem+json"
NUL_IN_TEXT = "22021"  # PostgreSQL's character_not_in_repertoire, raised for a NUL in text
log = logging.getLogger("skillkit.problems")

TITLES_ZH = {
    400: "请求有误",
    401: "未登录或登录已失效",
    403: "无权执行此操作",
    404: "未找到",
    405: "不支持的请求方法",
    409: "与现有记录冲突",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "提交的数据不符合要求",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


# Declared for every /v1 operation, so clients (and the API fuzzing) know each 4xx comes in this format rather
# than FastAPI's default 422 `HTTPValidationError` as application/json, which this app never sends.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Problem details (RFC 9457): `code` is stable, `detail` says what was wrong",
        "content": {
            PROBLEM_JSON: {
                "schema": {
                    "type": "object",
                    "required": ["type", "title", "status", "code", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer", "minimum": 400, "maximum": 499},
                        "code": {"type": "string"},
                        "detail": {"type": "string", "description": "Chinese by default; English with "
                                   "`Accept-Language: en`"},
                        "detail_en": {"type": "string", "description": "the English detail, beside a Chinese one"},
                        "instance": {"type": "string"},
                    },
                }
            }
        },
    }
}

# A naive time ("2026-12-06T13:05:00") is refused: without an offset nobody can tell which instant it is.
NAIVE_TIME_EN = f"a time needs its offset, e.g. {COUNTY_TIME_EXAMPLE} (county time) or 2026-12-06T05:05:00Z (UTC)"
NAIVE_TIME_ZH = f"时间须带时区，例如 {COUNTY_TIME_EXAMPLE}（北京时间）"


class Problem(Exception):
    """Raised by handlers and domain code; rendered as problem+json. Nothing is committed."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        extra: dict[str, Any] | None = None,
        detail_zh: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh  # else the catalogue's sentence for the code
        self.title = title or TITLES_ZH.get(status, "错误")
        self.extra = extra or {}


def prefers_english(accept_language: str | None) -> bool:
    """Whether `Accept-Language` ranks English above Chinese (absent, or neither named: Chinese, the default)."""
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        if language not in ("en", "zh"):
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if language not in best or (quality, -position) > (best[language][0], -best[language][1]):
            best[language] = (quality, position)
    if "en" not in best or best["en"][0] <= 0:
        return False
    if "zh" not in best:
        return True
    return (best["en"][0], -best["en"][1]) > (best["zh"][0], -best["zh"][1])


def problem_response(
    request: Request, status: int, code: str, detail: str, title: str | None = None, *,
    detail_zh: str | None = None, **extra: Any
) -> JSONResponse:
    english = prefers_english(request.headers.get("accept-language"))
    title = title or TITLES_ZH.get(status, "错误")
    if english:
        localised: dict[str, Any] = {"detail": detail}
    else:
        chinese = detail_zh or catalogue_detail_zh(code) or f"{title}：{detail}"
        localised = {"detail": chinese, "detail_en": detail}
    body = {
        "type": f"https://linxian-skills.example/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        **localised,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers={"Content-Language": "en" if english else "zh-CN"})


def not_found(what: str, ident: object) -> Problem:
    return Problem(404, f"{what}_not_found", f"{what.replace('_', ' ')} {ident} does not exist")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.code, exc.detail, exc.title, detail_zh=exc.detail_zh,
                                **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": ".".join(str(p) for p in err.get("loc", ())),
                "message": NAIVE_TIME_EN if err.get("type") == "timezone_aware" else err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(request, 400, "malformed_json", "request body is not valid JSON", errors=errors)
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        where = "、".join(e["location"] for e in errors)
        naive = "；" + NAIVE_TIME_ZH if any(e["type"] == "timezone_aware" for e in errors) else ""
        return problem_response(request, 422, "validation_failed", detail, errors=errors,
                                detail_zh=f"提交的数据不符合要求，请检查：{where}{naive}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return problem_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A NUL in a body's text (JSON "\u0000", a cell of an uploaded file) reaches PostgreSQL, whose text cannot
        # hold it: the client's error, and the request's transaction is already rolled back, so nothing changed.
        # (Paths and queries are refused before, by the app's NulCharacterMiddleware.)
        if getattr(exc.orig, "sqlstate", None) == NUL_IN_TEXT:
            return problem_response(request, 400, "nul_character",
                                    "a text value contains a NUL character (\\u0000), which cannot be stored")
        return await _unexpected(request, exc)

