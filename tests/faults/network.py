"""Hosts on one bridge: a network namespace per host, joined by a veth pair to a bridge in
the root namespace (which has an address on it too: the load, the proxy and the Gemini
stand-in run there). A partition takes a host's link down: its packets are dropped, no
connection is reset, as when a cable is pulled."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def usable() -> str | None:
    """Why the rig cannot make namespaces here, or None when it can."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no route of this machine covers."""
    routes = _ip("-4", "route", "show", "table", "all").stdout
    taken = [
        ipaddress.ip_network(word, strict=False)
        for line in routes.splitlines()
        for word in line.split()[:2]
        if "/" in word
    ]
    for _ in range(100):
        candidate = ipaddress.ip_network(
            f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(route) for route in taken):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 for the rig's bridge")


@dataclass
class Network:
    """Namespaces `<tag>-<host>` for `hosts`, each with `eth0` on the bridge `<tag>br`."""

    hosts: Sequence[str]
    tag: str = field(default_factory=lambda: f"gcf{os.getpid() % 100000:05d}")
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    created: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    @property
    def gateway(self) -> str:
        """The root namespace's address on the bridge."""
        return str(self.subnet[1])

    def namespace(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def address(self, host: str) -> str:
        return str(self.subnet[10 + list(self.hosts).index(host)])

    def _link(self, host: str) -> str:
        return f"{self.tag}{list(self.hosts).index(host)}"

    def up(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        self.created.append(f"link:{self.bridge}")
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            space, link = self.namespace(host), self._link(host)
            _ip("netns", "add", space)
            self.created.append(f"netns:{space}")
            _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", space)
            self.created.append(f"link:{link}")
            _ip("-n", space, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            _ip("-n", space, "link", "set", "eth0", "up")
            _ip("-n", space, "link", "set", "lo", "up")
            _ip("link", "set", link, "master", self.bridge, "up")

    def run_in(self, host: str, command: Sequence[str]) -> list[str]:
        """`command` as run inside `host` (`ip netns exec` execs it: same pid)."""
        return ["ip", "netns", "exec", self.namespace(host), *command]

    def cut(self, host: str) -> None:
        """Partition `host` from everything: its link goes down, packets are dropped."""
        _ip("link", "set", self._link(host), "down")

    def heal(self, host: str) -> None:
        _ip("link", "set", self._link(host), "up")

    def pids(self, host: str) -> list[int]:
        found = _ip("netns", "pids", self.namespace(host), check=False).stdout
        return [int(pid) for pid in found.split()]

    def down(self) -> None:
        """Kill every process left in the rig's namespaces, then delete them, the veths
        and the bridge. Safe to call twice, and after a partial `up`."""
        for item in reversed(self.created):
            kind, name = item.split(":", 1)
            if kind == "netns":
                for pid in _ip("netns", "pids", name, check=False).stdout.split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
                _ip("netns", "del", name, check=False)
        for item in reversed(self.created):
            kind, name = item.split(":", 1)
            if kind == "link":
                _ip("link", "del", name, check=False)
        self.created.clear()
