#!/usr/bin/env python3
"""driver.py: the clients of the soak test (tests/soak/run.sh).

    driver.py PORT SECONDS WORKERS OUT_JSON

WORKERS threads, each on its own keys, run random sessions through
redsleeve until SECONDS pass:

  set/get    SET a random binary value (0..64 KiB), GET it back, compare
             the reply byte for byte;
  pipeline   20 commands at once (SET, INCR, GET, PING, ECHO), every reply
             compared byte for byte;
  slow       GET of a 64 KiB value read 512 bytes at a time with pauses
             (a slow reader: the proxy must hold back, not buffer freely);
  abort      a pipeline written and the connection closed before reading;
  pubsub     SUBSCRIBE, then leave (the link cannot be recycled);
  reset      the client's own RESET, then it must still be authenticated.

A connection the server or the chaos thread closes is counted by what the
client saw (EOF, reset, an error reply) and the worker reconnects; a reply
that differs from the expected bytes is "corrupt" and must never happen.
"""
import json
import os
import random
import socket
import sys
import threading
import time


class Closed(Exception):
    pass


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError as e:
            raise Closed("send: %s" % e.__class__.__name__)

    def expect(self, want, chunk=65536, pause=0.0):
        """Reads exactly len(want) bytes and compares them."""
        while len(self.buf) < len(want):
            try:
                data = self.s.recv(chunk)
            except socket.timeout:
                raise Closed("timeout")
            except OSError as e:
                raise Closed("recv: %s" % e.__class__.__name__)
            if not data:
                raise Closed("eof")
            self.buf += data
            if self.buf[:len(want)] != want[:len(self.buf)]:
                if self.buf.startswith(b"-"):
                    while b"\r\n" not in self.buf and len(self.buf) < 400:
                        try:
                            more = self.s.recv(400)
                        except OSError:
                            more = b""
                        if not more:
                            break
                        self.buf += more
                    line = self.buf.split(b"\r\n")[0].decode(errors="replace")
                    raise Closed("error-reply: " + line[:120])
                self.mismatch = self.buf[:80]
                return False
            if pause:
                time.sleep(pause)
        if self.buf[:len(want)] != want:
            self.mismatch = self.buf[:80]
            return False
        self.buf = self.buf[len(want):]
        return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes_checked = 0
        self.sessions = {}
        self.closes = {}
        self.corrupt = 0
        self.corrupt_examples = []

    def add(self, requests, nbytes):
        with self.lock:
            self.requests += requests
            self.bytes_checked += nbytes

    def session(self, kind):
        with self.lock:
            self.sessions[kind] = self.sessions.get(kind, 0) + 1

    def closed(self, why):
        key = why.split(":")[0]
        if why.startswith("error-reply"):
            words = why[13:].split()
            if "redsleeve:" in words:
                # "-ERR redsleeve: upstream main (HOST:PORT) unreachable:
                # connect...": the words after the address
                rest = why.split(") ", 1)[-1]
                key = "proxy-error:" + "_".join(rest.split()[:2])
            else:
                key = "server-error:" + (words[0] if words else "?")
        with self.lock:
            self.closes[key] = self.closes.get(key, 0) + 1

    def bad(self, what):
        with self.lock:
            self.corrupt += 1
            if len(self.corrupt_examples) < 5:
                self.corrupt_examples.append(what)


def check(conn, stats, want, what, **kw):
    if not conn.expect(want, **kw):
        stats.bad("%s: wanted %r, got %r" % (what, want[:40],
                                             getattr(conn, "mismatch", b"")))
        raise Closed("corrupt")
    stats.add(1, len(want))


