"""Shared helpers of the Python interop drivers: PASS/FAIL reporting and process control.

Every driver prints one line per case, "PASS <name>" or "FAIL <name>: <why>", which
tests/interop/run.sh counts. Processes started here are always stopped (context manager).
"""

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Report:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = 0
        self.passed = 0

    def ok(self, name):
        self.passed += 1
        print("PASS %s: %s" % (self.prefix, name), flush=True)

    def fail(self, name, why):
        self.failed += 1
        why = str(why).replace("\n", " | ")
        if len(why) > 400:
            why = why[:400] + "..."
        print("FAIL %s: %s: %s" % (self.prefix, name, why), flush=True)

    def exit(self):
        sys.exit(1 if self.failed else 0)


def run_case(report, name, fn, *args):
    """Runs fn(*args); an exception or AssertionError is a failure."""
    try:
        fn(*args)
    except AssertionError as e:
        report.fail(name, e or "assertion failed")
    except Exception as e:  # noqa: BLE001 - any error fails the case
        report.fail(name, "%s: %s" % (type(e).__name__, e))
        traceback.print_exc(file=sys.stderr)
    else:
        report.ok(name)


class Server:
    """Starts a server command that prints "listening on <scheme>://HOST:PORT/" on stdout."""

    def __init__(self, cmd, log_path=None, env=None, timeout=20):
        self.cmd = cmd
        self.log_path = log_path
        self.env = env
        self.timeout = timeout
        self.proc = None
        self.url = None
        self.port = None
        self.line = None

    def __enter__(self):
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=log, env=self.env, cwd=ROOT, start_new_session=True
        )
        if self.log_path:
            log.close()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.stop()
                raise RuntimeError("%s: no 'listening on' line in %ss" % (self.cmd[0], self.timeout))
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.stop()
                raise RuntimeError("%s exited before listening" % self.cmd[0])
            buf += chunk
        sel.close()
        self.line = buf.split(b"\n", 1)[0].decode()
        m = re.fullmatch(r"listening on (\w+)://127\.0\.0\.1:(\d+)/", self.line)
        if not m:
            self.stop()
            raise RuntimeError("unexpected first line %r" % self.line)
        self.port = int(m.group(2))
        self.url = "ws://127.0.0.1:%d/" % self.port
        return self

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __exit__(self, *exc):
        self.stop()
