"""The SSRF guard: the fetcher reads the public web, never the machine it runs on.

A URL given by a user (or found in a search result, or sent as a redirect) must
not make deepcite read its own loopback services, the private network around it
or a cloud metadata endpoint. Two checks enforce that:

1. `SSRFGuard.check_url` before every request and every redirect hop: only
   http and https, and a host must be present.
2. `GuardedNetworkBackend` on the connect path of the HTTP client: it resolves
   the host itself, refuses it when any resolved address is not public, and then
   connects to the very addresses it checked. A DNS answer that changes between
   the check and the connection (DNS rebinding) therefore cannot slip through,
   and pooled connections were all checked when they were opened.

Entries of `fetch_allow_hosts` name a host and its ports: `host` alone is ports
80 and 443, `host:8080` that port only, `host:*` every port (opening every
service of a machine is a choice to spell out).

Residual risk: hosts in `fetch_allow_hosts` are trusted whatever they resolve
to; `fetch_allow_private` opens every private range (cloud metadata addresses
stay refused unless their host is listed); proxies from the environment are
ignored on purpose, since a proxy would resolve names out of our sight.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from deepcite.config import ConfigError, Settings
from deepcite.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Instance metadata services: they hand out cloud credentials to whoever asks.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)

METADATA_REASON = "cloud metadata"

# Carrier-grade NAT (RFC 6598): not "private" to the `ipaddress` module, yet not public.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64 well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public internet address (e.g. "loopback"), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return non_public_reason(inner)
    if ip in METADATA_ADDRESSES:
        return METADATA_REASON
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "carrier-grade NAT"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _normalise_host(host: str) -> str:
    """One spelling per host: lower case, IDNA-encoded, IP addresses in their short form."""
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return httpx.URL(f"http://{host}/").raw_host.decode("ascii")
    except httpx.InvalidURL:
        return host


DEFAULT_PORTS = frozenset({80, 443})


def parse_allowed_host(entry: str) -> tuple[str, frozenset[int] | None]:
    """`host`, `host:port`, `host:*`, `[v6]:port` -> (normalised host, its ports or None for all)."""
    text = entry.strip()
    host, port = text, ""
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        host, port = inside, rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if port == "*":
        return _normalise_host(host), None
    if not port:
        return _normalise_host(host), DEFAULT_PORTS
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"DEEPCITE_FETCH_ALLOW_HOSTS: {entry!r} is not host, host:port or host:*")
    return _normalise_host(host), frozenset({int(port)})


class SSRFGuard:
    """Decides which URLs and addresses the fetcher may reach."""

    def __init__(self, *, allow_private: bool = False, allowed_hosts: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_ports: dict[str, frozenset[int] | None] = {}  # host -> its ports; None: every port
        for entry in allowed_hosts:
            host, ports = parse_allowed_host(entry)
            known = self.allowed_ports.get(host, frozenset())
            self.allowed_ports[host] = None if ports is None or known is None else known | ports
        self.allowed_hosts = frozenset(self.allowed_ports)

    @classmethod
    def from_settings(cls, settings: Settings) -> SSRFGuard:
        return cls(allow_private=settings.fetch_allow_private, allowed_hosts=settings.fetch_allowed_hosts)

    def check_url(self, url: httpx.URL) -> None:
        """Refuse a URL that is not http(s) or has no host (addresses are checked on connect)."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise FetchError(f"refused {url}: only http and https URLs are fetched", code="url_refused")
        if not url.host:
            raise FetchError(f"refused {url}: no host", code="url_refused")

    def is_allowed_host(self, host: str, port: int | None = None) -> bool:
        """Whether `host` (a name or address) is on the allow list, for `port` when given."""
        name = _normalise_host(host)
        if name not in self.allowed_ports:
            return False
        ports = self.allowed_ports[name]
        return port is None or ports is None or port in ports

    def refusal_reason(self, ip: IPAddress) -> str | None:
        """Why `ip` is refused, or None; `allow_private` leaves only cloud metadata refused."""
        reason = non_public_reason(ip)
        if self.allow_private and reason != METADATA_REASON:
            return None
        return reason

    async def addresses_to_connect(self, host: str, port: int) -> list[str]:
        """Resolve `host` and return its addresses, or refuse it if any one is not allowed.

        One bad address refuses the host: a name that resolves to both a public and a
        private address is the shape of a rebinding attack, not of a real web site.
        """
        if self.is_allowed_host(host, port):
            return [host]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"cannot resolve host {host!r}: {exc}", code="dns_failed") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = self.refusal_reason(ipaddress.ip_address(address))
            if reason is not None:
                raise FetchError(
                    f"refused to connect to {host} ({address}): {reason} address", code="url_refused"
                )
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard resolved and checked, trying each in turn."""

    def __init__(self, guard: SSRFGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.addresses_to_connect(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        if failure is None:
            raise FetchError(f"cannot resolve host {host!r}: no address", code="dns_failed")
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchError("refused: the fetcher does not use unix sockets", code="url_refused")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with `GuardedNetworkBackend` on its connect path.

    httpx offers no argument for a network backend, so the connection pool it
    built is replaced by an identical one that has it (`_pool` is the one private
    name we rely on; tests/fetch/test_ssrf.py fails if that ever stops working).
    Environment proxies are ignored: a proxy would resolve names out of our sight.
    """

    def __init__(self, guard: SSRFGuard, *, limits: httpx.Limits, verify: bool = True) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedNetworkBackend(guard),
        )
