"""The SSRF guard: which addresses are public, which URLs and hosts are refused."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from tests.fetch.local_site import LocalSite

from deepcite.config import ConfigError, Settings
from deepcite.errors import FetchError
from deepcite.fetch.ssrf import GuardedTransport, SSRFGuard, non_public_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:a9fe:a9fe", "cloud metadata"),  # the same, in hex
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("2001:db8::1", "private"),  # documentation range
    ],
)
def test_non_public_addresses(address: str, reason: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/", "data:text/plain,hi", "http:///x"],
)
def test_only_http_urls_with_a_host_pass(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        SSRFGuard().check_url(httpx.URL(url))
    assert caught.value.code == "url_refused"


def test_http_and_https_urls_pass() -> None:
    SSRFGuard().check_url(httpx.URL("http://example.com/a"))
    SSRFGuard().check_url(httpx.URL("https://example.com/a"))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "169.254.169.254", "2130706433", "0x7f.1"])
async def test_loopback_and_metadata_hosts_are_refused(host: str) -> None:
    with pytest.raises(FetchError) as caught:
        await SSRFGuard().addresses_to_connect(host, 80)
    assert caught.value.code == "url_refused"


async def test_allow_private_opens_private_ranges_but_not_metadata() -> None:
    guard = SSRFGuard(allow_private=True)
    assert await guard.addresses_to_connect("127.0.0.1", 80) == ["127.0.0.1"]
    with pytest.raises(FetchError, match="cloud metadata"):
        await guard.addresses_to_connect("169.254.169.254", 80)
    with pytest.raises(FetchError, match="cloud metadata"):
        await guard.addresses_to_connect("::ffff:169.254.169.254", 80)


async def test_allowed_hosts_are_trusted_as_named() -> None:
    guard = SSRFGuard(allowed_hosts=["LocalHost", "[0:0::1]", "169.254.169.254", "BÜCHER.example"])
    assert await guard.addresses_to_connect("localhost", 80) == ["localhost"]
    assert await guard.addresses_to_connect("::1", 80) == ["::1"]
    assert guard.is_allowed_host("xn--bcher-kva.example")
    assert await guard.addresses_to_connect("169.254.169.254", 80) == ["169.254.169.254"]
    # Another name for the same machine is not on the list.
    with pytest.raises(FetchError, match="loopback"):
        await guard.addresses_to_connect("127.0.0.1", 80)


def test_guard_reads_settings() -> None:
    guard = SSRFGuard.from_settings(
        Settings(fetch_allow_private=True, fetch_allow_hosts="a.example, B.example")
    )
    assert guard.allow_private
    assert guard.allowed_hosts == {"a.example", "b.example"}


async def test_unresolvable_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError) as caught:
        await SSRFGuard().addresses_to_connect("no-such-host.invalid", 80)
    assert caught.value.code == "dns_failed"


async def test_transport_checks_addresses_when_it_connects(local_site: LocalSite) -> None:
    """The guard sits on the connect path itself, so no request can skip it."""
    limits = httpx.Limits(max_connections=2)
    async with httpx.AsyncClient(transport=GuardedTransport(SSRFGuard(), limits=limits)) as client:
        with pytest.raises(FetchError, match="loopback"):
            await client.get(local_site.url("/notes.txt"))
    assert local_site.hits("/notes.txt") == 0

    trusting = SSRFGuard(allowed_hosts=[f"{local_site.host}:{local_site.port}"])
    async with httpx.AsyncClient(transport=GuardedTransport(trusting, limits=limits)) as client:
        response = await client.get(local_site.url("/notes.txt"))
    assert response.status_code == 200
    assert local_site.hits("/notes.txt") == 1


async def test_an_allowed_host_opens_only_its_ports() -> None:
    guard = SSRFGuard(allowed_hosts=["localhost", "127.0.0.1:8080", "[::1]:*", "LocalHost:9000"])
    # A bare host is the web's ports; other services of that machine stay closed.
    assert await guard.addresses_to_connect("localhost", 443) == ["localhost"]
    assert await guard.addresses_to_connect("localhost", 9000) == ["localhost"]
    with pytest.raises(FetchError, match="loopback"):
        await guard.addresses_to_connect("localhost", 6379)
    assert await guard.addresses_to_connect("127.0.0.1", 8080) == ["127.0.0.1"]
    with pytest.raises(FetchError, match="loopback"):
        await guard.addresses_to_connect("127.0.0.1", 80)
    assert await guard.addresses_to_connect("::1", 6379) == ["::1"]


@pytest.mark.parametrize("entry", ["localhost:http", "localhost:0", "localhost:70000", "[::1]:x"])
def test_a_malformed_allow_entry_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="FETCH_ALLOW_HOSTS"):
        SSRFGuard(allowed_hosts=[entry])
