"""Where service tasks may connect: the hosts of `FLOWDESK_HTTP_ALLOW`, and never an
internal address by accident.

A definition is written by users, so an `http` task's URL is user input: without a
policy anyone who may deploy could make the worker fetch an internal endpoint (cloud
metadata, an admin port on loopback) and read the answer back from the variables.

Entries of the allow-list:

- `api.example.com`: that exact name, whatever it resolves to (private addresses too:
  naming a host is choosing it);
- `*.example.com`: any name under example.com, public addresses only;
- `*`: any host with a public address;
- `10.1.2.3`, `10.1.0.0/16`, `::1`: those addresses, whatever name leads to them.

The name is resolved here and every address it has is checked; the connection then goes
to the checked address (the name stays in the Host header and TLS's SNI), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot lead
anywhere else."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(Exception):
    """The policy does not let a service task connect there."""


class Unresolved(Exception):
    """The name has no address now (which may change: worth a retry)."""


@dataclass(frozen=True)
class EgressPolicy:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_public: bool = False
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> EgressPolicy:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[Network] = []
        any_public = False
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if entry == "*":
                any_public = True
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                try:
                    networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    names.add(entry)
        return cls(frozenset(names), tuple(suffixes), any_public, tuple(networks))

    async def address(self, host: str, port: int) -> str:
        """The checked address to connect to for `host`; `EgressRefused` saying why not."""
        name = host.strip("[]").lower().rstrip(".")
        literal = _literal(name)
        by_name = name in self.names
        by_pattern = self.any_public or any(name.endswith(s) for s in self.suffixes)
        if literal is None and not (by_name or by_pattern):
            raise EgressRefused(f"{name} is not in FLOWDESK_HTTP_ALLOW")
        addresses = [literal] if literal is not None else await _resolve(name, port)
        for address in addresses:
            if any(address in network for network in self.networks) or by_name:
                continue
            if not address.is_global:
                raise EgressRefused(
                    f"{name} is {address}, a loopback, private or link-local address "
                    "not in FLOWDESK_HTTP_ALLOW"
                )
            if literal is not None and not self.any_public:
                raise EgressRefused(f"{name} is not in FLOWDESK_HTTP_ALLOW")
        return str(addresses[0])


def _literal(name: str) -> Address | None:
    try:
        return _unmapped(ipaddress.ip_address(name))
    except ValueError:
        return None


def _unmapped(address: Address) -> Address:
    """::ffff:127.0.0.1 is 127.0.0.1: judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def _resolve(name: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolved(f"{name} does not resolve: {exc.strerror}") from exc
    addresses = list(
        dict.fromkeys(
            _unmapped(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos
        )
    )
    if not addresses:
        raise Unresolved(f"{name} has no address")
    return addresses
