"""The address policy as a plain function of resolved addresses (no traffic leaves this machine)."""

import re

import pytest

from wirewatch.http import AddressPolicy, FetchError

STRICT = AddressPolicy()


@pytest.mark.parametrize(("address", "reason"), [
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("127.0.0.1", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.9", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fe80::1", "a link-local address"),
    ("169.254.10.10", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "a private address"),
])
def test_non_public_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    verdict = STRICT.verdict("feeds.example", [address])
    assert verdict.startswith(f"feeds.example resolves to {address}, {reason}")


def test_public_addresses_pass_and_one_bad_address_among_good_ones_refuses() -> None:
    assert STRICT.verdict("news.example", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]) == ""
    assert STRICT.verdict("mixed.example", ["93.184.215.14", "10.0.0.5"]) != ""


def test_the_allow_list_opens_only_its_networks() -> None:
    policy = AddressPolicy.from_strings(["127.0.0.0/8"])
    assert policy.verdict("localhost", ["127.0.0.1"]) == ""
    assert "169.254.169.254" in policy.verdict("meta", ["169.254.169.254"])


def test_only_http_and_https() -> None:
    for url in ("ftp://example.org/feed", "file:///etc/passwd", "gopher://x/"):
        with pytest.raises(FetchError, match="only http and https"):
            STRICT.check(url)


def test_the_check_before_a_request_resolves_nothing_and_refuses_hosts_written_as_refused_addresses() -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    policy = AddressPolicy(resolve=resolve)
    policy.check("https://rebind.example/feed")  # a name: checked where the connection is made, not here
    assert asked == []
    for url, address in (("http://127.0.0.1:8080/x", "127.0.0.1"), ("http://[::1]/x", "::1"),
                         ("http://169.254.169.254/latest/meta-data", "169.254.169.254")):
        said = re.escape(f"{url}: {address} resolves to {address}, a ")
        with pytest.raises(FetchError, match=rf"{said}.*address; refused"):
            policy.check(url)
    policy.check("http://93.184.215.14/")


def test_connect_time_addresses_resolve_names_once_and_take_written_addresses_as_they_are() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    policy = AddressPolicy(resolve=lambda host: next(answers))
    assert policy.addresses("news.example") == ["93.184.215.14"]
    with pytest.raises(FetchError, match=r"news\.example resolves to 127\.0\.0\.1, a loopback address; refused"):
        policy.addresses("news.example")  # the next answer is checked too: nothing is cached
    assert policy.addresses("93.184.215.14") == ["93.184.215.14"]  # no resolver asked (it has no answer left)
    with pytest.raises(FetchError, match=r"10\.0\.0\.1, a private address; refused"):
        policy.addresses("10.0.0.1")


def test_the_socket_factory_refuses_a_refused_address_before_any_socket_is_made() -> None:
    import socket

    policy = AddressPolicy()
    with pytest.raises(OSError, match=r"127\.0\.0\.1, a loopback address; refused"):
        policy.socket_for((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    with policy.socket_for((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80))) as sock:
        assert sock.family == socket.AF_INET
