"""The processes a benchmark run talks to: smtp-sink, a private Postfix, the gateway.

Every server listens on 127.0.0.1 only, on a port picked free at start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from procs import ProcessTree

LOOPBACK = "127.0.0.1"


class BenchError(RuntimeError):
    """A benchmark run that cannot be trusted: a server failed, or a message went missing."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None,
                  what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"{what} exited with status {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.05)
    raise BenchError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# -- smtp-sink -----------------------------------------------------------------------------

_COUNTER = re.compile(rb"mesg=(\d+)")


class Sink:
    """``smtp-sink -c``: accepts everything; a reader thread follows its message counter."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        command = ["smtp-sink", "-c"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
        command += [f"{LOOPBACK}:{self.port}", "1024"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self._count = 0
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._follow, name="sink-counter", daemon=True)
        self._reader.start()
        wait_for_port(self.port, 10, self.process, "smtp-sink")
        # the probe connection above counts as a session but not as a message

    def _follow(self) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        pending = b""
        while True:
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk:
                return
            pending += chunk
            cut = max(pending.rfind(b"\r"), pending.rfind(b"\n"))
            if cut < 0:
                continue
            found = _COUNTER.findall(pending[:cut])
            pending = pending[cut + 1:]
            if found:
                with self._lock:
                    self._count = int(found[-1])
                    self._lock.notify_all()

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def wait_for(self, target: int, timeout: float) -> int:
        """Wait until the counter reaches ``target``; return the count reached."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._count < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(min(left, 0.5))
            return self._count

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> int:
        """The count once it has stopped moving for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last = self.count
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.count
            if now == last:
                return now
            last = now
        return last

    def close(self) -> None:
        _stop(self.process)


# -- Postfix -------------------------------------------------------------------------------

_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance: its own config, queue and data directories in a temp dir.

    Stock settings except what a relay to the sink needs: loopback only, ``mynetworks``
    127.0.0.0/8, no local domains, everything relayed to ``[127.0.0.1]:SINKPORT``; chroot
    off (the instance has no chroot tree) and the log in a file instead of syslog.
    """

    def __init__(self, sink_port: int, port: int | None = None,
                 settings: dict[str, str] | None = None, extra_master: str = "") -> None:
        """``settings`` are added to (or replace) main.cf's; ``extra_master`` lines are
        appended to master.cf (another listener, with its own ``-o`` overrides)."""
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-postfix-"))
        os.chmod(self.root, 0o755)
        self.config = self.root / "etc"
        self.queue = self.root / "spool"
        self.data = self.root / "data"
        self.log = self.root / "postfix.log"
        for path in (self.config, self.queue, self.data):
            path.mkdir(mode=0o755)
        owner = pwd.getpwnam("postfix")
        os.chown(self.data, owner.pw_uid, owner.pw_gid)  # master.lock, tls caches
        main_cf = {
            "compatibility_level": "3.6",
            "myhostname": "bench-postfix.localdomain",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "local_recipient_maps": "",
            "relayhost": f"[{LOOPBACK}]:{sink_port}",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "maillog_file": str(self.log),
            "maillog_file_prefixes": str(self.root),
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            **(settings or {}),
        }
        (self.config / "main.cf").write_text(
            "".join(f"{key} = {value}\n" for key, value in main_cf.items()))
        (self.config / "master.cf").write_text(
            _MASTER_CF.format(listen=f"{LOOPBACK}:{self.port}") + extra_master)
        self.tree: ProcessTree | None = None

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["postfix", "-c", str(self.config), *args],
                                capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            # postfix reports on stderr only to a terminal; the rest is in its log file
            tail = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
            raise BenchError(f"postfix {' '.join(args)} failed: "
                             f"{(result.stdout + result.stderr).strip()} {tail} (for details "
                             f"run: script -qc 'postfix -c {self.config} check' /dev/null)")
        return result

    def start(self) -> None:
        self._postfix("start")
        wait_for_port(self.port, 30, what="postfix")
        pid_file = self.queue / "pid" / "master.pid"
        master = int(pid_file.read_text().strip())
        self.tree = ProcessTree(master)

    def stop(self) -> None:
        self._postfix("stop", check=False)
        if self.tree is not None:
            deadline = time.monotonic() + 20
            while self.tree.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.tree.alive():
                self._postfix("abort", check=False)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# -- the gateway ---------------------------------------------------------------------------


