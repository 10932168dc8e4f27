"""The platform's public REST APIs as the loop's actors call them: endpoints, development tokens, one aiohttp
client with retries and idempotency keys, and the services' /metrics."""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import aiohttp

from skillkit.auth import mint_token
from skillkit.settings import ServiceSettings


# --- HTTP ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    voucher: str
    training: str
    certification: str
    subsidy: str

    @classmethod
    def of(cls, platform: Any) -> "Endpoints":
        urls = {s.name: s.url for s in platform.services}
        return cls(urls["voucher-service"], urls["training-service"], urls["certification-service"],
                   urls["subsidy-service"])


class ApiError(Exception):
    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.code = body.get("code") if isinstance(body, dict) else None
        super().__init__(f"{method} {url} -> {status}: {body}")


class Tokens:
    """Development bearer tokens for each actor (the same secret in every service)."""

    def __init__(self, settings: ServiceSettings | None = None) -> None:
        self.settings = settings or ServiceSettings()
        self._cache: dict[tuple[str, str, str | None], str] = {}
        self.bureau_subject = "bureau:王科长"

    def _token(self, role: str, subject: str, org: str | None = None) -> dict[str, str]:
        key = (role, subject, org)
        if key not in self._cache:
            self._cache[key] = mint_token(self.settings, role, subject, org, ttl=timedelta(hours=12))
        return {"Authorization": f"Bearer {self._cache[key]}"}

    def bureau(self) -> dict[str, str]:
        return self._token("bureau", self.bureau_subject)

    def admin(self) -> dict[str, str]:
        return self._token("admin", "platform-admin")

    def training_org(self, institution_id: str) -> dict[str, str]:
        return self._token("training_org", f"org-staff:{institution_id}", institution_id)

    def evaluation_org(self, institution_id: str) -> dict[str, str]:
        return self._token("evaluation_org", f"eval-staff:{institution_id}", institution_id)

    def worker(self, account: str) -> dict[str, str]:
        return self._token("worker", account)

    def finance(self) -> dict[str, str]:
        return self._token("finance", "finance:李会计")

    def enterprise(self, enterprise_id: str) -> dict[str, str]:
        return self._token("enterprise", f"enterprise-staff:{enterprise_id}", enterprise_id)


