"""Our clients (examples/client.c and examples/python/ws_client.py) against peer servers:
Python `websockets` (peers/py_echo_server.py) and Node `ws` (peers/node_echo_server.js).

    clients.py LOGFILE

Cases per client x peer: text messages from the command line, binary messages, stdin lines
(one of 1 MiB, one of 16 MiB), 300 messages while the server pings after each (the client's
receiving thread writes pongs while its main thread sends), close statuses (1000 default, 4000
with a reason, 1001, 1005 without payload), --echo driven by the server (text, binary, large,
fragmented messages and server pings, then the server's close 4000), and a close started by
the server. Output lines and exit status are checked exactly.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Report, Server, run_case  # noqa: E402

PEERS = {
    "websockets": [os.path.join(ROOT, ".deps/venv/bin/python"), os.path.join(ROOT, "tests/interop/peers/py_echo_server.py")],
    "ws": ["node", os.path.join(ROOT, "tests/interop/peers/node_echo_server.js")],
}
CLIENTS = {
    "c-client": [os.path.join(ROOT, "examples/build/client")],
    "py-client": [sys.executable, os.path.join(ROOT, "examples/python/ws_client.py")],
}


def run_client(cmd, stdin=b""):
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90, cwd=ROOT)
    return p.returncode, p.stdout.decode("utf-8", "replace").split("\n")[:-1], p.stderr.decode("utf-8", "replace")


def expect(cmd, want_lines, stdin=b"", want_code=0):
    code, lines, err = run_client(cmd, stdin)
    if lines != want_lines:
        shown = [line[:60] + ("..." if len(line) > 60 else "") for line in lines]
        raise AssertionError("output %r, expected %r; stderr: %s" % (shown[:12], [w[:60] for w in want_lines][:12], err[-300:]))
    assert code == want_code, "exit status %d (stderr: %s)" % (code, err[-300:])


def cases(report, client_name, client, peer_name, url):
    name = "%s->%s: " % (client_name, peer_name)
    big = "x" * (1 << 20)
    run_case(
        report,
        name + "text messages from the command line",
        expect,
        client + [url, "hello", "wörld ✓", ""],
        ["text: hello", "text: wörld ✓", "text: ", "close: 1000 "],
    )
    run_case(
        report,
        name + "binary messages",
        expect,
        client + ["--binary", url, "abc", "", "z" * 5000],
        ["binary: 3 bytes", "binary: 0 bytes", "binary: 5000 bytes", "close: 1000 "],
    )
    run_case(
        report,
        name + "stdin lines (one of 1 MiB)",
        expect,
        client + [url],
        ["text: line one", "text: " + big, "text: last", "close: 1000 "],
        ("line one\n%s\nlast\n" % big).encode(),
    )
    huge = "y" * (16 << 20)
    run_case(
        report,
        name + "a 16 MiB stdin line",
        expect,
        client + [url],
        ["text: " + huge, "close: 1000 "],
        (huge + "\n").encode(),
    )
    lines = ["%d:%s" % (i, "abcdefgh" * ((i * 7919) % 25000)) for i in range(300)]
    run_case(
        report,
        name + "300 messages while the server pings after each (pongs interleave with sends)",
        expect,
        client + [url.rstrip("/") + "/ping-each"],
        ["text: " + line for line in lines] + ["close: 1000 "],
        ("\n".join(lines) + "\n").encode(),
    )
    run_case(report, name + "close 4000 with a reason", expect, client + ["--close", "4000:bye now", url, "m"], ["text: m", "close: 4000 bye now"])
    run_case(report, name + "close 1001", expect, client + ["--close", "1001", url], ["close: 1001 "])
    run_case(report, name + "close without payload (1005)", expect, client + ["--close", "1005", url, "n"], ["text: n", "close: 1005 "])

    def echo_driven():
        code, lines, err = run_client(client + ["--echo", url.rstrip("/") + "/drive"])
        assert lines and lines[-1] == "close: 4000 done", "last line %r (stderr: %s)" % (lines[-1:] or None, err[-300:])
        assert len(lines) == 10, "%d lines, expected 9 messages + close" % len(lines)
        assert lines[0] == "text: hello" and lines[1] == "text: " and lines[2] == "text: wörld ✓ 😀", lines[:3]
        assert lines[3] == "binary: 1 bytes" and lines[4] == "binary: 70000 bytes", lines[3:5]
        assert lines[7] == "text: fragmented téxt" and lines[8] == "binary: 5002 bytes", lines[7:9]
        assert code == 0, "exit status %d" % code

    run_case(report, name + "--echo driven by the server (pings, fragments), server closes 4000", echo_driven)
    run_case(report, name + "close started by the server (4002)", expect, client + ["--echo", url.rstrip("/") + "/close-now"], ["close: 4002 bye"])


def main():
    log = sys.argv[1]
    report = Report("clients")
    for peer_name, peer_cmd in PEERS.items():
        env = dict(os.environ, NODE_PATH=os.path.join(ROOT, ".deps/node/node_modules"))
        try:
            with Server(peer_cmd, log_path=log, env=env) as peer:
                for client_name, client in CLIENTS.items():
                    cases(report, client_name, client, peer_name, peer.url)
        except Exception as e:  # noqa: BLE001 - a peer that does not start fails
            report.fail("peer %s" % peer_name, e)
    report.exit()


if __name__ == "__main__":
    main()
