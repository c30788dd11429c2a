"""The client's address for per-address limits, behind trusted proxies or not.

- Only the socket address counts, unless `FORWARDED_ALLOW_IPS` lists the proxies in front.
- For a request whose socket peer is one of them, the client is read from
  `X-Forwarded-For` (all its lines, in order), else from `Forwarded`'s `for=` (RFC 7239):
  the right-most hop that is not a listed proxy. Each proxy appends the address it saw, so
  that hop was written by our own proxies; anything left of it may be the client's own
  invention and is never used. When every hop is a listed proxy, the left-most is the
  client (one of our own machines), as uvicorn's `ProxyHeadersMiddleware` decides.
- uvicorn applies the same rule to `scope["client"]` when `serve` hands it the list; the
  answer is then the same whether or not it did (its client is an unlisted address, used
  as is), and the rule also holds under any other server.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)
_LONGEST_HOP = 64
"""A hop longer than any address is cut: keys stay small whatever a client writes."""


@functools.cache
def trusted_networks(listed: str | None) -> tuple[Network, ...]:
    """The proxies of `FORWARDED_ALLOW_IPS` (checked when the settings were read)."""
    if listed is None:
        return ()
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in listed.split(","))


def client_address(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], proxies: tuple[Network, ...]
) -> str:
    if peer is None:
        return "unknown"
    if not _is_proxy(peer, proxies):
        return peer
    hops = _forwarded_hops(headers)
    for hop in reversed(hops):
        if not _is_proxy(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _is_proxy(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    x_forwarded_for: list[str] = []
    forwarded: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            x_forwarded_for.extend(value.decode("latin-1").split(","))
        elif name == b"forwarded":
            forwarded.extend(_FORWARDED_FOR.findall(value.decode("latin-1")))
    hops = [_host(hop) for hop in (x_forwarded_for or forwarded)]
    return [hop for hop in hops if hop]


def _host(hop: str) -> str:
    """The address of a hop, without quotes or port (`"[2001:db8::1]:4711"`, `1.2.3.4:80`)."""
    hop = hop.strip().strip('"')[:_LONGEST_HOP]
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop
