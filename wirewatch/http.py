"""HTTP fetching with limits and an address policy, shared by the poller and the extractor.

In: a URL and request headers. Out: :class:`Fetched` (final URL, status, headers, body, redirect
history), or a :class:`FetchError` saying why not.

Two clients: httpx (synchronous, for pages fetched from worker threads) and aiohttp (asynchronous,
for polling thousands of feeds at once). Limits: only http and https; a connect and a read timeout
plus a total deadline (a server that trickles bytes — slow loris — is cut off at the deadline); at
most ``max_redirects`` redirects; the body, counted after decompression (so a gzip bomb is cut off
too), at most ``max_bytes``.
Address policy: a host that resolves to a loopback, private, link-local, multicast, reserved or
cloud-metadata address is refused, on every hop of a redirect, unless an allow-listed network
contains it (the tests allow 127.0.0.0/8 for their loopback servers).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import aiohttp.abc
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
DNS_CACHE_SECONDS = 60.0


class FetchError(RuntimeError):
    """A URL that could not be fetched; the message names it and says why."""


class AddressRefused(FetchError):
    """A URL whose host is not a public address (and not allow-listed)."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: Mapping[str, str]  # case-insensitive (httpx) or with lower-case keys (aiohttp)
    content: bytes
    history: tuple[tuple[int, str], ...] = ()  # (status, url) of each redirect followed

    @property
    def permanent_redirect(self) -> str:
        """The final URL when every redirect followed was permanent (301/308), else ''."""
        if self.history and all(status in (301, 308) for status, _ in self.history):
            return self.url
        return ""


def _refusal(ip: IPAddress) -> str:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, name in ((ip.is_loopback, "a loopback"), (ip.is_link_local, "a link-local"),
                       (ip.is_private, "a private"), (ip.is_multicast, "a multicast"),
                       (ip.is_reserved, "a reserved"), (ip.is_unspecified, "an unspecified")):
        if test:
            return f"{name} address"
    return ""


@dataclass
class AddressPolicy:
    """Which hosts may be fetched: public addresses, plus the allow-listed networks."""

    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    _cache: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def verdict(self, host: str, addresses: Iterable[str]) -> str:
        """'' when every address of the host may be fetched, else the reason it may not."""
        for raw in addresses:
            ip = ipaddress.ip_address(raw.split("%", 1)[0])
            if any(ip in net for net in self.allow):
                continue
            reason = _refusal(ip)
            if reason:
                return f"{host} resolves to {ip}, {reason}; refused (allow it with [http] allow_networks)"
        return ""

    def _cached(self, host: str) -> str | None:
        hit = self._cache.get(host)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def _remember(self, host: str, verdict: str) -> str:
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[host] = (time.monotonic() + DNS_CACHE_SECONDS, verdict)
        return verdict

    @staticmethod
    def _check_url(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched")
        if not parts.hostname:
            raise FetchError(f"{url}: no host in URL")
        return parts.hostname

    def check(self, url: str) -> None:
        host = self._check_url(url)
        verdict = self._cached(host)
        if verdict is None:
            try:
                infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise FetchError(f"{url}: cannot resolve {host}: {exc}") from None
            verdict = self._remember(host, self.verdict(host, {str(i[4][0]) for i in infos}))
        if verdict:
            raise AddressRefused(f"{url}: {verdict}")

    async def acheck(self, url: str) -> None:
        host = self._check_url(url)
        verdict = self._cached(host)
        if verdict is None:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise FetchError(f"{url}: cannot resolve {host}: {exc}") from None
            verdict = self._remember(host, self.verdict(host, {str(i[4][0]) for i in infos}))
        if verdict:
            raise AddressRefused(f"{url}: {verdict}")


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0  # connect and per-read timeout
    deadline: float = 60.0  # the whole request, body included
    max_bytes: int = 10_000_000  # after decompression
    max_redirects: int = 5


def make_client(timeout: float, user_agent: str, max_redirects: int = 5,
                policy: AddressPolicy | None = None) -> httpx.Client:
    hooks = {"request": [lambda request: policy.check(str(request.url))]} if policy else {}
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), follow_redirects=True,
                        max_redirects=max_redirects, headers={"User-Agent": user_agent}, event_hooks=hooks)


def _too_big(url: str, declared: str, max_bytes: int) -> None:
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url}: body of {declared} bytes exceeds the limit of {max_bytes} bytes")


