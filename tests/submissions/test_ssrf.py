"""The SSRF guard: URL refusals, address categories, pinning, and real loopback servers.

Network rule: nothing here resolves an external name or connects anywhere but loopback. Names
are resolved by :func:`stub_resolver`; the autouse ``loopback_only`` fixture makes any other DNS
lookup or connection fail the test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from arena.client import ChatClient, ClientLimits
from arena.client._errors import RedirectRefused
from submissions import ssrf
from submissions.ssrf import (
    SafeTarget,
    URLRefused,
    allow_private_from_env,
    check_url,
    is_forbidden_address,
    pinned_transport,
    system_resolver,
)

FAST = ClientLimits(deadline_s=5, connect_timeout_s=2, max_retries=0)
MESSAGES = [{"role": "user", "content": "hi"}]

STUB_DNS: dict[str, list[str]] = {
    "api.example.com": ["8.8.8.8", "2606:4700::1111"],
    "api.example.com.": ["8.8.8.8"],
    "one.example.com": ["1.1.1.1"],
    "xn--bcher-kva.example": ["9.9.9.9"],
    "v4mapped.example.com": ["::ffff:8.8.4.4"],
    "loop.test": ["127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "mixed.test": ["8.8.8.8", "10.0.0.7"],
    "mixed6.test": ["2606:4700::1111", "fd12::1"],
    "metadata.test": ["169.254.169.254"],
    "scoped.test": ["fe80::1%eth0"],
    "garbage.test": ["not-an-address"],
    "empty.test": [],
}


async def stub_resolver(host: str, port: int) -> list[str]:
    """Answers from ``STUB_DNS``; unknown names fail like a real NXDOMAIN."""
    if host not in STUB_DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return list(STUB_DNS[host])


async def no_resolver(host: str, port: int) -> list[str]:
    """For IP literals: resolving anything is a bug."""
    raise AssertionError(f"resolver called for {host}")


def _is_loopback(host: Any) -> bool:
    """Whether ``host`` is a loopback IP literal (or localhost)."""
    if host in (None, "localhost", b"localhost"):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any DNS lookup of a real name and any connection that is not to loopback."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise AssertionError(f"test tried to connect to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# ------------------------------------------------------------------------------ refusals

TEREDO_PRIVATE_CLIENT = "2001:0:4136:e378:8000:63bf:3f57:fefe"  # client 192.168.1.1
BAD_URLS: list[tuple[str, str]] = [
    # scheme, credentials, host, port, query, fragment
    ("file:///etc/passwd", "not file:"),
    ("gopher://api.example.com:70/_GET", "not gopher:"),
    ("ftp://api.example.com/", "not ftp:"),
    ("javascript:alert(1)", "not javascript:"),
    ("//api.example.com/v1", "no scheme"),
    ("http://user:pass@api.example.com/v1", "credentials"),
    ("http://user@api.example.com/v1", "credentials"),
    ("http://@api.example.com/v1", "credentials"),
    ("http:///v1", "no host"),
    ("http://", "no host"),
    ("http://:8080/v1", "no host"),
    ("http://api.example.com:0/v1", "invalid port '0'"),
    ("http://api.example.com:65536/v1", "invalid port '65536'"),
    ("http://api.example.com:80a/v1", "invalid port"),
    ("http://api.example.com:+80/v1", "invalid port"),
    ("http://api.example.com:/v1", "empty port"),
    ("http://api.example.com:80:80/v1", "several ':'"),
    ("http://api.example.com/v1#top", "fragment"),
    ("http://api.example.com/v1#", "fragment"),
    ("http://api.example.com/v1?key=1", "query"),
    # loopback, every spelling
    ("http://127.0.0.1:8000/v1", "127.0.0.1 is loopback"),
    ("http://127.1/", "127.0.0.1 is loopback"),
    ("http://127.0.1/", "127.0.0.1 is loopback"),
    ("http://2130706433/", "127.0.0.1 is loopback"),
    ("http://0x7f000001/", "127.0.0.1 is loopback"),
    ("http://0177.0.0.1/", "127.0.0.1 is loopback"),
    ("http://0x7f.0.0.1/", "127.0.0.1 is loopback"),
    ("http://0x7F.1/", "127.0.0.1 is loopback"),
    ("http://0177.0.0x0.01/", "127.0.0.1 is loopback"),
    ("http://127.0.0.1./", "127.0.0.1 is loopback"),
    ("http://127.255.255.254/", "127.255.255.254 is loopback"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1 is loopback"),  # fullwidth
    ("http://localhost:8000/v1", "localhost is a loopback name"),
    ("http://localhost.:8000/v1", "localhost. is a loopback name"),
    ("http://LocalHost/v1", "localhost is a loopback name"),
    ("http://api.localhost/v1", "loopback name"),
    ("http://loop.test/v1", "loop.test resolves to a forbidden address: it is loopback"),
    ("http://[::1]:8000/v1", "::1 is loopback"),
    ("http://[0:0:0:0:0:0:0:1]/v1", "::1 is loopback"),
    ("http://[::ffff:127.0.0.1]/", "embeds 127.0.0.1 (IPv4-mapped"),
    ("http://[::ffff:7f00:1]/", "embeds 127.0.0.1 (IPv4-mapped"),
    ("http://[::127.0.0.1]/", "embeds 127.0.0.1 (IPv4-compatible"),
    # unspecified
    ("http://0.0.0.0:8000/", "0.0.0.0 is unspecified"),
    ("http://0/", "0.0.0.0 is unspecified"),
    ("http://[::]/", ":: is unspecified"),
    # private, link-local, cloud metadata, CGNAT
    ("http://10.0.0.5/", "10.0.0.5 is private (10.0.0.0/8)"),
    ("http://10.1/", "10.0.0.1 is private"),
    ("http://172.16.0.1/", "private (172.16.0.0/12)"),
    ("http://172.31.255.255/", "private (172.16.0.0/12)"),
    ("http://192.168.1.1/", "private (192.168.0.0/16)"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is link-local (cloud metadata)"),
    ("http://2852039166/", "169.254.169.254 is link-local (cloud metadata)"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254 is link-local (cloud metadata)"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254 is link-local (cloud metadata)"),
    ("http://169.254.170.2/v2/credentials", "AWS ECS container credentials"),
    ("http://100.100.100.200/", "Alibaba Cloud metadata"),
    ("http://168.63.129.16/", "Azure"),
    ("http://169.254.1.1/", "link-local (169.254.0.0/16)"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://metadata.test/", "resolves to a forbidden address: it is link-local (cloud meta"),
    # multicast, broadcast, reserved, documentation, benchmarking, IETF
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://240.0.0.1/", "240.0.0.1 is reserved (240.0.0.0/4)"),
    ("http://255.255.255.255/", "limited broadcast"),
    ("http://4294967295/", "limited broadcast"),
    ("http://198.18.0.1/", "benchmarking (198.18.0.0/15)"),
    ("http://192.0.0.1/", "IETF protocol assignments"),
    ("http://192.0.0.9/", "IETF protocol assignments"),  # is_global says True; refused anyway
    ("http://192.0.2.10/", "documentation (TEST-NET-1"),
    ("http://203.0.113.5/", "documentation (TEST-NET-3"),
    # IPv6 ranges and IPv4-carrying forms
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://[fe80::1]/", "link-local (fe80::/10)"),
    ("http://[fc00::1]/", "unique-local"),
    ("http://[fd12:3456::1]/", "unique-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[fd00:ec2::254]/", "AWS cloud metadata"),
    ("http://[ff02::1]/", "multicast (ff00::/8)"),
    ("http://[2001:db8::1]/", "documentation (2001:db8::/32)"),
    ("http://[100::1]/", "discard-only"),
    ("http://[4000::1]/", "reserved (outside the global unicast range"),
    ("http://[2002:c0a8:0101::1]/", "embeds 192.168.1.1 (6to4"),
    ("http://[2002:7f00:1::]/", "embeds 127.0.0.1 (6to4"),
    ("http://[64:ff9b::10.0.0.1]/", "embeds 10.0.0.1 (NAT64"),
    ("http://[64:ff9b::a9fe:a9fe]/", "embeds 169.254.169.254 (NAT64"),
    ("http://[64:ff9b:1::808:808]/", "NAT64 local-use"),
    (f"http://[{TEREDO_PRIVATE_CLIENT}]/", "embeds 192.168.1.1 (Teredo client"),
    ("http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/", "Teredo (2001::/32)"),  # public client
    ("http://[2001:db8::5efe:a00:1]/", "embeds 10.0.0.1 (ISATAP"),
    ("http://[::8.8.8.8]/", "IPv4-compatible (::/96), a deprecated form"),
    # names resolving to a forbidden address, or to nothing
    ("http://mixed.test/v1", "mixed.test resolves to a forbidden address: it is private"),
    ("http://mixed6.test/v1", "resolves to a forbidden address: it is unique-local"),
    ("http://scoped.test/v1", "zone id"),
    ("http://empty.test/v1", "empty.test does not resolve to any address"),
    ("http://nxdomain.test/v1", "nxdomain.test could not be resolved"),
    ("http://garbage.test/v1", "resolved to something that is not an address"),
    ("http://service.internal/v1", "local-network name (.internal)"),
    ("http://printer.local/v1", "local-network name (.local)"),
    # malformed hosts and text
    ("http://1.2.3.4.5/", "looks like an IPv4 address but is not a valid one"),
    ("http://256.0.0.1/", "not a valid one"),
    ("http://1.16777216/", "not a valid one"),
    ("http://08.0.0.1/", "not a valid one"),
    ("http://0x/", "not a valid one"),
    ("http://evil.example.1/", "not a valid one"),
    ("http://exa%6dple.com/", "not a valid host name"),
    ("http://a..b/", "not a valid host name"),
    ("http://-a.example.com/", "not a valid host name"),
    ("http://" + "a" * 64 + ".example.com/", "not a valid host name"),
    ("http://[::1/", "cannot be parsed"),
    ("http://[::1]x/", "malformed [IPv6] host"),
    ("http://[example.com]/", "cannot be parsed"),
    ("http://evil.example.com\\@127.0.0.1/", "backslash"),
    ("http://api.example.com/" + "v" * 2040, "too long"),
    ("http://api.example.com/v1 x", "whitespace or a control character (SPACE)"),
    ("http://api.example.com/\nv1", "whitespace or a control character"),
    ("http://127.0.0.1\t.example.com/", "whitespace or a control character"),
    (" http://api.example.com/v1", "whitespace or a control character"),
    ("http://api.example.com\x00.evil/", "whitespace or a control character"),
    ("http://api.exam\u200bple.com/", "ZERO WIDTH SPACE"),
    ("", "empty"),
]


@pytest.mark.parametrize(("url", "fragment"), BAD_URLS)
async def test_bad_url_is_refused_with_a_reason(url: str, fragment: str) -> None:
    with pytest.raises(URLRefused) as caught:
        await check_url(url, resolver=stub_resolver)
    assert fragment in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert isinstance(caught.value, ValueError)


# ------------------------------------------------------------------------------ acceptances


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.example.com/v1",
            SafeTarget(
                url="https://api.example.com/v1",
                scheme="https",
                host="api.example.com",
                port=443,
                addresses=("8.8.8.8", "2606:4700::1111"),
                pinned="8.8.8.8",
            ),
        ),
        (
            "HTTPS://API.Example.COM:443/v1/",
            SafeTarget(
                "https://api.example.com/v1",
                "https",
                "api.example.com",
                443,
                ("8.8.8.8", "2606:4700::1111"),
                "8.8.8.8",
            ),
        ),
        (
            "http://one.example.com:8080",
            SafeTarget(
                "http://one.example.com:8080/v1",
                "http",
                "one.example.com",
                8080,
                ("1.1.1.1",),
                "1.1.1.1",
            ),
        ),
        (
            "http://one.example.com/openai/v1/",
            SafeTarget(
                "http://one.example.com/openai/v1",
                "http",
                "one.example.com",
                80,
                ("1.1.1.1",),
                "1.1.1.1",
            ),
        ),
        (
            "https://api.example.com./v1",
            SafeTarget(
                "https://api.example.com./v1",
                "https",
                "api.example.com.",
                443,
                ("8.8.8.8",),
                "8.8.8.8",
            ),
        ),
        (
            "https://B\u00fccher.example/v1",
            SafeTarget(
                "https://xn--bcher-kva.example/v1",
                "https",
                "xn--bcher-kva.example",
                443,
                ("9.9.9.9",),
                "9.9.9.9",
            ),
        ),
        (
            "http://v4mapped.example.com/v1",
            SafeTarget(
                "http://v4mapped.example.com/v1",
                "http",
                "v4mapped.example.com",
                80,
                ("::ffff:808:404",),
                "8.8.4.4",
            ),
        ),
    ],
)
async def test_good_name_is_accepted_and_pinned(url: str, expected: SafeTarget) -> None:
    calls: list[tuple[str, int]] = []

    async def recording(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return await stub_resolver(host, port)

    target = await check_url(url, resolver=recording)
    assert target == expected
    assert calls == [(expected.host, expected.port)]
    async with ChatClient(target.url) as client:  # the URL is one the client takes as it is
        assert client.base_url == target.url


@pytest.mark.parametrize(
    ("url", "host", "root"),
    [
        ("http://8.8.8.8:8080/v1", "8.8.8.8", "http://8.8.8.8:8080/v1"),
        ("http://134744072/", "8.8.8.8", "http://8.8.8.8/v1"),  # decimal spelling
        ("https://0x8.0x8.0x8.0x8/v1", "8.8.8.8", "https://8.8.8.8/v1"),
        ("http://1.1/", "1.0.0.1", "http://1.0.0.1/v1"),
        ("http://[2606:4700:0::1111]/v1", "2606:4700::1111", "http://[2606:4700::1111]/v1"),
        ("http://[64:ff9b::8.8.8.8]/v1", "64:ff9b::808:808", "http://[64:ff9b::808:808]/v1"),
        ("http://[::ffff:8.8.8.8]/v1", "::ffff:808:808", "http://[::ffff:808:808]/v1"),
        ("http://[2002:808:808::1]/v1", "2002:808:808::1", "http://[2002:808:808::1]/v1"),
    ],
)
async def test_good_ip_literal_is_accepted_without_resolving(
    url: str, host: str, root: str
) -> None:
    target = await check_url(url, resolver=no_resolver)
    assert (target.host, target.url) == (host, root)
    assert target.addresses == (host,)


async def test_ipv4_mapped_literal_is_pinned_as_plain_ipv4() -> None:
    target = await check_url("http://[::ffff:8.8.8.8]/v1", resolver=no_resolver)
    assert target.pinned == "8.8.8.8"


async def test_every_address_is_checked_not_only_the_first() -> None:
    STUB_DNS["late.test"] = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::1"]
    try:
        with pytest.raises(URLRefused, match=r"resolves to a forbidden address: it is loopback"):
            await check_url("http://late.test/v1", resolver=stub_resolver)
    finally:
        del STUB_DNS["late.test"]


async def test_duplicate_answers_are_collapsed() -> None:
    async def twice(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "8.8.8.8", "2606:4700:0::1111", "2606:4700::1111"]

    target = await check_url("http://dup.test/v1", resolver=twice)
    assert target.addresses == ("8.8.8.8", "2606:4700::1111")


async def test_slow_resolver_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "RESOLVE_TIMEOUT_S", 0.05)

    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return ["8.8.8.8"]

    with pytest.raises(URLRefused, match=r"took longer than 0\.05 s"):
        await check_url("http://slow.test/v1", resolver=slow)


async def test_exactly_the_length_cap_is_accepted() -> None:
    url = "http://8.8.8.8/" + "v" * (ssrf.MAX_URL_CHARS - len("http://8.8.8.8/"))
    assert len(url) == ssrf.MAX_URL_CHARS
    assert (await check_url(url, resolver=no_resolver)).pinned == "8.8.8.8"


# ------------------------------------------------------------------------------ allow_private


@pytest.mark.parametrize(
    ("url", "pinned"),
    [
        ("http://127.0.0.1:8000/v1", "127.0.0.1"),
        ("http://127.1:8000/v1", "127.0.0.1"),
        ("http://10.0.0.5/v1", "10.0.0.5"),
        ("http://192.168.1.20:11434", "192.168.1.20"),
        ("http://100.64.0.1/v1", "100.64.0.1"),
        ("http://169.254.1.1/v1", "169.254.1.1"),
        ("http://[::1]:8000/v1", "::1"),
        ("http://[fd12::1]/v1", "fd12::1"),
        ("http://[2002:c0a8:0101::1]/v1", "2002:c0a8:101::1"),
        ("http://localhost:8000/v1", "127.0.0.1"),
        ("http://loop.test/v1", "127.0.0.1"),
        ("http://mixed.test/v1", "8.8.8.8"),
        ("http://service.internal/v1", None),
    ],
)
async def test_allow_private_accepts_internal_addresses(url: str, pinned: str | None) -> None:
    STUB_DNS["service.internal"] = ["10.1.2.3"]
    try:
        target = await check_url(url, resolver=stub_resolver, allow_private=True)
    finally:
        del STUB_DNS["service.internal"]
    assert target.pinned == (pinned or "10.1.2.3")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://169.254.169.254/", "link-local (cloud metadata)"),
        ("http://2852039166/", "link-local (cloud metadata)"),
        ("http://[::ffff:169.254.169.254]/", "link-local (cloud metadata)"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local (cloud metadata)"),
        ("http://metadata.test/", "link-local (cloud metadata)"),
        ("http://[fd00:ec2::254]/", "AWS cloud metadata"),
        ("http://169.254.170.2/", "AWS ECS"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[fe80::1%25eth0]/", "zone id"),
        ("http://empty.test/", "does not resolve"),
        ("file:///etc/passwd", "not file:"),
    ],
)
async def test_allow_private_still_refuses(url: str, fragment: str) -> None:
    with pytest.raises(URLRefused) as caught:
        await check_url(url, resolver=stub_resolver, allow_private=True)
    assert fragment in caught.value.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("0", False), ("no", False), ("1", True), (" TRUE ", True)],
)
def test_allow_private_from_env(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv(ssrf.ALLOW_PRIVATE_ENV, raising=False)
    else:
        monkeypatch.setenv(ssrf.ALLOW_PRIVATE_ENV, value)
    assert allow_private_from_env() is expected


# ------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001:80b::200e", "64:ff9b::808:808"],
)
def test_global_addresses_are_allowed(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("127.0.0.1", "127.0.0.1 is loopback (127.0.0.0/8)"),
        ("169.254.169.254", "169.254.169.254 is link-local (cloud metadata)"),
        ("224.0.0.1", "multicast"),  # ipaddress calls it global
        ("192.88.99.1", "6to4 relay anycast"),  # ipaddress calls it global
        ("::ffff:10.0.0.1", "embeds 10.0.0.1 (IPv4-mapped"),  # ipaddress: not "private" per se
        ("64:ff9b::a00:1", "embeds 10.0.0.1 (NAT64"),  # ipaddress calls it global
        ("2002:a00:1::1", "embeds 10.0.0.1 (6to4"),  # ipaddress calls it global
        ("fec0::1", "site-local"),  # ipaddress calls it global
        ("5f00::1", "reserved"),  # ipaddress calls it global
        ("fe80::1%eth0", "zone id"),
    ],
)
def test_forbidden_addresses_name_their_category(address: str, fragment: str) -> None:
    reason = is_forbidden_address(ipaddress.ip_address(address))
    assert reason is not None
    assert fragment in reason


# ------------------------------------------------------------------------------ system resolver


async def test_system_resolver_returns_loopback_for_localhost() -> None:
    addresses = await system_resolver("localhost", 80)
    assert addresses
    assert len(addresses) == len(set(addresses))
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)


async def test_default_resolver_refuses_loopback_literal_without_dns() -> None:
    with pytest.raises(URLRefused, match="loopback"):
        await check_url("http://127.0.0.1:9/v1")


# ------------------------------------------------------------------------------ pinned transport


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Requests that reached the real HTTP transport (which answers 200 without connecting)."""
    seen: list[httpx.Request] = []

    async def fake_send(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", fake_send)
    return seen


def _target(url: str, host: str, port: int, pinned: str) -> SafeTarget:
    """A SafeTarget built by hand (for transport tests that never resolve)."""
    scheme = url.split(":", 1)[0]
    return SafeTarget(url, scheme, host, port, (pinned,), pinned)


async def test_pinned_https_request_keeps_host_and_sni(captured: list[httpx.Request]) -> None:
    target = _target("https://api.example.com/v1", "api.example.com", 443, "8.8.8.8")
    async with httpx.AsyncClient(transport=pinned_transport(target)) as client:
        response = await client.post("https://api.example.com/v1/chat/completions", json={})
    assert response.status_code == 200
    (sent,) = captured
    assert sent.url == "https://8.8.8.8/v1/chat/completions"
    assert sent.headers["host"] == "api.example.com"
    assert sent.extensions["sni_hostname"] == "api.example.com"
    assert response.request.url.host == "api.example.com"  # the caller's request is untouched


async def test_pinned_ipv6_and_trailing_dot(captured: list[httpx.Request]) -> None:
    target = _target("https://api.example.com./v1", "api.example.com.", 8443, "2606:4700::1111")
    async with httpx.AsyncClient(transport=pinned_transport(target)) as client:
        await client.get("https://api.example.com.:8443/v1/models")
    (sent,) = captured
    assert sent.url == "https://[2606:4700::1111]:8443/v1/models"
    assert sent.headers["host"] == "api.example.com.:8443"
    assert sent.extensions["sni_hostname"] == "api.example.com"


async def test_pinned_plain_http_and_ip_hosts_get_no_sni(captured: list[httpx.Request]) -> None:
    http_target = _target("http://api.example.com/v1", "api.example.com", 80, "8.8.8.8")
    ip_target = _target("https://8.8.8.8/v1", "8.8.8.8", 443, "8.8.8.8")
    async with httpx.AsyncClient(transport=pinned_transport(http_target)) as client:
        await client.get("http://api.example.com/v1/models")
    async with httpx.AsyncClient(transport=pinned_transport(ip_target)) as client:
        await client.get("https://8.8.8.8/v1/models")
    assert ["sni_hostname" in sent.extensions for sent in captured] == [False, False]


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/v1/models",  # another host
        "https://api.example.com:8443/v1/models",  # another port
        "http://api.example.com/v1/models",  # another scheme
        "https://8.8.8.8/v1/models",  # the pinned address itself, by IP
        "https://api.example.com.evil.test/v1/models",
    ],
)
async def test_pinned_transport_refuses_other_origins(
    url: str, captured: list[httpx.Request]
) -> None:
    target = _target("https://api.example.com/v1", "api.example.com", 443, "8.8.8.8")
    async with httpx.AsyncClient(transport=pinned_transport(target)) as client:
        with pytest.raises(httpx.ConnectError, match=r"pinned to https://api\.example\.com:443"):
            await client.get(url)
    assert captured == []


