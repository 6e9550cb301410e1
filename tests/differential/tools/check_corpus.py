#!/usr/bin/env python3
"""Validator for the Cinnabar differential test corpus (tests/differential/*.redis).

It runs every corpus file against real redis-server processes and checks that
the raw reply bytes are reproducible, i.e. that the corpus is usable for a
byte-for-byte comparison between redis-server and Cinnabar.

Three independent runs are made and their replies compared line by line:
  run A: a brand-new redis-server for every file;
  run B: one redis-server shared by all files, run one after the other in
         name order (like a harness that only sends FLUSHALL between files);
  run C: like B, on another server, in reverse order.
B and C also catch state that leaks from one file into another (client ids,
DEBUG SET-ACTIVE-EXPIRE left off, ...); in addition CONFIG GET * is compared
before and after every file, and a file that leaves a parameter changed fails.

Besides nondeterminism it reports corpus mistakes: lines that do not tokenise,
replies that do not arrive or are not valid RESP, protocol errors on lines that
are not !inline, connection numbers used after the server closed them, and
"unknown command" replies outside an *errors* file unless the name has FOO.

Usage:
  check_corpus.py [FILES...]            validate (default: all ../*.redis)
  check_corpus.py --dump [FILES...]     print every command and its reply
  check_corpus.py --redis-server PATH   redis-server binary (default: redis-server)

Only the Python 3 standard library is used.  Exit status 0 = all good.
"""

import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.dirname(HERE)
REPLY_TIMEOUT = 5.0


# --------------------------------------------------------------------------
# Corpus parsing
# --------------------------------------------------------------------------

class CorpusError(Exception):
    pass


def _is_hex(c):
    return c != "" and c in "0123456789abcdefABCDEF"


def split_args(line):
    """Tokenise like redis-cli (sdssplitargs).  Returns a list of bytes.

    Raises CorpusError on unbalanced quotes or a closing quote that is not
    followed by whitespace / end of line."""
    out = []
    i = 0
    n = len(line)

    def ch(k):
        return line[k] if k < n else ""

    while True:
        while i < n and line[i] in " \n\r\t\v\f":
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = done = False
        while not done:
            c = ch(i)
            if inq:
                if c == "\\" and ch(i + 1) == "x" and _is_hex(ch(i + 2)) and _is_hex(ch(i + 3)):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and ch(i + 1) != "":
                    i += 1
                    e = line[i]
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b",
                            "a": b"\a"}.get(e, e.encode("utf-8"))
                elif c == '"':
                    if ch(i + 1) != "" and ch(i + 1) not in " \n\r\t\v\f":
                        raise CorpusError("closing quote must be followed by a space")
                    done = True
                elif c == "":
                    raise CorpusError("unbalanced double quotes")
                else:
                    cur += c.encode("utf-8")
            elif insq:
                if c == "\\" and ch(i + 1) == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if ch(i + 1) != "" and ch(i + 1) not in " \n\r\t\v\f":
                        raise CorpusError("closing quote must be followed by a space")
                    done = True
                elif c == "":
                    raise CorpusError("unbalanced single quotes")
                else:
                    cur += c.encode("utf-8")
            else:
                if c in (" ", "\n", "\r", "\t", ""):
                    done = True
                elif c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode("utf-8")
            if i < n:
                i += 1
        out.append(bytes(cur))


class Step:
    __slots__ = ("lineno", "text", "conn", "compare", "inline", "args", "payload", "kind", "arg")

    def __init__(self, lineno, text, conn, compare, inline, args, payload, kind="cmd", arg=None):
        self.kind = kind    # cmd (send + read one reply), send (no read), recv (read only), wait-blocked
        self.arg = arg
        self.lineno = lineno
        self.text = text
        self.conn = conn
        self.compare = compare
        self.inline = inline
        self.args = args
        self.payload = payload


CONN_RE = re.compile(r"^@([0-9]) ")