class Api:
    """One keep-alive client (aiohttp) for all four services; POSTs carry an Idempotency-Key and are retried with
    the same key after a transport error or a 5xx (what a mobile client does).

    aiohttp rather than httpx: the benchmark's load generator shares the machine with the platform it measures,
    and httpx's pool (httpcore over anyio) cost ~5 ms of CPU per request here, its pool assignment walking every
    connection per request; aiohttp's C parser and plain asyncio transport cost a fraction of that."""

    def __init__(self, endpoints: Endpoints, tokens: Tokens | None = None, *, concurrency: int = 32,
                 timeout: float = 60, replicas: dict[str, list[str]] | None = None) -> None:
        """`replicas`: a service's base URL (as in `endpoints`) -> the base URLs of all its replicas. Requests are
        spread over them in turn, and a retry after a transport error goes to the next one (what a load balancer
        in front of replicas does when one dies: the chaos test, bench/chaos.py)."""
        self.endpoints = endpoints
        self.replicas = {base: list(urls) for base, urls in (replicas or {}).items()}
        self._turn = 0
        self._down: dict[str, float] = {}  # replica base URL -> until when it is passed over (monotonic)
        self.tokens = tokens or Tokens()
        self.concurrency = concurrency
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.gate = asyncio.Semaphore(concurrency)
        self.requests = 0
        self.retried = 0
        self.server_errors = 0
        self.by_route: Counter[str] = Counter()  # "POST /v1/classes/{id}/enrolments/bulk" -> requests sent

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running loop (aiohttp binds a session to its loop)."""
        if self._session is None:
            self._session = client_session(self.concurrency, self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def call(self, method: str, url: str, headers: dict[str, str], *, json: Any = None,
                   files: dict[str, tuple[str, bytes, str]] | None = None, params: dict[str, Any] | None = None,
                   pinned: bool = False) -> Any:
        """`files`: field -> (file name, content, content type), sent as multipart/form-data. `pinned`: to this
        URL's process, never another replica (a replica's own state, e.g. its clock)."""
        headers = dict(headers)
        if method == "POST" or method == "PUT":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        route = f"{method} {_route(url)}"
        attempts = 6
        given = url
        for attempt in range(attempts):
            if self.replicas and not pinned:
                url = self._on_replica(given)
            try:
                async with self.gate:
                    self.requests += 1
                    self.by_route[route] += 1
                    async with self.session.request(method, url, headers=headers, json=json, params=params,
                                                    data=_form(files) if files else None) as response:
                        status = response.status
                        raw = await response.read()
            except TRANSPORT_ERRORS:
                if self.replicas:
                    self._down[url.split("/v1/", 1)[0]] = time.monotonic() + 1.0  # try the other replicas first
                if attempt == attempts - 1:
                    raise
                self.retried += 1
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            # A server error changed nothing (the request's one transaction rolled back); a client retries with
            # the same Idempotency-Key. On the SQLite default this happens under concurrent writers ("database
            # is locked", see BENCHMARKS.md / the report). On PostgreSQL each one seen so far was a deadlock
            # (`grep "deadlock detected"` in the server log), fixed since: the report counts them.
            if status in (500, 502, 503) and attempt < attempts - 1:
                self.retried += 1
                self.server_errors += 1
                await asyncio.sleep(0.3 * (attempt + 1))
                continue
            break
        try:
            body = jsonlib.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if status >= 400:
            raise ApiError(method, url, status, body)
        return body

    def _on_replica(self, url: str) -> str:
        for base, urls in self.replicas.items():
            if url.startswith(base):
                self._turn += 1
                now = time.monotonic()
                turn = [urls[(self._turn + k) % len(urls)] for k in range(len(urls))]
                chosen = next((u for u in turn if self._down.get(u, 0) <= now), turn[0])
                return chosen + url[len(base):]
        return url

    async def pages(self, url: str, headers: dict[str, str], params: dict[str, Any] | None = None) -> list[Any]:
        items: list[Any] = []
        query = {**(params or {}), "limit": 200}
        while True:
            page = await self.call("GET", url, headers, params=query)
            items.extend(page["items"])
            if not page.get("next_cursor"):
                return items
            query["cursor"] = page["next_cursor"]


# What a client retries with the same Idempotency-Key: the request may not have reached the service, or its
# answer was lost (a keep-alive connection closed by the server as the request went out, a reset, a timeout).
TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


def client_session(connections: int, timeout: float = 60) -> aiohttp.ClientSession:
    """The loop's HTTP client, also the no-op HTTP baseline's (so that baseline measures the same client).

    Keep-alive connections are dropped after 4 s idle, before uvicorn's 5 s `timeout-keep-alive` closes them from
    its side: otherwise a request can go out on a connection the server is closing (then retried, see
    TRANSPORT_ERRORS). No cookies: the services set none, and the jar costs a lookup per request."""
    connector = aiohttp.TCPConnector(limit=connections * 2, limit_per_host=0, keepalive_timeout=4.0,
                                     use_dns_cache=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
                                 cookie_jar=aiohttp.DummyCookieJar())


def _form(files: dict[str, tuple[str, bytes, str]]) -> aiohttp.FormData:
    """A fresh body per attempt (aiohttp consumes a FormData once). The file name goes out as UTF-8, as browsers
    and httpx send it, not percent-encoded (aiohttp's default), so that 报名.csv arrives as 报名.csv."""
    form = aiohttp.FormData(quote_fields=False)
    for field_name, (filename, content, content_type) in files.items():
        form.add_field(field_name, content, filename=filename, content_type=content_type)
    return form


_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@lru_cache(maxsize=4096)
def _route_of_path(path: str) -> str:
    return _ID.sub("/{id}", path)


def _route(url: str) -> str:
    """The route template of an absolute URL ("http://host:port/v1/classes/<uuid>" -> "/v1/classes/{id}")."""
    path = url.split("://", 1)[-1]
    path = path[path.find("/"):] if "/" in path else "/"
    return _route_of_path(path.split("?", 1)[0])


async def scrape(session: aiohttp.ClientSession, base_url: str) -> dict[tuple[str, str], float]:
    """A service's Prometheus counters: (metric name, label text) -> value."""
    async with session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        try:
            out[(name, labels.rstrip("}"))] = float(value)
        except ValueError:
            continue
    return out