@pytest.mark.parametrize("option", ["proxy", "uds"])
def test_pinned_transport_refuses_bypassing_options(option: str) -> None:
    target = _target("http://api.example.com/v1", "api.example.com", 80, "8.8.8.8")
    with pytest.raises(ValueError, match=option):
        pinned_transport(target, **{option: "http://127.0.0.1:3128" if option == "proxy" else "/x"})


# ------------------------------------------------------------------------------ loopback servers


@dataclass
class Seen:
    """One request a loopback server received."""

    method: str
    path: str
    host: str


Responder = Callable[[str, str], bytes]


def _response(status: str, body: bytes = b"", extra: str = "") -> bytes:
    """A whole HTTP/1.1 response that closes the connection."""
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n{extra}"
    return head.encode() + b"\r\n" + body


def _json(payload: Any) -> bytes:
    """A 200 JSON response."""
    return _response("200 OK", json.dumps(payload).encode(), "Content-Type: application/json\r\n")


def openai_responder(method: str, path: str) -> bytes:
    """A minimal OpenAI-compatible server: model list and a non-streamed completion."""
    if path.endswith("/models"):
        return _json({"object": "list", "data": [{"id": "m1"}]})
    return _json(
        {
            "model": "m1",
            "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }
    )


@dataclass
class LoopbackServer:
    """A tiny HTTP/1.1 server on a loopback address that records what it receives."""

    responder: Responder
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
            headers = {name.lower(): value for name, value in headers.items()}
            await reader.readexactly(int(headers.get("content-length", "0")))
            self.seen.append(Seen(method, path, headers.get("host", "")))
            writer.write(self.responder(method, path))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def servers() -> AsyncIterator[list[LoopbackServer]]:
    """Started servers, closed after the test (tests append to the list)."""
    started: list[LoopbackServer] = []
    yield started
    for server in started:
        await server.close()


async def _serve(
    started: list[LoopbackServer], responder: Responder, host: str = "127.0.0.1", port: int = 0
) -> LoopbackServer:
    """Start a server and register it for closing."""
    server = await LoopbackServer(responder).start(host, port)
    started.append(server)
    return server


async def test_redirect_is_not_followed(servers: list[LoopbackServer]) -> None:
    secret = await _serve(servers, lambda method, path: _response("200 OK", b"secret"))
    location = f"Location: http://127.0.0.1:{secret.port}/secret\r\n"
    redirecting = await _serve(servers, lambda method, path: _response("302 Found", b"", location))
    target = await check_url(
        f"http://127.0.0.1:{redirecting.port}/v1", resolver=no_resolver, allow_private=True
    )
    async with ChatClient(target.url, transport=pinned_transport(target), limits=FAST) as client:
        with pytest.raises(RedirectRefused, match=f"127.0.0.1:{secret.port}/secret"):
            await client.chat("m1", MESSAGES)
    assert [s.path for s in redirecting.seen] == ["/v1/chat/completions"]
    assert secret.seen == []


async def test_pinned_transport_refuses_redirect_target_even_when_following(
    servers: list[LoopbackServer],
) -> None:
    secret = await _serve(servers, lambda method, path: _response("200 OK", b"secret"))
    location = f"Location: http://127.0.0.1:{secret.port}/secret\r\n"
    redirecting = await _serve(servers, lambda method, path: _response("302 Found", b"", location))
    target = await check_url(
        f"http://127.0.0.1:{redirecting.port}/v1", resolver=no_resolver, allow_private=True
    )
    transport = pinned_transport(target)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(httpx.ConnectError, match="pinned to"):
            await client.get(f"{target.url}/models")
        with pytest.raises(httpx.ConnectError, match="pinned to"):
            await client.get(f"http://127.0.0.1:{secret.port}/secret")
    assert len(redirecting.seen) == 1
    assert secret.seen == []


async def _same_port_pair(started: list[LoopbackServer]) -> tuple[LoopbackServer, LoopbackServer]:
    """One server on 127.0.0.1 and one on 127.0.0.2, on the same port."""
    for _ in range(10):
        first = await _serve(started, openai_responder)
        try:
            second = await _serve(started, openai_responder, "127.0.0.2", first.port)
        except OSError:
            continue
        return first, second
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


async def test_dns_rebinding_cannot_move_a_pinned_target(servers: list[LoopbackServer]) -> None:
    first, second = await _same_port_pair(servers)
    answers = iter([["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers, ["127.0.0.2"])  # first answer passes the check, then it rebinds

    target = await check_url(
        f"http://rebind.test:{first.port}/v1", resolver=rebinding, allow_private=True
    )
    assert (target.pinned, target.host) == ("127.0.0.1", "rebind.test")
    async with ChatClient(target.url, transport=pinned_transport(target), limits=FAST) as client:
        assert await client.list_models() == ["m1"]
        assert (await client.chat("m1", MESSAGES)).text == "ok"
        assert await client.list_models() == ["m1"]
    assert calls == ["rebind.test"]
    assert [s.host for s in first.seen] == [f"rebind.test:{first.port}"] * 3
    assert [s.path for s in first.seen] == ["/v1/models", "/v1/chat/completions", "/v1/models"]
    assert second.seen == []
    # the trap was real: the rebound address serves the very same port
    async with httpx.AsyncClient(trust_env=False) as plain:
        response = await plain.get(f"http://127.0.0.2:{first.port}/v1/models")
    assert response.status_code == 200
    assert len(second.seen) == 1


async def test_pinned_ipv6_loopback_connection(servers: list[LoopbackServer]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = await _serve(servers, openai_responder, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    target = await check_url(
        f"http://[::1]:{server.port}/v1", resolver=no_resolver, allow_private=True
    )
    async with ChatClient(target.url, transport=pinned_transport(target), limits=FAST) as client:
        assert await client.list_models() == ["m1"]
    assert [s.host for s in server.seen] == [f"[::1]:{server.port}"]


@pytest.mark.parametrize(
    ("name", "answers"),
    [("redis.test", ["10.96.0.12"]), ("svc.test", ["8.8.8.8", "172.20.3.4"]),
     ("six.test", ["fd00:1234::5"]), ("mapped.test", ["::ffff:10.1.2.3"]),
     ("junk.test", ["not-an-ip 10.9.8.7"])],
)  # fmt: skip
async def test_a_refusal_never_echoes_what_the_resolver_returned(
    name: str, answers: list[str]
) -> None:
    """What this server's resolver sees for an internal name stays here: the reason says why,
    not where."""
    STUB_DNS[name] = answers
    try:
        with pytest.raises(URLRefused) as refused:
            await check_url(f"http://{name}/v1", resolver=stub_resolver)
    finally:
        del STUB_DNS[name]
    for answer in answers:
        for part in answer.split():
            assert part not in refused.value.reason
    assert "1.2.3" not in refused.value.reason and name in refused.value.reason