def parse_file(path):
    steps = []
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # must be valid UTF-8
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        stripped = line.strip()
        if stripped == "" or stripped.startswith("#"):
            continue
        rest = line
        conn = 0
        m = CONN_RE.match(rest)
        if m:
            conn = int(m.group(1))
            rest = rest[m.end():]
        compare = True
        if rest.startswith("!noreply-compare "):
            compare = False
            rest = rest[len("!noreply-compare "):]
        kind = "cmd"
        if rest.strip() == "!recv":
            steps.append(Step(lineno, line, conn, compare, False, None, b"", "recv"))
            continue
        if rest.startswith("!wait-blocked "):
            steps.append(Step(lineno, line, conn, False, False, None, b"", "wait-blocked", int(rest.split()[1])))
            continue
        if rest.startswith("!send "):
            kind = "send"
            compare = False
            rest = rest[len("!send "):]
        if rest.startswith("!inline "):
            body = rest[len("!inline "):]
            payload = body.encode("utf-8") + b"\r\n"
            steps.append(Step(lineno, line, conn, compare, True, None, payload))
            continue
        if rest.startswith("!") or rest.startswith("@"):
            raise CorpusError("%s:%d: unknown directive: %r" % (path, lineno, line))
        try:
            args = split_args(rest)
        except CorpusError as e:
            raise CorpusError("%s:%d: %s: %r" % (path, lineno, e, line))
        if not args:
            raise CorpusError("%s:%d: no arguments" % (path, lineno))
        payload = bytearray(b"*%d\r\n" % len(args))
        for a in args:
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
        steps.append(Step(lineno, line, conn, compare, False, args, bytes(payload), kind))
    return steps


# --------------------------------------------------------------------------
# RESP reading
# --------------------------------------------------------------------------

