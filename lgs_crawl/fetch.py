"""Fetching images for URL lists: aiohttp, bounded, polite, and safe against hostile URLs.

Only http(s); hosts that resolve to loopback/private/link-local/multicast addresses are refused
unless ``allow_private_network``; redirects are followed by hand so every hop is checked; bodies over
the size cap are refused from Content-Length or while streaming; opt-out headers are checked (by the
``headers`` filter stage) before the body is read; 429/503/connection errors are retried with
exponential backoff that honours Retry-After.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from lgs_crawl.chain import FETCH_STAGE, Rejection
from lgs_crawl.config import FetchConfig

RETRY_STATUSES = (429, 503)
HeaderCheck = Callable[[int, dict[str, str]], Rejection | None]


@dataclass
class FetchResult:
    body: bytes | None = None
    rejection: Rejection | None = None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""


def blocked_address(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
            or addr.is_reserved or addr.is_unspecified)


class PrivateAddressError(OSError):
    pass


class GuardedResolver(AbstractResolver):
    """Resolves, then refuses non-public addresses: the address checked is the one connected to."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if not blocked_address(r["host"])]
        if not allowed:
            raise PrivateAddressError(f"{host} resolves to a non-public address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import time

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def wrong_content_type(headers: dict[str, str]) -> Rejection | None:
    """A page or an API answer where an image should be (shared by both fetchers)."""
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "").lower()
    if ctype.startswith(("text/", "application/json", "application/xhtml")):
        return Rejection(FETCH_STAGE, "wrong_content_type", ctype[:60])
    return None


def check_url(url: str, allow_private: bool) -> Rejection | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        return Rejection(FETCH_STAGE, "bad_url", str(e)[:120])
    if parts.scheme not in ("http", "https"):
        return Rejection(FETCH_STAGE, "bad_scheme", (parts.scheme or url[:20]) + ":")
    if not host:
        return Rejection(FETCH_STAGE, "bad_url", url[:120])
    if not allow_private:
        try:
            if blocked_address(host):
                return Rejection(FETCH_STAGE, "private_network", host)
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                return Rejection(FETCH_STAGE, "private_network", host)
    return None


class Fetcher:
    def __init__(self, cfg: FetchConfig, user_agent: str) -> None:
        self.cfg = cfg
        self.user_agent = user_agent
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.cfg.concurrency, limit_per_host=self.cfg.per_host, ttl_dns_cache=600,
            resolver=None if self.cfg.allow_private_network else GuardedResolver())
        self.session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.user_agent, "Accept": "image/*,*/*;q=0.5"},
            timeout=aiohttp.ClientTimeout(total=self.cfg.timeout, sock_connect=min(10, self.cfg.timeout)),
            auto_decompress=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def fetch(self, url: str, on_headers: HeaderCheck | None = None) -> FetchResult:
        attempt = 0
        while True:
            result, retry_in = await self._fetch_once(url, on_headers)
            if retry_in is None or attempt >= self.cfg.retries:
                return result
            attempt += 1
            await asyncio.sleep(retry_in if retry_in > 0 else self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return self.cfg.backoff * (2 ** (attempt - 1)) * (0.75 + 0.5 * random.random())

    async def _fetch_once(self, url: str, on_headers: HeaderCheck | None) -> tuple[FetchResult, float | None]:
        """One attempt, redirects included. Second value: seconds to wait before a retry (0: backoff),
        or None when the outcome is final."""
        assert self.session is not None
        seen: set[str] = set()
        current = url
        status, headers = 0, {}

        def drop(reason: str, detail: str = "", retry: float | None = None) -> tuple[FetchResult, float | None]:
            rejection = Rejection(FETCH_STAGE, reason, detail[:120])
            return FetchResult(rejection=rejection, status=status, headers=headers, url=current), retry

        for _ in range(self.cfg.max_redirects + 1):
            bad = check_url(current, self.cfg.allow_private_network)
            if bad is not None:
                return FetchResult(rejection=bad, url=current), None
            seen.add(current)
            try:
                async with self.session.get(current, allow_redirects=False) as resp:
                    headers = dict(resp.headers.items())
                    status = resp.status
                    if status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        nxt = urljoin(current, resp.headers["Location"])
                        if nxt in seen:
                            return drop("redirect_loop", nxt)
                        current = nxt
                        continue
                    if status in RETRY_STATUSES:
                        wait = retry_after_seconds(resp.headers.get("Retry-After"))
                        return drop(f"http_{status}", retry=min(wait, self.cfg.max_retry_after) if wait else 0.0)
                    if status != 200:
                        return drop(f"http_{status}")
                    rej = on_headers(status, headers) if on_headers is not None else None
                    rej = rej or wrong_content_type(headers)
                    if rej is not None:
                        return FetchResult(rejection=rej, status=status, headers=headers, url=current), None
                    limit = self.cfg.max_image_bytes
                    if resp.content_length is not None and resp.content_length > limit:
                        return drop("too_large", f"Content-Length {resp.content_length}")
                    if resp.content_length is not None and \
                            resp.headers.get("Content-Encoding", "identity").lower() == "identity":
                        # framed by Content-Length, checked against the cap, not inflated: one read
                        return FetchResult(body=await resp.read(), status=status, headers=headers, url=current), None
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        size += len(chunk)
                        if size > limit:
                            return drop("too_large", f"> {limit} bytes")
                        chunks.append(chunk)
                    return FetchResult(body=b"".join(chunks), status=status, headers=headers, url=current), None
            except aiohttp.ClientPayloadError as e:
                return drop("truncated_body", str(e), retry=0.0)
            except asyncio.TimeoutError:
                return drop("timeout", f"> {self.cfg.timeout}s", retry=0.0)
            except aiohttp.ClientConnectorError as e:
                if isinstance(getattr(e, "os_error", None), PrivateAddressError) or \
                        isinstance(e.__cause__, PrivateAddressError) or "non-public address" in str(e):
                    return drop("private_network", urlsplit(current).hostname or "")
                if isinstance(e, aiohttp.ClientConnectorDNSError):
                    return drop("dns_error", str(e), retry=0.0)
                return drop("connection_error", str(e), retry=0.0)
            except (aiohttp.ClientError, OSError) as e:
                return drop("connection_error", f"{type(e).__name__}: {e}", retry=0.0)
            except ValueError as e:  # yarl/aiohttp reject some malformed URLs this way
                return drop("bad_url", str(e))
        return drop("too_many_redirects", url)
