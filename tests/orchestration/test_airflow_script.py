"""`make airflow` (scripts/airflow.sh): the four Airflow components, every listening socket on
loopback (no log server on 0.0.0.0), and Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.support.airflow import require_airflow
from tests.support.servers import LOCALHOST, free_port, http_request, running_process, wait_until

pytestmark = pytest.mark.integration

COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
LISTEN = "0A"  # the socket state in /proc/net/tcp*
LOOPBACK = {"127.0.0.1", "::1"}


def process_tree(root: int) -> set[int]:
    """`root` and every process descended from it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = {root}
    while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    return tree


def socket_inodes(pids: set[int]) -> set[str]:
    """The inodes of the sockets these processes hold open."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    return inodes


def decode_address(hex_address: str) -> str:
    """An address of /proc/net/tcp or tcp6 (32-bit little-endian words) as text."""
    words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8)]
    family = socket.AF_INET if len(words) == 1 else socket.AF_INET6
    return socket.inet_ntop(family, b"".join(words))


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket these processes listen on, IPv4 and IPv6."""
    inodes = socket_inodes(pids)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.add((decode_address(address), int(port, 16)))
    return found


def all_healthy(url: str) -> bool:
    """Whether the api-server reports the DB, scheduler, triggerer and dag-processor healthy."""
    status, body = http_request(f"{url}/api/v2/monitor/health", timeout=5)
    health = json.loads(body) if status == 200 else {}
    return all((health.get(name) or {}).get("status") == "healthy" for name in COMPONENTS)


def test_make_airflow_listens_only_on_loopback_and_stops_on_ctrl_c(tmp_path):
    require_airflow()
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    (tmp_path / "dags").mkdir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW_PORT": str(port),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
    }
    with running_process(
        "make-airflow",
        [str(PROJECT_ROOT / "scripts/airflow.sh")],
        url=url,
        ready_path="/api/v2/monitor/health",
        log_dir=tmp_path,
        env=environment,
        timeout=300,
    ) as airflow:
        wait_until(lambda: all_healthy(url), timeout=300, interval=2, what="all components")
        wait_until(lambda: "Airflow ready" in airflow.log_tail(), timeout=60, what="its banner")
        tree = process_tree(airflow.process.pid)
        sockets = listening(tree)
        assert (LOCALHOST, port) in sockets, sockets
        assert {address for address, _ in sockets} <= LOOPBACK, sockets
        airflow.process.send_signal(signal.SIGINT)
        assert airflow.process.wait(timeout=120) == 0, airflow.log_tail()
    assert "stopping Airflow" in airflow.log_tail()
    assert not {pid for pid in tree if Path(f"/proc/{pid}").exists()}, "left running"
