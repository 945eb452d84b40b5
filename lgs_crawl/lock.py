"""One run per output folder: an flock on OUT/.lock naming the holder. The kernel drops the lock when
the holder dies, so a stale lock from a dead process is simply taken over."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


class Locked(Exception):
    def __init__(self, holder: dict) -> None:
        self.holder = holder
        super().__init__(f"{holder.get('path')} is locked by pid {holder.get('pid')} on {holder.get('host')} "
                         f"since {holder.get('started_at')}")


class OutputLock:
    def __init__(self, out: Path) -> None:
        self.path = out / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                holder = {}
            os.close(fd)
            holder["path"] = str(self.path.parent)
            raise Locked(holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