class Gateway:
    """``stampgate serve`` relaying to the sink, with a fresh data directory."""

    def __init__(self, executable: Path, policies: Path, sink_port: int,
                 workers: int | None = None, port: int | None = None,
                 register: Path | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-stampgate-"))
        self.data = self.root / "data"
        if register is not None:  # the protected-client register, loaded before the start
            subprocess.run([str(executable), "clients", "import", str(register),
                            "--policies", str(policies), "--data", str(self.data)],
                           check=True, stdout=subprocess.DEVNULL, cwd=self.root)
        self.log_path = self.root / "stampgate.log"
        command = [str(executable), "serve", "--listen", f"{LOOPBACK}:{self.port}",
                   "--downstream", f"smtp://{LOOPBACK}:{sink_port}",
                   "--policies", str(policies), "--data", str(self.data)]
        if workers is not None:
            command += ["--workers", str(workers)]
        self.command = command
        self.workers = workers
        self._log = self.log_path.open("wb")
        # As a service runs it: stderr line-buffered, one write per log line. (With
        # PYTHONUNBUFFERED each line is two writes, and two workers' lines can interleave.)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log,
                                        cwd=self.root, env=env)
        self.tree = ProcessTree(self.process.pid)
        self.joined_lines = 0  # log lines holding more than one JSON object
        self.counts: Counter[str] = Counter()
        self.captured: list[dict[str, object]] | None = None
        self._offset = 0

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until every worker logged ``listening``."""
        expected = self.workers or os.cpu_count() or 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"stampgate exited with status {self.process.returncode}: "
                                 f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if self.events()["listening"] >= expected:
                wait_for_port(self.port, 5, self.process, "stampgate")
                return
            time.sleep(0.05)
        raise BenchError(f"stampgate did not start {expected} workers within {timeout:.0f} s")

    def new_entries(self) -> list[dict[str, object]]:
        """The JSON objects of the complete log lines written since the last call.

        Also where two workers' lines ran together on one line (counted in
        ``joined_lines``; see the note in ``__init__``).
        """
        with self.log_path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        cut = chunk.rfind(b"\n") + 1
        self._offset += cut
        entries: list[dict[str, object]] = []
        decoder = json.JSONDecoder()
        for line in chunk[:cut].decode("utf-8", "replace").splitlines():
            at, found = 0, 0
            while True:
                start = line.find("{", at)
                if start < 0:
                    break
                try:
                    entry, at = decoder.raw_decode(line, start)
                except ValueError:
                    at = start + 1
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
                    found += 1
            self.joined_lines += found > 1
        for entry in entries:
            event = str(entry.get("event"))
            if event == "message":
                event = f"message:{entry.get('outcome')}"
                if self.captured is not None:
                    self.captured.append(entry)
            self.counts[event] += 1
        return entries

    def capture(self) -> None:
        """From now on keep the ``message`` log entries (read them with ``take``)."""
        self.new_entries()
        self.captured = []

    def take(self) -> list[dict[str, object]]:
        self.new_entries()
        taken, self.captured = self.captured or [], None
        return taken

    def at_sink(self) -> int:
        """Messages the gateway has handed to the downstream, by its log: relayed (also
        partly held) messages, and the notices and releases its outbox sent."""
        self.new_entries()
        c = self.counts
        return c["message:relayed"] + c["message:partly-held"] + c["outbox-sent"]

    def events(self) -> Counter[str]:
        """Log lines so far by kind; messages count by outcome (``message:relayed``)."""
        self.new_entries()
        return self.counts.copy()

    def held_count(self) -> int:
        """Rows in the store's held-message table (read-only, while the gateway runs)."""
        path = self.data / "stampgate.sqlite3"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute("SELECT count(*) FROM held_messages").fetchone()[0])
        finally:
            conn.close()

    def close(self) -> None:
        _stop(self.process, 30)
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


# -- the floor: stampgate's SMTP edge and delivery with none of its work ---------------


class Floor:
    """``tests/perf/floor_relay.py`` in one mode (``accept``, ``relay``, ``durable``, ``raw``,
    ``piped``): stampgate's SMTP edge and delivery with none of its work, on uvloop, in as
    many processes as the gateway has."""

    def __init__(self, mode: str, sink_port: int, workers: int | None = None) -> None:
        self.mode = mode
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"bench-floor-{mode}-"))
        self._err = (self.root / "stderr.log").open("wb")
        script = Path(__file__).resolve().parent / "floor_relay.py"
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), "--downstream",
             str(sink_port), "--mode", mode, "--workers", str(workers or os.cpu_count() or 1),
             "--data", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=self._err)
        wait_for_port(self.port, 30, self.process, f"floor ({mode})")
        self.tree = ProcessTree(self.process.pid)

    def close(self) -> None:
        _stop(self.process)
        self._err.close()
        shutil.rmtree(self.root, ignore_errors=True)
