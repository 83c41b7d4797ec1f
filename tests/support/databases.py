"""Redis and PostgreSQL from Debian's packages (``redis-server``, ``postgresql``; .ci/run installs
them), each a throwaway server on a free loopback port: the CeleryExecutor's broker and the
metadata database several Airflow machines can share."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import LOCALHOST, free_port, running_process

POSTGRES_USER = "postgres"  # the Debian package's system user: PostgreSQL refuses to run as root
DATABASE = "airflow"


def _require(binary: str | None, what: str, package: str) -> str:
    """The binary's path; skips the calling test, naming the Debian package, when it is absent."""
    if binary is None:
        pytest.skip(f"{what} not installed: apt-get install {package} (.ci/run installs it)")
    return binary


def redis_answers(port: int) -> bool:
    """Whether a Redis server on the port answers PING with PONG."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """`redis-server` on a free loopback port, nothing persisted; its redis:// URL."""
    binary = _require(shutil.which("redis-server"), "redis-server", "redis-server")
    port = free_port()
    argv = [binary, "--bind", LOCALHOST, "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(workdir)]
    url = f"redis://{LOCALHOST}:{port}/0"
    with running_process(
        "redis",
        argv,
        url=url,
        ready_path="",
        log_dir=workdir,
        answers=lambda: redis_answers(port),
    ):
        yield url


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps it off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _major_version(initdb: str) -> int:
    """15 for /usr/lib/postgresql/15/bin/initdb."""
    return int(Path(initdb).parents[1].name)


def as_postgres_user(argv: list[str]) -> list[str]:
    """The command run as the `postgres` system user when we are root (initdb refuses root)."""
    return ["runuser", "-u", POSTGRES_USER, "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def running_postgres(workdir: Path) -> Iterator[str]:
    """A fresh PostgreSQL cluster (trust auth, loopback only, fsync off) with an `airflow`
    database; its SQLAlchemy URL for psycopg2."""
    binaries = _require(postgres_binaries(), "PostgreSQL server", "postgresql")
    # A folder the postgres user can enter (pytest's are private to root).
    data = Path(tempfile.mkdtemp(prefix="rps-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(data, user=POSTGRES_USER)
    port = free_port()
    try:
        subprocess.run(
            as_postgres_user(
                [str(binaries / "initdb"), "-D", str(data / "cluster"), "-U", POSTGRES_USER]
                + ["--auth=trust", "--encoding=UTF8", "--no-instructions"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = [str(binaries / "postgres"), "-D", str(data / "cluster"), "-p", str(port)]
        server += ["-c", f"listen_addresses={LOCALHOST}", "-c", f"unix_socket_directories={data}"]
        server += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=200"]
        ready = [str(binaries / "pg_isready"), "-h", LOCALHOST, "-p", str(port), "-q"]
        with running_process(
            "postgres",
            as_postgres_user(server),
            url=f"postgresql://{LOCALHOST}:{port}",
            ready_path="",
            log_dir=workdir,
            timeout=120,
            answers=lambda: subprocess.run(ready, check=False, timeout=10).returncode == 0,
        ):
            subprocess.run(
                [str(binaries / "createdb"), "-h", LOCALHOST, "-p", str(port)]
                + ["-U", POSTGRES_USER, DATABASE],
                check=True,
                capture_output=True,
                timeout=60,
            )
            yield f"postgresql+psycopg2://{POSTGRES_USER}@{LOCALHOST}:{port}/{DATABASE}"
    finally:
        shutil.rmtree(data, ignore_errors=True)
