"""Which peers may name the client in ``X-Forwarded-For``: the trusted reverse proxies.

The rate limits and stream limits count per client address. Behind a reverse proxy every
request comes from the proxy, so the proxy's ``X-Forwarded-For`` must name the client; from
anyone else the header is a free choice of the sender and must be ignored, or a client could
spread its requests over invented addresses (and dodge its limits) or spend another's.

uvicorn applies the rule (its proxy-headers middleware): from a trusted peer the client is the
right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy, so an address a
client writes into the header before the proxy appends the real one is never taken. This
module turns ``--trusted-proxies`` into uvicorn's options and refuses entries uvicorn would
silently take as names (a typo there trusts nobody, or trusts a host name it never sees).
"""

from __future__ import annotations

import ipaddress


class TrustedProxiesError(ValueError):
    pass


def parse_trusted_proxies(value: str) -> list[str]:
    """The addresses and networks in ``value`` (comma-separated IPv4/IPv6 addresses or CIDR
    networks; "" for none), normalised; TrustedProxiesError names each entry that is not one."""
    entries = [e.strip() for e in value.split(",") if e.strip()]
    out, bad = [], []
    for e in entries:
        try:
            net = ipaddress.ip_network(e, strict=False) if "/" in e else ipaddress.ip_address(e)
        except ValueError:
            bad.append(e)
            continue
        out.append(str(net))
    if bad:
        wildcard = " ('*' is not accepted: name the proxies' networks)" if "*" in bad else ""
        raise TrustedProxiesError(
            f"not an IP address or CIDR network: {', '.join(repr(b) for b in bad)}{wildcard}; "
            "expected e.g. 127.0.0.1,::1 or 172.30.0.0/24, or '' to trust no proxy"
        )
    return out


def server_options(trusted: list[str]) -> dict:
    """uvicorn's keyword arguments for ``trusted`` proxies (from ``parse_trusted_proxies``):
    without any, proxy headers are not read at all."""
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}
