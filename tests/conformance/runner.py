#!/usr/bin/env python3
"""Runs the conformance cases (cases.py) in both roles and compares with expected.json.

  server role: every case is played by our raw peer (as the client) against
               examples/build/echo_server;
  client role: our tiny server (peer.server_accept) performs the upgrade and plays every case
               against examples/build/client --echo (one client process per case).

Writes target/conformance/results.md and prints a summary; exit status 0 iff every case's
outcome equals the expected one. Python 3 standard library only; loopback, random ports.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import cases as C  # noqa: E402
import deflate_cases  # noqa: E402,F401  (registers sections 12 and 13)
from peer import (HandshakeError, client_connect, close_code_valid_on_wire,  # noqa: E402
                  server_accept)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUTCOMES = (C.OK, C.NON_STRICT, C.INFORMATIONAL, C.UNIMPLEMENTED, C.FAILED)


# ---- playing one case on an open connection -------------------------------------------------

def play_case(case, peer):
    """Plays the case, then runs the closing phase. Returns an error text or None."""
    ctx = C.Ctx(peer, case.guard)
    error = None
    try:
        case.play(ctx)
    except Exception as e:  # a harness problem, reported as FAILED
        error = "harness error in play: %r" % (e,)
    if case.close.by_me and case.send_close and error is None:
        if case.wait is not None:
            peer.wait(case.wait, case.guard)
        if peer.ended is None and not peer.close_sent:
            peer.send_close(C.NORMAL)
    finish(peer, case.guard)
    return error


def finish(peer, guard):
    """Closing phase. Answers a close started by the testee (echoing its code), closes the TCP
    connection first when we are the server and the handshake is complete, otherwise waits
    for the testee to end the connection; drops it after `guard` seconds (a failure)."""
    deadline = time.monotonic() + guard

    def need_reply(p):
        return p.close_received is not None and not p.close_sent

    def handshake_done(p):
        return p.close_received is not None and p.close_sent

    while True:
        if peer.ended is not None:
            break
        if need_reply(peer):
            code = peer.close_received[0]
            peer.send_close(code if code is not None and close_code_valid_on_wire(code) else None)
            continue
        if not peer.is_client and handshake_done(peer):
            peer.shutdown()  # we are the server: we close TCP first (RFC 6455 7.1.1)
            peer.server_closed = True
            return
        left = deadline - time.monotonic()
        if left <= 0:
            peer.drop()
            return
        peer.wait(lambda p: p.ended is not None or need_reply(p) or
                  (not p.is_client and handshake_done(p)), left)
    peer.shutdown()


# ---- grading -------------------------------------------------------------------------------

def match_expect(case, events):
    for outcome, exp in case.expect:
        if callable(exp):
            if exp(events):
                return outcome
        elif events == exp:
            return outcome
    return None


def close_story(peer, role):
    """A short description of how the connection ended."""
    parts = []
    if peer.close_sent and peer.closed_by_me:
        parts.append("we closed")
    rc = peer.close_received
    if rc is not None:
        code = "empty" if rc[0] is None else str(rc[0])
        parts.append("testee %s %s" % ("answered" if peer.closed_by_me else "sent close", code))
    elif not peer.dropped_by_me:
        parts.append("no close frame from testee")
    if peer.dropped_by_me:
        parts.append("we dropped TCP (timeout)")
    elif getattr(peer, "server_closed", False):
        parts.append("we closed TCP")
    elif peer.ended == "fin":
        parts.append("testee closed TCP")
    elif peer.ended == "reset":
        parts.append("testee reset TCP")
    elif peer.ended:
        parts.append("TCP %s" % peer.ended)
    return ", ".join(parts)


def grade(case, peer, role):
    """Autobahn-style: behaviour (events) and close behaviour. Returns (outcome, detail)."""
    events = list(peer.events)
    details = []
    if peer.violations:
        return C.FAILED, "testee framing violation: " + "; ".join(peer.violations[:3])

    behaviour = match_expect(case, events)
    if behaviour is None:
        details.append("got [%s]" % C.describe(events))
    if case.check is not None:
        problem = case.check(peer)
        if problem:
            behaviour = None
            details.append(problem)

    c = case.close
    was_clean = peer.close_sent and peer.close_received is not None and not peer.dropped_by_me
    remote = peer.close_received[0] if peer.close_received is not None else None
    if bool(peer.closed_by_me) != c.by_me:
        close_grade = C.FAILED
        details.append("connection closed by the wrong endpoint" if peer.closed_by_me is not None
                       else "nobody closed the connection")
        if c.by_me is False and peer.dropped_by_me:
            details[-1] = "the testee did not fail the connection within %gs" % case.guard
    elif c.clean and not was_clean:
        close_grade = C.FAILED
        details.append("UNCLEAN: the closing handshake did not complete")
    elif remote is not None and remote not in c.codes:
        close_grade = C.FAILED
        details.append("WRONG CODE: close %d, expected %s or none"
                       % (remote, "/".join(map(str, c.codes))))
    elif role == "server" and peer.dropped_by_me:
        close_grade = C.NON_STRICT
        details.append("FAILED BY CLIENT: the server did not close the TCP connection")
    else:
        close_grade = C.OK

    if case.informational:
        outcome = C.INFORMATIONAL
        details = (["got [%s]" % C.describe(events)] +
                   [d for d in details if not d.startswith("got")])
    elif behaviour is None or close_grade == C.FAILED:
        outcome = C.FAILED
    elif close_grade == C.NON_STRICT and behaviour == C.OK:
        outcome = C.NON_STRICT
    else:
        outcome = behaviour
    return outcome, "; ".join(details)


# ---- the two roles ---------------------------------------------------------------------------

class Result:
    def __init__(self, role, case, outcome, detail, close, seconds):
        self.role, self.case, self.outcome = role, case, outcome
        self.detail, self.close, self.seconds = detail, close, seconds

    @property
    def key(self):
        return "%s/%s" % (self.role, self.case.id)


def start_echo_server(bin_dir, log, extra=()):
    proc = subprocess.Popen([os.path.join(bin_dir, "echo_server"), "--addr", "127.0.0.1:0"]
                            + list(extra),
                            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline().decode("utf-8", "replace")
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        stop_process(proc)
        raise RuntimeError("echo_server did not start: %r" % line)
    return proc, int(m.group(1))


def stop_process(proc, sig=signal.SIGTERM, wait=8.0):
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(sig)
        return proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def not_negotiated(case, peer, outcome, detail):
    """A permessage-deflate case whose connection did not negotiate it: UNIMPLEMENTED."""
    if getattr(case, "deflate", None) is not None and peer.pmd is None:
        return C.UNIMPLEMENTED, "permessage-deflate not negotiated; " + detail
    return outcome, detail


def run_server_role(selected, bin_dir, log, progress):
    """Sections 12/13 (permessage-deflate) run against a second echo_server with --deflate."""
    results = []
    servers = {}

    def server(deflate):
        if deflate not in servers or servers[deflate][0].poll() is not None:
            servers[deflate] = start_echo_server(bin_dir, log, ["--deflate"] if deflate else [])
        return servers[deflate]

    try:
        for case in selected:
            t0 = time.monotonic()
            close = ""
            deflate = getattr(case, "deflate", None)
            proc, port = server(deflate is not None)
            try:
                if deflate is None:
                    peer = client_connect("127.0.0.1", port, "/" + case.id, timeout=10.0)
                else:
                    peer = client_connect("127.0.0.1", port, "/" + case.id, timeout=10.0,
                                          offer=deflate.offer, negotiate=deflate.negotiate)
            except (OSError, HandshakeError) as e:
                outcome, detail = C.FAILED, "handshake failed: %s" % e
            else:
                error = play_case(case, peer)
                outcome, detail = grade(case, peer, "server")
                close = close_story(peer, "server")
                if error:
                    outcome, detail = C.FAILED, error
                outcome, detail = not_negotiated(case, peer, outcome, detail)
            if proc.poll() is not None:
                outcome = C.FAILED
                detail = ("echo_server exited with status %s during this case; restarted. "
                          % proc.returncode) + detail
            results.append(Result("server", case, outcome, detail, close,
                                  time.monotonic() - t0))
            progress(results[-1])
    finally:
        for proc, _ in servers.values():
            code = stop_process(proc)
            if code not in (0, None):
                print("warning: echo_server exited with status %s at shutdown" % code,
                      file=sys.stderr)
    return results


def run_client_role(selected, bin_dir, log, progress):
    results = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    client = os.path.join(bin_dir, "client")
    try:
        for case in selected:
            t0 = time.monotonic()
            close = ""
            errf = tempfile.TemporaryFile()
            deflate = getattr(case, "deflate", None)
            flags = ["--echo"] + (["--deflate"] if deflate is not None else [])
            proc = subprocess.Popen([client] + flags + ["ws://127.0.0.1:%d/%s" % (port, case.id)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errf)
            try:
                try:
                    peer, path = server_accept(listener, timeout=10.0,
                                               answer=deflate.answer if deflate else None)
                except (OSError, HandshakeError) as e:
                    outcome, detail = C.FAILED, "handshake failed: %s" % e
                else:
                    if path != "/" + case.id:
                        peer.drop()
                        outcome, detail = C.FAILED, "client asked for %r" % path
                    else:
                        error = play_case(case, peer)
                        outcome, detail = grade(case, peer, "client")
                        close = close_story(peer, "client")
                        if error:
                            outcome, detail = C.FAILED, error
                        outcome, detail = not_negotiated(case, peer, outcome, detail)
                try:
                    status = proc.wait(10)
                except subprocess.TimeoutExpired:
                    status = stop_process(proc, signal.SIGKILL)
                    outcome = C.FAILED
                    detail = "client did not exit within 10 s after the case; " + detail
                if status < 0:  # killed by a signal: a crash
                    errf.seek(0)
                    tail = errf.read()[-300:].decode("utf-8", "replace").strip()
                    outcome = C.FAILED
                    detail = "client died with signal %d (%s); %s" % (-status, tail, detail)
                close = (close + ", " if close else "") + "client exit %d" % status
                errf.seek(0)
                log.write(b"---- client " + case.id.encode() + b"\n" + errf.read())
            finally:
                if proc.poll() is None:
                    stop_process(proc, signal.SIGKILL)
                errf.close()
            results.append(Result("client", case, outcome, detail, close,
                                  time.monotonic() - t0))
            progress(results[-1])
    finally:
        listener.close()
    return results


# ---- reporting -------------------------------------------------------------------------------

def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def section_key(cid):
    return tuple(int(x) if x.isdigit() else 99 for x in cid.split("."))


def summary_rows(results):
    """{(role, section): {outcome: count}}"""
    table = {}
    for r in results:
        d = table.setdefault((r.role, r.case.section), {o: 0 for o in OUTCOMES})
        d[r.outcome] += 1
    return table


def counts_text(d):
    return ", ".join("%s %d" % (o, d[o]) for o in OUTCOMES if d.get(o))


def write_results(path, results, expected, elapsed):
    roles = [r for r in ("server", "client") if any(x.role == r for x in results)]
    table = summary_rows(results)
    lines = ["# WebSocket conformance results", "",
             "Autobahn|Testsuite-style cases (sections 1-7, 9 scaled, 10, 12-13 with --deflate), run by "
             "`tests/conformance/run.sh`; rules in `tests/conformance/cases.py`, grading and "
             "justifications in `tests/conformance/NOTES.md`.", "",
             "* server role: our raw peer against `examples/build/echo_server`",
             "* client role: our raw server against `examples/build/client --echo`", "",
             "Run time: %.1f s." % elapsed, "", "## Summary", "",
             "| Section | " + " | ".join("%s role" % r for r in roles) + " |",
             "|---|" + "---|" * len(roles)]
    for sec in sorted(C.SECTIONS, key=lambda s: section_key(str(s))):
        cells = []
        for role in roles:
            d = table.get((role, sec))
            cells.append(counts_text(d) if d else "-")
        if any(c != "-" for c in cells):
            lines.append("| %s %s | %s |" % (sec, C.SECTIONS[sec], " | ".join(cells)))
    totals = []
    for role in roles:
        d = {o: 0 for o in OUTCOMES}
        for r in results:
            if r.role == role:
                d[r.outcome] += 1
        totals.append(counts_text(d))
    lines.append("| **all** | %s |" % " | ".join(totals))
    lines.append("")
    for role in roles:
        lines += ["## %s role" % role.capitalize(), "",
                  "| Case | Description | Outcome | Close | Details | ms |",
                  "|---|---|---|---|---|---:|"]
        for r in sorted((x for x in results if x.role == role),
                        key=lambda x: section_key(x.case.id)):
            exp = expected.get(r.key)
            outcome = r.outcome if exp in (None, r.outcome) else \
                "%s (expected %s)" % (r.outcome, exp)
            lines.append("| %s | %s | %s | %s | %s | %d |" % (
                r.case.id, md_escape(r.case.desc), outcome, md_escape(r.close),
                md_escape(r.detail), round(r.seconds * 1000)))
        lines.append("")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=("server", "client", "both"), default="both")
    ap.add_argument("--cases", nargs="*", default=[],
                    help="case id prefixes to run (e.g. 1.1 6.4.1 7); default all")
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "examples", "build"))
    ap.add_argument("--expected", default=os.path.join(HERE, "expected.json"))
    ap.add_argument("--results", default=os.path.join(ROOT, "target", "conformance",
                                                      "results.md"))
    ap.add_argument("--write-expected", action="store_true",
                    help="rewrite expected.json from this run (justify non-OK in NOTES.md)")
    ap.add_argument("--list", action="store_true", help="list the cases and their rules")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = ap.parse_args()

    def wanted(cid):
        return not args.cases or any(cid == p or cid.startswith(p.rstrip(".") + ".")
                                     for p in args.cases)

    selected = [c for c in C.CASES if wanted(c.id)]
    if args.list:
        for c in selected:
            print("%-8s %s\n         rule: %s" % (c.id, c.desc, c.rule))
        return 0
    if not selected:
        print("no case matches", file=sys.stderr)
        return 2
    try:
        with open(args.expected, encoding="utf-8") as f:
            expected = json.load(f)
    except FileNotFoundError:
        expected = {}

    lock = threading.Lock()

    def progress(r):
        exp = expected.get(r.key)
        bad = exp != r.outcome
        if args.verbose or (bad and not args.write_expected):
            with lock:
                print("%-22s %-13s %s%s%s" % (r.key, r.outcome,
                                              "(expected %s) " % exp if bad else "",
                                              r.detail[:160], " [%.2fs]" % r.seconds),
                      flush=True)

    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    roles = ("server", "client") if args.role == "both" else (args.role,)
    t0 = time.monotonic()
    results = {}
    # The two roles are independent (different processes and ports): run them side by side.
    threads = []
    for role in roles:
        fn = run_server_role if role == "server" else run_client_role

        def target(fn=fn, role=role):
            log_path = os.path.join(os.path.dirname(args.results), "%s-stderr.log" % role)
            try:
                with open(log_path, "wb") as log:
                    results[role] = fn(selected, args.bin_dir, log, progress)
            except Exception as e:  # reported below as missing results
                print("error: %s role: %r" % (role, e), file=sys.stderr)
                results[role] = []
        t = threading.Thread(target=target)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    all_results = [r for role in roles for r in results.get(role, [])]

    if args.write_expected:
        merged = dict(expected)
        for r in all_results:
            merged[r.key] = r.outcome
        ordered = dict(sorted(merged.items(), key=lambda kv: (
            kv[0].split("/")[0] != "server", section_key(kv[0].split("/")[1]))))
        with open(args.expected, "w", encoding="utf-8") as f:
            json.dump(ordered, f, indent=1)
            f.write("\n")
        expected = ordered

    write_results(args.results, all_results, expected, elapsed)

    # Summary table on stdout.
    table = summary_rows(all_results)
    print()
    print("%-34s %s" % ("section", "  ".join("%-40s" % ("%s role" % r) for r in roles)))
    for sec in sorted(C.SECTIONS, key=lambda s: section_key(str(s))):
        cells = [counts_text(table[(r, sec)]) if (r, sec) in table else "-" for r in roles]
        if any(c != "-" for c in cells):
            print("%-34s %s" % ("%s %s" % (sec, C.SECTIONS[sec]),
                                "  ".join("%-40s" % c for c in cells)))
    passed = sum(1 for r in all_results if expected.get(r.key) == r.outcome)
    failed = len(all_results) - passed
    expected_count = len(selected) * len(roles)
    missing = expected_count - len(all_results)
    failed += missing
    if failed:
        print("\nmismatches:")
        for r in all_results:
            if expected.get(r.key) != r.outcome:
                print("  %-22s got %-13s expected %-13s %s" % (
                    r.key, r.outcome, expected.get(r.key, "(none)"), r.detail[:200]))
        if missing:
            print("  %d case runs missing (a role aborted)" % missing)
    print("\nresults: %s (%.1f s)" % (os.path.relpath(args.results, os.getcwd()), elapsed))
    print("conformance: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
