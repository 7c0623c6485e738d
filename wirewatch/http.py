"""HTTP fetching with limits and an address policy, shared by the poller and the extractor.

In: a URL and request headers. Out: :class:`Fetched` (final URL, status, headers, body, redirect
history), or a :class:`FetchError` saying why not.

Two clients: httpx (synchronous, for pages fetched from worker threads) and aiohttp (asynchronous,
for polling thousands of feeds at once). Limits: only http and https; a connect and a read timeout
plus a total deadline (a server that trickles bytes — slow loris — is cut off at the deadline); at
most ``max_redirects`` redirects; the body, counted after decompression (so a gzip bomb is cut off
too), at most ``max_bytes``.
Address policy (:class:`AddressPolicy`, one for both clients, which cannot be made without it): a
host that resolves to a loopback, private, link-local, multicast, reserved or cloud-metadata address
is refused, on every hop of a redirect, unless an allow-listed network contains it (the tests allow
127.0.0.0/8 for their loopback servers). Both clients apply it where the connection is made, to the
very addresses they connect to — httpx through its network backend (:meth:`AddressPolicy.addresses`:
one resolution, checked and used), aiohttp through its resolver (the same method) and its socket
factory (:meth:`AddressPolicy.socket_for`, which also sees hosts written as addresses, for which
aiohttp asks no resolver) — so a DNS answer that changes between a check and the connection
(rebinding) cannot slip through. A URL that cannot even be parsed (``http://[::1/``) is a
:class:`FetchError` like any other.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import aiohttp.abc
import httpcore
import httpx
from aiohappyeyeballs import AddrInfoType  # aiohttp's own dependency: the type of its socket factory's argument
from aiohttp.abc import ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))


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


def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host`` (raises ``OSError`` when there are none)."""
    return list(dict.fromkeys(str(i[4][0]) for i in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)))


@functools.lru_cache(maxsize=65536)  # a poller checks the same hosts every cycle
def _literal(host: str) -> IPAddress | None:
    """The address a host is written as (``93.184.215.14``, ``::1``), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass
class AddressPolicy:
    """Which hosts may be fetched: public addresses, plus the allow-listed networks.

    ``resolve`` turns a host name into addresses (the system resolver unless a test gives another).
    :meth:`addresses` is what both clients call when they connect: resolve once, check, connect there;
    :meth:`socket_for` checks the address of each socket aiohttp opens.
    """

    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolve: Callable[[str], list[str]] = system_resolve

    @classmethod
    def from_strings(cls, networks: Iterable[str],
                     resolve: Callable[[str], list[str]] = system_resolve) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), resolve)

    def addresses(self, host: str) -> list[str]:
        """The addresses to connect to for ``host``, all allowed, or :class:`AddressRefused` (never cached:
        the answer checked is the answer used). A host written as an address is that address."""
        literal = _literal(host)
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = self.resolve(host)
            except (OSError, UnicodeError) as exc:
                raise FetchError(f"cannot resolve {host}: {exc}") from None
            if not found:
                raise FetchError(f"cannot resolve {host}: no address")
        verdict = self.verdict(host, found)
        if verdict:
            raise AddressRefused(verdict)
        return found

    def verdict(self, host: str, addresses: Iterable[str]) -> str:
        """'' when every address of the host may be fetched, else the reason it may not."""
        for raw in addresses:
            ip = _literal(raw)
            if ip is None:
                return f"{host} resolves to {raw!r}, not an IP address; refused"
            if any(ip in net for net in self.allow):
                continue
            reason = _refusal(ip)
            if reason:
                return f"{host} resolves to {ip}, {reason}; refused (allow it with [http] allow_networks)"
        return ""

    def socket_for(self, addr_info: AddrInfoType) -> socket.socket:
        """aiohttp's socket factory: a socket for ``addr_info`` (family, type, proto, name, address) once
        its address passed the policy, else ``OSError`` saying why (the connection is never attempted)."""
        family, type_, proto, _name, address = addr_info
        verdict = self.verdict(str(address[0]), [str(address[0])])
        if verdict:
            raise OSError(verdict)
        return socket.socket(family=family, type=type_, proto=proto)

    def check(self, url: str) -> None:
        """Refuse, before any connection, a URL that is not http(s), has no host, or whose host is written
        as a refused address. Names are not resolved here: they are checked where the connection is made."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise FetchError(f"{url}: not a valid URL: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched")
        if not host:
            raise FetchError(f"{url}: no host in URL")
        literal = _literal(host)
        verdict = self.verdict(host, [str(literal)]) if literal is not None else ""
        if verdict:
            raise AddressRefused(f"{url}: {verdict}")


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0  # connect and per-read timeout
    deadline: float = 60.0  # the whole request, body included
    max_bytes: int = 10_000_000  # after decompression
    max_redirects: int = 5


class PolicyBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses the policy allowed, resolved once."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.policy.addresses(host):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class PolicyTransport(httpx.HTTPTransport):
    """httpx's transport with :class:`PolicyBackend` (TLS still checks the certificate against the host name)."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=100,
                                             max_keepalive_connections=20, keepalive_expiry=5.0,
                                             network_backend=PolicyBackend(policy))


def make_client(timeout: float, user_agent: str, max_redirects: int, policy: AddressPolicy) -> httpx.Client:
    """A synchronous client; every connection it makes (redirect hops included) goes through the policy."""
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), follow_redirects=True,
                        max_redirects=max_redirects, headers={"User-Agent": user_agent},
                        transport=PolicyTransport(policy))


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
    except (httpx.HTTPError, httpx.InvalidURL, FetchError) as exc:
        raise _translate(url, exc) from None
    except (ValueError, UnicodeError, OSError) as exc:  # a URL or header even httpx cannot represent
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None


class PolicyResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's DNS resolution through :meth:`AddressPolicy.addresses` (in a thread): the addresses it
    returns are the policy's, checked, and the ones the connection is made to."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        try:
            found = await asyncio.to_thread(self.policy.addresses, host)
        except FetchError as exc:
            raise OSError(str(exc)) from None
        return [{"hostname": host, "host": a, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET} for a in found]

    async def close(self) -> None:
        return None


def make_async_session(limits: FetchLimits, user_agent: str, policy: AddressPolicy,
                       max_connections: int = 200, per_host: int = 2) -> aiohttp.ClientSession:
    """An aiohttp session for polling many hosts at once (call inside the running event loop).

    aiohttp rather than httpx here: its connection pool stays fast with thousands of hosts, where
    httpx's slows down as connections pile up (measured by benchmarks/bench_polling.py).
    """
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=per_host, ttl_dns_cache=60,
                                     resolver=PolicyResolver(policy), socket_factory=policy.socket_for)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(10.0, limits.timeout), sock_read=limits.timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers={"User-Agent": user_agent},
                                 auto_decompress=True, raise_for_status=False)


REDIRECTS = (301, 302, 303, 307, 308)


async def afetch(session: aiohttp.ClientSession, url: str, limits: FetchLimits,
                 headers: dict[str, str] | None = None, policy: AddressPolicy | None = None) -> Fetched:
    """The asynchronous :func:`fetch`, with the same limits; the deadline covers the whole request,
    redirects included. The session's policy checks every connection; ``policy`` (the same one) also
    refuses a hop's URL of the wrong form or written as a refused address before it is requested."""
    hops: list[tuple[int, str]] = []

    async def go() -> Fetched:
        current = url
        while True:
            if policy is not None:
                policy.check(current)
            async with session.get(current, headers=headers or {}, allow_redirects=False) as response:
                if response.status in REDIRECTS and response.headers.get("Location"):
                    if len(hops) >= limits.max_redirects:
                        raise FetchError(f"{url}: too many redirects")
                    hops.append((response.status, current))
                    try:
                        current = urljoin(current, response.headers["Location"])
                    except ValueError as exc:  # e.g. "http://[::1/": this feed's problem, no one else's
                        raise FetchError(f"{url}: redirected to an invalid URL "
                                         f"{response.headers['Location'][:200]!r}: {exc}") from None
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
        async with asyncio.timeout(limits.deadline):  # not wait_for: no extra task per request
            return await go()
    except TimeoutError:
        raise FetchError(f"{url}: no complete answer within the {limits.deadline:g}s deadline; cut off") from None
    except FetchError:
        raise
    except aiohttp.ClientConnectorError as exc:
        raise FetchError(f"{url}: ConnectError: {exc.os_error or exc}") from None
    except (aiohttp.ClientError, OSError, ValueError, UnicodeError) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
