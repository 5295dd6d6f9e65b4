"""The connection table shared by the workers: limits hold across processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.smtp.connections import PER_NETWORK, TOTAL, ConnectionTable


def test_per_address_limit_counts_every_worker() -> None:
    table = ConnectionTable.create(2, 100)
    first, second = table.for_worker(0, 3, 100), table.for_worker(1, 3, 100)
    assert first.admit("127.0.0.8") is None
    assert second.admit("127.0.0.8") is None
    assert second.admit("::ffff:127.0.0.8") is None  # the same client, written as IPv6
    assert first.admit("127.0.0.8") == PER_NETWORK
    assert second.admit("127.0.0.8") == PER_NETWORK
    assert first.admit("127.0.0.9") is None  # another client is not affected
    assert table.open_connections("127.0.0.8") == 3
    second.release("127.0.0.8")
    assert first.admit("127.0.0.8") is None
    assert table.open_connections() == 4


def test_total_limit_counts_every_worker() -> None:
    table = ConnectionTable.create(2, 4)
    guards = [table.for_worker(i, 10, 4) for i in (0, 1)]
    for n in range(4):
        assert guards[n % 2].admit(f"10.0.0.{n}") is None
    assert guards[0].admit("10.0.0.9") == TOTAL
    assert guards[1].admit("10.0.0.9") == TOTAL
    guards[0].release("10.0.0.0")
    assert guards[1].admit("10.0.0.9") is None


def test_a_dead_workers_connections_are_forgotten() -> None:
    table = ConnectionTable.create(2, 100)
    alive, dead = table.for_worker(0, 2, 100), table.for_worker(1, 2, 100)
    assert alive.admit("127.0.0.8") is None
    assert dead.admit("127.0.0.8") is None
    assert alive.admit("127.0.0.8") == PER_NETWORK
    table.clear_worker(1)
    assert table.open_connections() == 1
    assert alive.admit("127.0.0.8") is None
    assert alive.admit("127.0.0.8") == PER_NETWORK


def test_a_full_probe_path_still_counts_the_total() -> None:
    table = ConnectionTable.create(1, 16)  # 64 slots
    guard = table.for_worker(0, 1, 1000)
    clients = [f"10.1.{n // 256}.{n % 256}" for n in range(200)]
    admitted = [c for c in clients if guard.admit(c) is None]
    assert len(admitted) == 200  # one each: the per-address limit never refuses them
    assert table.open_connections() == 200
    for client in admitted:
        guard.release(client)
    assert table.open_connections() == 0
    assert guard.admit("10.1.0.0") is None and guard.admit("10.1.0.0") == PER_NETWORK


def test_another_process_sees_the_same_counts() -> None:
    table = ConnectionTable.create(2, 100)
    mine = table.for_worker(0, 2, 100)
    assert mine.admit("127.0.0.8") is None
    probe = ("import sys; from gateway.smtp.connections import ConnectionTable; "
             "t = ConnectionTable(int(sys.argv[1])); g = t.for_worker(1, 2, 100); "
             "print(g.admit('127.0.0.8'), g.admit('127.0.0.8'))")
    out = subprocess.run([sys.executable, "-c", probe, str(table.fd)], pass_fds=(table.fd,),
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", PER_NETWORK]
    assert mine.admit("127.0.0.8") == PER_NETWORK  # the other process still holds one
    assert os.fstat(table.fd).st_size > 0


def test_trusted_networks_have_no_per_address_limit() -> None:
    import ipaddress

    table = ConnectionTable.create(1, 10)
    guard = table.for_worker(0, 2, 10, [ipaddress.ip_network("10.9.0.0/16")])
    assert [guard.admit("10.9.0.1") for _ in range(5)] == [None] * 5
    assert guard.admit("10.8.0.1") is None and guard.admit("10.8.0.1") is None
    assert guard.admit("10.8.0.1") == PER_NETWORK
    assert [guard.admit("10.9.0.1") for _ in range(4)] == [None, None, None, TOTAL]


def test_a_closed_table_admits_nothing_and_ignores_releases() -> None:
    table = ConnectionTable.create(1, 10)
    guard = table.for_worker(0, 5, 10)
    assert guard.admit("127.0.0.8") is None
    table.close()
    guard.release("127.0.0.8")  # a connection that ends after the gateway stopped
    assert guard.admit("127.0.0.8") == TOTAL


def test_clients_of_one_ipv6_64_share_one_limit() -> None:
    table = ConnectionTable.create(1, 100, 24, 64)
    guard = table.for_worker(0, 3, 100)
    # Every address of a /64 (one host or subscriber usually has all of them) is one client.
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:abcd:1:2:3"):
        assert guard.admit(host) is None
    assert guard.admit("2001:db8:1:2::77") == PER_NETWORK
    assert guard.admit("2001:db8:1:3::1") is None  # the next /64 is another client
    assert table.open_connections("2001:db8:1:2::5") == 3
    assert table.network("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    guard.release("2001:db8:1:2:ffff::9")
    assert guard.admit("2001:db8:1:2::77") is None


def test_clients_of_one_ipv4_24_share_one_limit() -> None:
    table = ConnectionTable.create(1, 100, 24, 64)
    guard = table.for_worker(0, 2, 100)
    assert guard.admit("192.0.2.1") is None
    assert guard.admit("::ffff:192.0.2.200") is None  # the same network, written as IPv6
    assert guard.admit("192.0.2.99") == PER_NETWORK
    assert guard.admit("192.0.3.1") is None
    assert table.network("192.0.2.99") == "192.0.2.0/24"


def test_prefix_lengths_are_configurable() -> None:
    table = ConnectionTable.create(1, 100, 16, 48)
    guard = table.for_worker(0, 1, 100)
    assert guard.admit("10.20.30.40") is None
    assert guard.admit("10.20.99.1") == PER_NETWORK
    assert guard.admit("2001:db8:7::1") is None
    assert guard.admit("2001:db8:7:ffff::1") == PER_NETWORK
    with pytest.raises(ValueError, match="/33"):
        ConnectionTable.create(1, 10, 33, 64)


def test_reserved_connections_are_kept_for_trusted_networks() -> None:
    import ipaddress

    table = ConnectionTable.create(1, 10, 24, 64)
    trusted = [ipaddress.ip_network("10.9.0.0/16")]
    guard = table.for_worker(0, 100, 10, trusted, reserved=3)
    # A flood from many networks takes the unreserved seven and no more ...
    flood = [f"203.0.{n}.1" for n in range(20)]
    assert [guard.admit(host) for host in flood[:8]] == [None] * 7 + [TOTAL]
    # ... so the trusted mail server still gets in, up to the total.
    assert [guard.admit("10.9.0.1") for _ in range(4)] == [None, None, None, TOTAL]
    # The last three of the total are the reserve: other clients get in only below seven.
    guard.release("10.9.0.1")
    assert guard.admit("203.0.50.1") == TOTAL
    for host in ("10.9.0.1", "10.9.0.1", flood[0]):
        guard.release(host)
    assert table.open_connections() == 6
    assert guard.admit("203.0.50.1") is None
    assert guard.admit("203.0.51.1") == TOTAL
    with pytest.raises(ValueError, match="leave none"):
        table.for_worker(0, 5, 10, trusted, reserved=10)
