"""A private PostgreSQL server (Debian's, ``apt-get install postgresql``) for the store tests.

initdb in a temp dir owned by the ``postgres`` user (initdb refuses to run as root), trust
auth, listening on 127.0.0.1 on a free port with its socket in the temp dir, fsync off (test
data). Missing binaries FAIL the tests rather than skip them: CI must run the PostgreSQL half
(``MLPG_PG_BIN`` points elsewhere if needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.servers import free_port

PG_BIN = Path(os.environ.get("MLPG_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    """Run a command as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *argv]
    import shlex

    return ["su", "postgres", "-c", shlex.join(argv)]


class PgServer:
    def __init__(self) -> None:
        missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
        if missing:
            pytest.fail(
                f"PostgreSQL server binaries not found in {PG_BIN} ({', '.join(missing)}): "
                "install Debian's postgresql package (apt-get install postgresql) or set "
                "MLPG_PG_BIN; the storage tests run against a real server and skip nothing",
                pytrace=False,
            )
        self.dir = Path(tempfile.mkdtemp(prefix="mlpg-pg-"))
        self.data, self.sock, self.log = self.dir / "data", self.dir / "sock", self.dir / "log"
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self.port = free_port()

    def _run(self, *argv: str) -> None:
        r = subprocess.run(_as_postgres(list(argv)), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed:\n{r.stdout}\n{r.stderr}\n{log}")

    def start(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", "--no-sync")  # fmt: skip
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.sock} -F -c max_connections=50"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", opts, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)
