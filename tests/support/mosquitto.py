"""A real Mosquitto 2 broker for tests: per-user passwords, a topic ACL, start/kill/restart.

Tests use the same broker production runs. The binary comes from Debian's ``mosquitto``
package, which ``scripts/test`` installs; a missing binary is a failed set-up, not a skip.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HUB_ACL = "pattern readwrite courtyard/v1/hub/%u/#\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(f"{name} not found: run scripts/test, which installs Debian's mosquitto")


@dataclass
class Mosquitto:
    """One Mosquitto process on 127.0.0.1 with a password file and ACL in ``workdir``.

    ``users`` maps username to password. ``superusers`` may read and write every
    ``courtyard/#`` topic (the community server); every other user only
    ``courtyard/v1/hub/<username>/#`` (a hub).
    """

    workdir: Path
    users: dict[str, str] = field(default_factory=dict)
    superusers: set[str] = field(default_factory=set)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pwfile = self.workdir / "passwd"
        pwfile.write_text("")
        for user, password in self.users.items():
            subprocess.run(
                [_binary("mosquitto_passwd"), "-b", str(pwfile), user, password],
                check=True,
                capture_output=True,
            )
        acl = self.workdir / "acl"
        lines = [f"user {u}\ntopic readwrite courtyard/#\n" for u in sorted(self.superusers)]
        acl.write_text("".join(lines) + HUB_ACL)
        os.chmod(pwfile, 0o600)
        os.chmod(acl, 0o600)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # Stay the invoking user: as root Mosquitto would otherwise drop to 'mosquitto'
            # and lose access to pytest's private temporary folder.
            f"user {getpass.getuser()}\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous false\n"
            f"password_file {pwfile}\n"
            f"acl_file {acl}\n"
            "persistence false\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
        )
        return conf

    def start(self) -> None:
        conf = self._write_config()
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [_binary("mosquitto"), "-c", str(conf)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "mosquitto exited: " + (self.workdir / "mosquitto.log").read_text()
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def add_user(self, username: str, password: str, *, superuser: bool = False) -> None:
        """Add a user and make the running broker reload its password file and ACL."""
        self.users[username] = password
        if superuser:
            self.superusers.add(username)
        self._write_config()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
