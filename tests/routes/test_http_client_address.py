"""X-Forwarded-For is believed only from MLPG_TRUSTED_PROXIES: a client on 127.0.0.2 cannot
escape the saved-run rate limit by naming another address; behind a trusted proxy the
client is the right-most untrusted entry."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from mlp_playground.client_address import resolve, trusted_networks
from mlp_playground.config import Settings
from tests.support.attack import client_from, running_server

RUN = {
    "config": {"network": {"hidden_layers": [4]}, "seed": 1},
    "data": {"points": [[0, 0], [1, 1], [2, 0], [0, 2]], "labels": [0, 1, 0, 1]},
}
LIMIT = {"MLPG_MAX_RUNS_PER_MINUTE": "2"}


def test_resolve_walks_from_the_right_past_trusted_proxies_only() -> None:
    proxies = trusted_networks(("10.0.0.0/8", "127.0.0.2"))
    assert resolve("127.0.0.9", ["1.2.3.4"], proxies) == "127.0.0.9"  # untrusted peer
    assert resolve("127.0.0.2", ["6.6.6.6, 1.2.3.4"], proxies) == "1.2.3.4"
    assert resolve("127.0.0.2", ["6.6.6.6, 1.2.3.4, 10.1.1.1"], proxies) == "1.2.3.4"
    assert resolve("127.0.0.2", ["6.6.6.6", "1.2.3.4"], proxies) == "1.2.3.4"
    assert resolve("127.0.0.2", [], proxies) == "127.0.0.2"
    assert resolve("127.0.0.2", ["10.0.0.7"], proxies) == "10.0.0.7"
    assert resolve("127.0.0.2", ["1.2.3.4"], ()) == "127.0.0.2"  # none trusted: default
    assert resolve(None, ["1.2.3.4"], proxies) == "unknown"


def test_trusted_proxies_setting_takes_commas_and_refuses_garbage(monkeypatch) -> None:
    monkeypatch.setenv("MLPG_TRUSTED_PROXIES", "172.28.0.10, 10.0.0.0/8")
    assert Settings().trusted_proxies == ["172.28.0.10", "10.0.0.0/8"]
    assert ip_network("10.0.0.0/8") in trusted_networks(tuple(Settings().trusted_proxies))
    monkeypatch.setenv("MLPG_TRUSTED_PROXIES", "not-an-address")
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings()
    assert "trusted_proxies" not in Settings(trusted_proxies=[]).limits()


def test_a_spoofed_forwarded_for_does_not_escape_the_rate_limit() -> None:
    with running_server(LIMIT) as server:
        with client_from("127.0.0.2", server.url) as attacker:
            codes = [
                attacker.post("/runs", json=RUN, headers={"X-Forwarded-For": f"9.9.9.{i}"})
                for i in range(4)
            ]
        assert [r.status_code for r in codes] == [201, 201, 429, 429]
        assert "Retry-After" in codes[2].headers
        with client_from("127.0.0.3", server.url) as neighbour:  # unharmed
            assert neighbour.post("/runs", json=RUN).status_code == 201


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_counts() -> None:
    env = {**LIMIT, "MLPG_TRUSTED_PROXIES": "127.0.0.2"}
    with running_server(env) as server, client_from("127.0.0.2", server.url) as proxy:
        # A client's own (made-up) left-hand entries change nothing: 5.5.5.5 is the
        # address the proxy saw, so it is the one limited.
        spoofed = [
            proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": f"9.9.9.{i}, 5.5.5.5"})
            for i in range(3)
        ]
        assert [r.status_code for r in spoofed] == [201, 201, 429]
        # Another client behind the same proxy has its own count.
        other = proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": "6.6.6.6"})
        assert other.status_code == 201
        # Through two trusted hops the client is still the right-most untrusted one.
        proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": "7.7.7.7, 127.0.0.2"})
        hop = proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": "7.7.7.7, 127.0.0.2"})
        assert hop.status_code == 201
        third = proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": "7.7.7.7"})
        assert third.status_code == 429


def test_an_ipv6_client_is_counted_by_its_slash_64() -> None:
    """A phone picks any address of its /64: hopping within it must not buy new shares;
    a neighbour in another /64 keeps its own count."""
    env = {**LIMIT, "MLPG_TRUSTED_PROXIES": "127.0.0.2"}
    with running_server(env) as server, client_from("127.0.0.2", server.url) as proxy:
        hops = [
            proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": f"2001:db8:0:1::{i:x}"})
            for i in range(1, 4)
        ]
        assert [r.status_code for r in hops] == [201, 201, 429]
        other = proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": "2001:db8:0:2::1"})
        assert other.status_code == 201
        mapped = [
            proxy.post("/runs", json=RUN, headers={"X-Forwarded-For": address})
            for address in ("::ffff:5.6.7.8", "5.6.7.8", "5.6.7.8")
        ]
        assert [r.status_code for r in mapped] == [201, 201, 429]  # one IPv4 client