def _translate(url: str, exc: Exception) -> FetchError:
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchError(f"{url}: too many redirects")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"{url}: timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"{url}: body cannot be decoded: {exc}")
    return FetchError(f"{url}: {type(exc).__name__}: {exc}")


def _history(response: httpx.Response) -> tuple[tuple[int, str], ...]:
    return tuple((r.status_code, str(r.url)) for r in response.history)


def fetch(client: httpx.Client, url: str, max_bytes: int, headers: dict[str, str] | None = None,
          deadline: float = 60.0) -> Fetched:
    """GET ``url`` and return its body, at most ``max_bytes`` of it, or raise :class:`FetchError`."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"{url}: only http and https URLs are fetched")
    end = time.monotonic() + deadline
    try:
        with client.stream("GET", url, headers=headers or {}) as response:
            _too_big(url, response.headers.get("content-length", ""), max_bytes)
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{url}: body exceeds the limit of {max_bytes} bytes (after decompression)")
                if time.monotonic() > end:
                    raise FetchError(f"{url}: still sending after the {deadline:g}s deadline; cut off")
            return Fetched(str(response.url), response.status_code, response.headers, bytes(body), _history(response))
    except (httpx.HTTPError, FetchError) as exc:
        raise _translate(url, exc) from None


class PolicyResolver(aiohttp.abc.AbstractResolver):
    """DNS resolution that applies the address policy to the addresses it returns.

    Checking where the connection really goes (not only the URL beforehand) closes the gap a DNS
    answer that changes between the check and the connection would leave open.
    """

    def __init__(self, policy: AddressPolicy | None) -> None:
        self.policy = policy
        self.inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        answers = await self.inner.resolve(host, port, family)
        if self.policy is not None:
            verdict = self.policy.verdict(host, [a["host"] for a in answers])
            if verdict:
                raise OSError(verdict)
        return answers

    async def close(self) -> None:
        await self.inner.close()


def make_async_session(limits: FetchLimits, user_agent: str, policy: AddressPolicy | None,
                       max_connections: int = 200, per_host: int = 2) -> aiohttp.ClientSession:
    """An aiohttp session for polling many hosts at once (call inside the running event loop).

    aiohttp rather than httpx here: its connection pool stays fast with thousands of hosts, where
    httpx's slows down as connections pile up (measured by benchmarks/bench_polling.py).
    """
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=per_host, ttl_dns_cache=60,
                                     resolver=PolicyResolver(policy))
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(10.0, limits.timeout), sock_read=limits.timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers={"User-Agent": user_agent},
                                 auto_decompress=True, raise_for_status=False)


REDIRECTS = (301, 302, 303, 307, 308)


async def afetch(session: aiohttp.ClientSession, url: str, limits: FetchLimits,
                 headers: dict[str, str] | None = None, policy: AddressPolicy | None = None) -> Fetched:
    """The asynchronous :func:`fetch`, with the same limits; the deadline covers the whole request,
    redirects included, and the address policy is applied on every hop."""
    hops: list[tuple[int, str]] = []

    async def go() -> Fetched:
        current = url
        while True:
            if policy is not None:
                await policy.acheck(current)
            async with session.get(current, headers=headers or {}, allow_redirects=False) as response:
                if response.status in REDIRECTS and response.headers.get("Location"):
                    if len(hops) >= limits.max_redirects:
                        raise FetchError(f"{url}: too many redirects")
                    hops.append((response.status, current))
                    current = urljoin(current, response.headers["Location"])
                    continue
                _too_big(url, response.headers.get("Content-Length", ""), limits.max_bytes)
                body = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    body.extend(chunk)
                    if len(body) > limits.max_bytes:
                        raise FetchError(f"{url}: body exceeds the limit of {limits.max_bytes} bytes "
                                         "(after decompression)")
                return Fetched(current, response.status, {k.lower(): v for k, v in response.headers.items()},
                               bytes(body), tuple(hops))

    try:
        return await asyncio.wait_for(go(), timeout=limits.deadline)
    except TimeoutError:
        raise FetchError(f"{url}: no complete answer within the {limits.deadline:g}s deadline; cut off") from None
    except FetchError:
        raise
    except aiohttp.ClientConnectorError as exc:
        raise FetchError(f"{url}: ConnectError: {exc.os_error or exc}") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