def session(port, wid, rnd, stats):
    kind = rnd.choices(["setget", "pipeline", "slow", "abort", "pubsub",
                        "reset"], [40, 30, 8, 10, 6, 6])[0]
    stats.session(kind)
    c = Conn(port)
    try:
        key = "soak:%d:%d" % (wid, rnd.randrange(1000))
        if kind == "setget":
            for _ in range(rnd.randint(1, 20)):
                v = os.urandom(rnd.choice([0, 1, 100, 4096, 65536,
                                           rnd.randrange(70000)]))
                c.send(enc("SET", key, v))
                check(c, stats, b"+OK\r\n", "set")
                c.send(enc("GET", key))
                check(c, stats, bulk(v), "get %d bytes" % len(v))
        elif kind == "pipeline":
            for _ in range(rnd.randint(1, 5)):
                out, want = [], []
                ctr = "soak:ctr:%d:%d" % (wid, rnd.randrange(1 << 30))
                n = 0
                for i in range(20):
                    op = rnd.randrange(5)
                    if op == 0:
                        v = os.urandom(rnd.randrange(2000))
                        out.append(enc("SET", key, v))
                        want.append(b"+OK\r\n")
                        out.append(enc("GET", key))
                        want.append(bulk(v))
                    elif op == 1:
                        n += 1
                        out.append(enc("INCR", ctr))
                        want.append(b":%d\r\n" % n)
                    elif op == 2:
                        out.append(enc("PING"))
                        want.append(b"+PONG\r\n")
                    else:
                        v = os.urandom(rnd.randrange(300))
                        out.append(enc("ECHO", v))
                        want.append(bulk(v))
                out.append(enc("DEL", ctr))
                want.append(b":%d\r\n" % (1 if n else 0))
                c.send(b"".join(out))
                check(c, stats, b"".join(want), "pipeline")
                stats.add(len(want) - 1, 0)
        elif kind == "slow":
            v = os.urandom(65536)
            c.send(enc("SET", key, v))
            check(c, stats, b"+OK\r\n", "slow set")
            c.send(enc("GET", key))
            check(c, stats, bulk(v), "slow get", chunk=512, pause=0.002)
        elif kind == "abort":
            # Its own keys: the commands still run after the client left,
            # and must not race this worker's next session.
            key = "soak:abort:%d" % wid
            c.send(b"".join(enc("SET", key, os.urandom(rnd.randrange(5000)))
                            for _ in range(rnd.randint(1, 30))))
            if rnd.random() < 0.5:
                c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhal")   # half a command
        elif kind == "pubsub":
            ch = "soak:ch:%d" % wid
            c.send(enc("SUBSCRIBE", ch))
            check(c, stats, b"*3\r\n$9\r\nsubscribe\r\n" + bulk(ch.encode()) +
                  b":1\r\n", "subscribe")
        elif kind == "reset":
            c.send(enc("SET", key, "before"))
            check(c, stats, b"+OK\r\n", "reset set")
            c.send(enc("RESET"))
            check(c, stats, b"+RESET\r\n", "reset")
            c.send(enc("GET", key))
            check(c, stats, bulk(b"before"), "get after reset")
    finally:
        c.close()


def worker(port, wid, deadline, stats):
    rnd = random.Random(wid * 7919 + int(time.time()))
    while time.time() < deadline:
        try:
            session(port, wid, rnd, stats)
        except Closed as e:
            if str(e) != "corrupt":
                stats.closed(str(e))
            time.sleep(0.01)
        except OSError as e:
            stats.closed("connect: %s" % e.__class__.__name__)
            time.sleep(0.05)


def main():
    port, seconds, workers, out = (int(sys.argv[1]), float(sys.argv[2]),
                                   int(sys.argv[3]), sys.argv[4])
    stats = Stats()
    deadline = time.time() + seconds
    threads = [threading.Thread(target=worker, args=(port, i, deadline, stats))
               for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump({"requests": stats.requests,
               "bytes_checked": stats.bytes_checked,
               "sessions": stats.sessions, "closes": stats.closes,
               "corrupt": stats.corrupt,
               "corrupt_examples": stats.corrupt_examples},
              open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
