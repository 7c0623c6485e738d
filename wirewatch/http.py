"""HTTP fetching with limits, shared by the poller and the extractor.

In: a URL and request headers. Out: :class:`Fetched` (final URL, status, headers, body), or a
:class:`FetchError` saying why not: network error, timeout, too many redirects, body too large.
Only http and https are fetched; the body is read in chunks and cut off at ``max_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx


class FetchError(RuntimeError):
    """A URL that could not be fetched; the message names it and says why."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    content: bytes


def make_client(timeout: float, user_agent: str, max_redirects: int = 5) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), follow_redirects=True,
                        max_redirects=max_redirects, headers={"User-Agent": user_agent})


def fetch(client: httpx.Client, url: str, max_bytes: int, headers: dict[str, str] | None = None) -> Fetched:
    """GET ``url`` and return its body, at most ``max_bytes`` of it, or raise :class:`FetchError`."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"{url}: only http and https URLs are fetched")
    try:
        with client.stream("GET", url, headers=headers or {}) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url}: body of {declared} bytes exceeds the limit of {max_bytes}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{url}: body exceeds the limit of {max_bytes} bytes")
            return Fetched(str(response.url), response.status_code, response.headers, bytes(body))
    except httpx.TooManyRedirects:
        raise FetchError(f"{url}: too many redirects") from None
    except httpx.TimeoutException as exc:
        raise FetchError(f"{url}: timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