class ConnClosed(Exception):
    pass


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for a reply")
        if not chunk:
            raise ConnClosed()
        self.buf += chunk

    def _line(self):
        while True:
            idx = self.buf.find(b"\r\n", self.pos)
            if idx >= 0:
                line = bytes(self.buf[self.pos:idx])
                self.pos = idx + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ValueError("bulk string not terminated by CRLF")
        self.pos += n + 2
        return data

    def _value(self, out):
        line = self._line()
        if not line:
            raise ValueError("empty reply line")
        out += line + b"\r\n"
        t = line[:1]
        body = line[1:]
        if t in b"+-:_,#(":
            return
        if t in b"$!=":
            n = int(body)
            if n < 0:
                if t != b"$" or n != -1:
                    raise ValueError("bad bulk length %r" % line)
                return
            out += self._exact(n) + b"\r\n"
            return
        if t in b"*~>":
            n = int(body)
            if n < 0:
                if t != b"*" or n != -1:
                    raise ValueError("bad aggregate length %r" % line)
                return
            for _ in range(n):
                self._value(out)
            return
        if t in b"%":
            for _ in range(2 * int(body)):
                self._value(out)
            return
        if t == b"|":  # attribute: a map followed by the real reply
            for _ in range(2 * int(body)):
                self._value(out)
            self._value(out)
            return
        raise ValueError("unknown RESP type byte in %r" % line)

    def read_reply(self):
        out = bytearray()
        self._value(out)
        del self.buf[:self.pos]
        self.pos = 0
        return bytes(out)

    def expect_eof(self, wait=2.0):
        """True if the server closes the connection (and sends nothing else)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1)
        except (socket.timeout, OSError) as e:
            return not isinstance(e, socket.timeout)
        finally:
            self.sock.settimeout(REPLY_TIMEOUT)
        return data == b""


# --------------------------------------------------------------------------
# redis-server processes
# --------------------------------------------------------------------------

def port_free(port):
    for p in (port, port + 10000):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


_next_port = [14100]


def pick_port():
    while _next_port[0] < 15000:
        p = _next_port[0]
        _next_port[0] += 1
        if port_free(p):
            return p
    raise RuntimeError("no free port in 14100-14999")


class Server:
    def __init__(self, binary):
        self.port = pick_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
             "--daemonize", "no", "--loglevel", "warning", "--dir", "/tmp",
             "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                c = Conn(self.port)
                c.send(b"*1\r\n$4\r\nPING\r\n")
                if c.read_reply() == b"+PONG\r\n":
                    c.close()
                    break
            except (OSError, ConnClosed, TimeoutError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server did not start on port %d" % self.port)
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # only the process we started, by handle
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# Running a file
# --------------------------------------------------------------------------

class RunResult:
    def __init__(self):
        self.replies = []   # (step, reply bytes or marker)
        self.problems = []  # strings


def decode_resp(raw):
    """Decode one RESP2 reply (bytes) into Python values (only what
    CONFIG GET needs: arrays and bulk strings)."""
    pos = 0

    def value():
        nonlocal pos
        end = raw.index(b"\r\n", pos)
        line = raw[pos:end]
        pos = end + 2
        t, body = line[:1], line[1:]
        if t == b"$":
            n = int(body)
            if n < 0:
                return None
            v = raw[pos:pos + n]
            pos += n + 2
            return v
        if t == b"*":
            return [value() for _ in range(int(body))]
        return line
    return value()


def config_snapshot(port):
    c = Conn(port)
    c.send(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n")
    items = decode_resp(c.read_reply())
    c.close()
    return dict(zip(items[0::2], items[1::2]))


def run_file(steps, port, path):
    res = RunResult()
    before = config_snapshot(port)
    # preamble, like the harness: FLUSHALL, SELECT 0, HELLO 2 on a fresh connection
    ctl = Conn(port)
    for cmd in (b"*1\r\n$8\r\nFLUSHALL\r\n", b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"):
        ctl.send(cmd)
        r = ctl.read_reply()
        if r != b"+OK\r\n":
            res.problems.append("preamble failed: %r" % r)
    ctl.close()

    conns = {}
    dead = set()
    for st in steps:
        where = "%s:%d" % (os.path.basename(path), st.lineno)
        if st.conn in dead:
            res.problems.append("%s: connection @%d used after the server closed it" % (where, st.conn))
            res.replies.append((st, b"<not sent>"))
            continue
        if st.conn not in conns:
            c = Conn(port)
            c.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n")
            c.read_reply()
            conns[st.conn] = c
        c = conns[st.conn]
        if st.kind == "wait-blocked":
            deadline = time.time() + 5
            while True:
                w = Conn(port)
                w.send(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
                info = w.read_reply()
                w.close()
                if b"blocked_clients:%d\r\n" % st.arg in info:
                    break
                if time.time() > deadline:
                    res.problems.append("%s: blocked_clients never reached %d" % (where, st.arg))
                    break
                time.sleep(0.01)
            res.replies.append((st, b"<waited>"))
            continue
        if st.kind == "send":
            c.send(st.payload)
            res.replies.append((st, b"<sent>"))
            continue
        try:
            if st.kind != "recv":
                c.send(st.payload)
            reply = c.read_reply()
        except ConnClosed:
            res.problems.append("%s: connection closed without a reply" % where)
            res.replies.append((st, b"<closed>"))
            dead.add(st.conn)
            continue
        except (TimeoutError, OSError, ValueError) as e:
            res.problems.append("%s: %s" % (where, e))
            res.replies.append((st, b"<error>"))
            dead.add(st.conn)
            continue
        if reply.startswith(b"-ERR unknown command ") and not intentional_unknown(path, st):
            res.problems.append("%s: unexpected unknown-command reply (typo?) %r" % (where, reply))
        closes = False
        if reply.startswith(b"-ERR Protocol error"):
            closes = True
            if not st.inline:
                res.problems.append("%s: unexpected protocol error %r" % (where, reply))
        name = st.args[0] if st.args else (st.payload.split() or [b""])[0]
        if name.upper() == b"QUIT":
            closes = True
        if closes:
            if not c.expect_eof():
                res.problems.append("%s: expected the server to close the connection" % where)
            c.close()
            dead.add(st.conn)
            reply += b"<connection closed>"
        res.replies.append((st, reply))
    for c in conns.values():
        c.close()
    after = config_snapshot(port)
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            res.problems.append("%s: leaves CONFIG %s changed: %r -> %r (restore it at the end)"
                                % (os.path.basename(path), k.decode(), before.get(k), after.get(k)))
    return res


def intentional_unknown(path, st):
    """Unknown commands are only expected in an *errors* file, or when the
    command name contains FOO (FOOBAR, ...).  Anything else is probably a typo
    in the corpus."""
    if "errors" in os.path.basename(path):
        return True
    if st.inline:
        return b"FOO" in st.payload.upper()
    if not st.args:
        return True
    return b"FOO" in st.args[0].upper()


def fmt_reply(reply):
    s = reply.decode("utf-8", "backslashreplace")
    return s.replace("\r\n", "\\r\\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--dump", action="store_true", help="print each command and its reply")
    ap.add_argument("--redis-server", default="redis-server")
    opts = ap.parse_args()

    files = opts.files or sorted(glob.glob(os.path.join(CORPUS_DIR, "*.redis")))
    if not files:
        print("no corpus files found")
        return 1

    parsed = []
    bad = False
    for f in files:
        try:
            parsed.append((f, parse_file(f)))
        except (CorpusError, UnicodeDecodeError) as e:
            print("PARSE ERROR: %s" % e)
            bad = True
    if bad:
        return 1

    servers = []
    try:
        if opts.dump:
            for f, steps in parsed:
                srv = Server(opts.redis_server)
                servers.append(srv)
                res = run_file(steps, srv.port, f)
                srv.stop()
                print("=== %s" % os.path.basename(f))
                for st, reply in res.replies:
                    mark = "" if st.compare else "  (not compared)"
                    print("%d: %s%s" % (st.lineno, st.text, mark))
                    print("    -> %s" % fmt_reply(reply))
                for p in res.problems:
                    print("PROBLEM: %s" % p)
            return 0

        # run A: a fresh server per file
        runs_a = []
        for f, steps in parsed:
            fresh = Server(opts.redis_server)
            servers.append(fresh)
            runs_a.append(run_file(steps, fresh.port, f))
            fresh.stop()
        # run B: one shared server, files in order; run C: another, reverse order
        shared_b = Server(opts.redis_server)
        servers.append(shared_b)
        runs_b = [run_file(steps, shared_b.port, f) for f, steps in parsed]
        shared_b.stop()
        shared_c = Server(opts.redis_server)
        servers.append(shared_c)
        runs_c = [run_file(steps, shared_c.port, f) for f, steps in reversed(parsed)]
        runs_c.reverse()
        shared_c.stop()

        total = 0
        failed = False
        for (f, steps), a, b, c in zip(parsed, runs_a, runs_b, runs_c):
            name = os.path.basename(f)
            problems = list(a.problems)
            for other in (b, c):
                problems += [p for p in other.problems if p not in problems]
            for label, other in (("B (shared, in order)", b), ("C (shared, reverse order)", c)):
                for (st, ra), (_, ro) in zip(a.replies, other.replies):
                    if st.compare and ra != ro:
                        problems.append("%s:%d: NONDETERMINISTIC %s\n      run A (fresh): %s\n      run %s: %s"
                                        % (name, st.lineno, st.text, fmt_reply(ra)[:300],
                                           label, fmt_reply(ro)[:300]))
            ncmd = len(steps)
            ncmp = sum(1 for s in steps if s.compare)
            total += ncmd
            status = "ok" if not problems else "FAIL"
            print("%-32s %4d commands (%d compared)  %s" % (name, ncmd, ncmp, status))
            for p in problems:
                print("   " + p)
            if problems:
                failed = True
        print("%-32s %4d commands" % ("TOTAL", total))
        return 1 if failed else 0
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
