#!/usr/bin/env python3
"""shared-links.py: the pinning rules of pool_mode = shared, seen by real
clients (python3-redis and raw sockets).

usage: shared-links.py CASE PROXY_PORT DIRECT_PORT CA PASSWORD
Prints one line per check: "ok NAME" or "FAIL NAME: why".
"""
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import redis

CASE, PORT, DPORT, CA, PW = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]


def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + str(why)), flush=True)


def proxy(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=20, **kw)


def direct():
    return redis.Redis(host="127.0.0.1", port=DPORT, ssl=True, ssl_ca_certs=CA,
                       ssl_cert_reqs="required", ssl_check_hostname=False,
                       password=PW, socket_timeout=20)


def server_clients():
    return int(direct().info("clients")["connected_clients"]) - 1


def raw():
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(20)
    return s


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_line(s, buf):
    while b"\r\n" not in buf[0]:
        d = s.recv(65536)
        if not d:
            return None
        buf[0] += d
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line


def idle():
    """Many idle clients cost the server nothing: it sees a handful."""
    before = server_clients()
    socks = []
    for _ in range(300):
        s = raw()
        socks.append(s)
    # every one of them works, one after the other, and stays connected
    for i, s in enumerate(socks):
        s.sendall(cmd("SET", "idle:%d" % i, i))
    good = 0
    for i, s in enumerate(socks):
        buf = [b""]
        good += read_line(s, buf) == b"+OK"
    check("300 clients each got +OK on shared links", good == 300, good)
    n = server_clients()
    # a handful: per worker at most 4 shared links and pool_max_idle (4)
    # idle ones
    most = 8 * int(os.environ.get("NWORKERS", "1"))
    check("the server sees a handful of connections for 300 clients "
          "(%d, was %d; at most %d)" % (n, before, most), n <= most, n)
    for s in socks:
        s.close()


def state():
    """Two clients interleave state; each sees only its own."""
    a, b = proxy(), proxy()
    a.set("st:k", "zero")
    a.execute_command("SELECT", 5)
    a.set("st:k", "five")
    b.set("st:k2", "b")
    check("SELECT 5 on A: A reads db 5", a.get("st:k") == b"five", a.get("st:k"))
    check("... B still reads db 0", b.get("st:k") == b"zero", b.get("st:k"))
    # MULTI on A while B runs commands
    c, d = proxy(), proxy()
    c.execute_command("MULTI")
    c.execute_command("SET", "tx:k", "in-tx")
    d.set("tx:k", "outside")
    c.execute_command("GET", "tx:k")
    res = c.execute_command("EXEC")
    check("MULTI/EXEC on C with D writing in between",
          res == [b"OK", b"in-tx"], res)
    check("... D's own replies were its own", d.get("tx:k") == b"in-tx", d.get("tx:k"))
    # WATCH: a change by another client aborts the transaction
    e, f = proxy(), proxy()
    e.execute_command("WATCH", "w:k")
    f.set("w:k", "changed")
    e.execute_command("MULTI")
    e.execute_command("SET", "w:k", "mine")
    check("WATCH on E sees F's write (EXEC aborted)",
          e.execute_command("EXEC") is None)
    # CLIENT SETNAME: only the named client has the name
    g, h = proxy(), proxy()
    g.execute_command("CLIENT", "SETNAME", "gee")
    check("CLIENT SETNAME on G: G's name", g.execute_command("CLIENT", "GETNAME") == b"gee")
    check("... H has none", h.execute_command("CLIENT", "GETNAME") is None,
          h.execute_command("CLIENT", "GETNAME"))
    # HELLO 3 on one raw client, RESP2 on the other
    x, y = raw(), raw()
    x.sendall(cmd("HELLO", "3") + cmd("SET", "h:k", "v") + cmd("HGETALL", "h:none"))
    y.sendall(cmd("HGETALL", "h:none"))
    time.sleep(0.3)
    bx, by = x.recv(65536), y.recv(65536)
    check("HELLO 3 on X: a RESP3 map back, then RESP3 replies",
          bx.startswith(b"%") and bx.endswith(b"+OK\r\n%0\r\n"), bx[-40:])
    check("... Y still speaks RESP2", by == b"*0\r\n", by)
    # BLPOP on one client while others run
    bl = proxy()
    got = {}

    def blpop():
        got["v"] = bl.blpop("bl:list", timeout=5)
    t = threading.Thread(target=blpop)
    t.start()
    time.sleep(0.3)
    others = proxy()
    t0 = time.time()
    for i in range(100):
        others.set("bl:o%d" % i, i)
    spent = time.time() - t0
    check("100 commands of another client while BLPOP waits (%.2fs)" % spent,
          spent < 3, spent)
    others.rpush("bl:list", "job")
    t.join(10)
    check("BLPOP returned the job pushed by another client",
          got.get("v") == (b"bl:list", b"job"), got)
    # SUBSCRIBE on one client, others publish and carry on
    sub = proxy().pubsub()
    sub.subscribe("news")
    m = sub.get_message(timeout=5)
    pub = proxy()
    pub.publish("news", "hello")
    msg = None
    for _ in range(10):
        msg = sub.get_message(timeout=1)
        if msg and msg["type"] == "message":
            break
    check("SUBSCRIBE on one client gets another's PUBLISH",
          msg is not None and msg.get("data") == b"hello", (m, msg))
    check("... the publisher's own replies go on", pub.ping() is True)


def big():
    """A 64 MiB reply to one slow client while 50 others get theirs."""
    payload = b"x" * (64 << 20)
    w = proxy()
    w.set("big:k", payload)
    check("SET of a 64 MiB value through a shared-mode service",
          direct().strlen("big:k") == len(payload))
    s = raw()
    s.sendall(cmd("GET", "big:k"))
    got = [0]
    done = threading.Event()

    def slow_reader():
        while got[0] < len(payload):
            d = s.recv(1 << 20)
            if not d:
                break
            got[0] += len(d)
            time.sleep(0.02)        # about 50 MiB/s at most
        done.set()
    t = threading.Thread(target=slow_reader)
    t.start()
    time.sleep(0.2)
    errors, lat = [], []

    def worker(i):
        c = proxy()
        for j in range(20):
            t0 = time.time()
            c.set("big:o%d" % i, j)
            v = c.get("big:o%d" % i)
            lat.append(time.time() - t0)
            if v != str(j).encode():
                errors.append((i, j, v))
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    t0 = time.time()
    for x in ts:
        x.start()
    for x in ts:
        x.join(60)
    spent = time.time() - t0
    still = not done.is_set()
    check("50 clients x 20 SET+GET with their own replies meanwhile",
          not errors and len(lat) == 1000, errors[:3])
    check("... and done while the 64 MiB reply was still going out "
          "(%.2fs, worst %.3fs)" % (spent, max(lat or [0])), still, spent)
    t.join(60)
    check("the slow client got all 64 MiB", got[0] >= len(payload) + 10, got[0])
    w.delete("big:k")


def kill():
    """A shared link killed mid-batch: the clients with a request on it get
    one error and are closed; the others carry on."""
    stop = threading.Event()
    acked = [0] * 20
    errs = [None] * 20

    def incr(i):
        s = raw()
        buf = [b""]
        while not stop.is_set():
            # a script that keeps the server busy a little (EVAL may share
            # a link): requests of the other clients are always waiting at
            # the server when the kill runs, whatever the worker count
            s.sendall(cmd("EVAL", "local i = 0 while i < 20000 do i = i + 1 "
                          "end return redis.call('INCR', KEYS[1])", 1,
                          "kill:n"))
            line = read_line(s, buf)
            if line is None:
                errs[i] = errs[i] or "eof"
                return
            if line.startswith(b"-"):
                errs[i] = line
                rest = read_line(s, buf)
                if rest is not None:
                    errs[i] = b"more after the error: %r" % rest
                return
            acked[i] += 1
    quiet = raw()
    quiet.sendall(cmd("PING"))
    qbuf = [b""]
    read_line(quiet, qbuf)
    ts = [threading.Thread(target=incr, args=(i,)) for i in range(20)]
    for x in ts:
        x.start()
    time.sleep(0.5)
    d = direct()
    killed = d.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    time.sleep(0.5)
    stop.set()
    for x in ts:
        x.join(10)
    hit = [e for e in errs if e is not None]
    check("CLIENT KILL closed %s server connections" % killed, int(killed) >= 1)
    check("clients with a request on the killed link got one error, then EOF",
          hit and all(isinstance(e, bytes) and b"shared link" in e and
                      b"may or may not have run" in e for e in hit), hit[:3])
    total = int(d.get("kill:n") or 0)
    check("no acknowledged INCR lost (server %d, acked %d, errored %d)" %
          (total, sum(acked), len(hit)),
          sum(acked) <= total <= sum(acked) + len(hit))
    quiet.sendall(cmd("PING"))
    check("a client with nothing in flight carries on, same connection",
          read_line(quiet, qbuf) == b"+PONG")


def pipe():
    """A client pipelines far past the in-flight bound (128), then sends
    its FIN: every reply still arrives, in order."""
    s = raw()
    s.sendall(b"".join(cmd("INCR", "pipe:n") for _ in range(1000)))
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    lines = data.split(b"\r\n")[:-1]
    want = [b":%d" % i for i in range(1, 1001)]
    check("1000 pipelined INCRs then FIN: 1000 replies in order",
          lines == want, (len(lines), lines[:2], lines[-2:]))


def slow():
    """(A service with one shared link.)  A client that never reads its
    long reply holds the link; after 10 s it is closed and the client
    queued behind it gets its reply."""
    w = proxy()
    w.set("slow:big", b"y" * (32 << 20))   # more than the sockets hold
    a = raw()
    a.sendall(cmd("GET", "slow:big"))      # never read
    time.sleep(0.5)
    b = raw()
    t0 = time.time()
    b.sendall(cmd("GET", "slow:small"))
    buf = [b""]
    b.sendall(cmd("SET", "slow:small", "ok"))
    first = read_line(b, buf)
    spent = time.time() - t0
    check("a client behind a reader that never reads gets its reply once "
          "that reader is closed (%.1fs)" % spent,
          first == b"$-1" and 8 <= spent <= 19, (first, spent))
    check("... and its next reply at once", read_line(b, buf) == b"+OK")
    a.settimeout(5)
    try:
        got = 0
        while True:
            d = a.recv(1 << 20)
            if not d:
                break
            got += len(d)
        closed = True
    except OSError:
        closed = False
    check("the slow reader was closed (after %d bytes)" % got, closed)


def links(pid):
    """Local ports of process pid's TCP connections to the server."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dport",
                          "=", ":%d" % DPORT], capture_output=True,
                         text=True).stdout
    return [ln.split()[2].rsplit(":", 1)[1] for ln in out.splitlines()
            if "pid=%d," % pid in ln]


def unsent():
    """(One shared link; the server stopped.)  Clients fill the link past
    what the sockets hold, later clients queue behind them, then the link
    is cut (ss -K): the later clients, none of whose requests was written,
    are told they did not run, and they did not; the others are told they
    may have."""
    spid, rspid = int(os.environ["SERVER_PID"]), int(os.environ["RS_PID"])
    p = raw()
    p.sendall(cmd("PING"))
    pbuf = [b""]
    check("the shared link is up", read_line(p, pbuf) == b"+PONG")
    val = b"v" * 4096
    fillers, late = [], []
    os.kill(spid, signal.SIGSTOP)
    try:
        for i in range(40):         # ~10 MB: more than the sockets hold
            s = raw()
            s.sendall(b"".join(cmd("SET", "unsent:f%d:%d" % (i, j), val)
                               for j in range(60)))
            fillers.append(s)
        time.sleep(1.5)
        for i in range(10):
            s = raw()
            s.sendall(b"".join(cmd("SET", "unsent:l%d:%d" % (i, j), "x")
                               for j in range(3)))
            late.append(s)
        time.sleep(0.5)
        mine = links(rspid)     # the shared one, and any idle in the pool
        for lport in mine:
            subprocess.run(["ss", "-K", "sport", "=", ":" + lport, "dport",
                            "=", ":%d" % DPORT], capture_output=True)
        time.sleep(0.3)
        # A kernel without CONFIG_INET_DIAG_DESTROY cannot cut one socket:
        # the stopped server is killed instead (then nothing after the
        # stop ran, for anyone).
        killed = bool(set(mine) & set(links(rspid)))
        if killed:
            os.kill(spid, signal.SIGKILL)
    finally:
        os.kill(spid, signal.SIGCONT)
    check("redsleeve's links found and cut (%s%s)" %
          (mine, ", by killing the server: no ss -K here" if killed else ""),
          len(mine) >= 1)

    def told(s):
        buf = [b""]
        line = read_line(s, buf)
        if line is None or not line.startswith(b"-ERR"):
            return ("no error", line)
        rest = read_line(s, buf)
        return ("error", line) if rest is None else ("more", rest)
    f = [told(s) for s in fillers]
    l_ = [told(s) for s in late]
    every = f + l_
    check("every client got one error, then EOF",
          all(k == "error" for k, _ in every),
          [x for x in every if x[0] != "error"][:3])
    check("the later clients were told their requests were not sent and "
          "did not run", all(b"before the request was sent; it did not run"
                             in m for _, m in l_), l_[:2])
    check("the first client was told they may or may not have run",
          b"may or may not have run" in f[0][1], f[0])
    if killed:
        return
    d = direct()
    d.ping()
    ran = sum(d.exists(*["unsent:l%d:%d" % (i, j) for j in range(3)])
              for i in range(10))
    check("... and none of the later clients' SETs ran", ran == 0, ran)


def metric(name):
    """The sum of a /metrics series of the shared service (ADMIN port)."""
    import urllib.request
    body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" %
                                  os.environ["ADMIN"], timeout=10).read()
    tot = 0
    for ln in body.decode().splitlines():
        if ln.startswith(name + "{") and 'service="shared"' in ln:
            tot += float(ln.rsplit(" ", 1)[1])
    return int(tot)


def wait_metric(name, want, secs=5):
    end = time.time() + secs
    while time.time() < end:
        got = metric(name)
        if got == want:
            return got
        time.sleep(0.05)
    return metric(name)


def unpin():
    """A client pinned by a transaction or a blocking command goes back to
    shared links once it ended, its link back to the pool; one that
    touched other state (SELECT, an open WATCH) stays pinned."""
    base = metric("redsleeve_clients_unpinned_total")
    a = raw()
    buf = [b""]
    a.sendall(cmd("MULTI") + cmd("SET", "up:a", "1") + cmd("EXEC"))
    got = [read_line(a, buf) for _ in range(4)]
    check("MULTI/SET/EXEC answered", got == [b"+OK", b"+QUEUED", b"*1", b"+OK"],
          got)
    check("... then the client is back on shared links (pinned %d)" %
          wait_metric("redsleeve_clients_pinned", 0),
          metric("redsleeve_clients_pinned") == 0 and
          metric("redsleeve_clients_unpinned_total") == base + 1)
    a.sendall(cmd("GET", "up:a"))
    got = [read_line(a, buf) for _ in range(2)]
    check("... and its next command is answered there", got == [b"$1", b"1"],
          got)
    b = raw()
    bbuf = [b""]
    b.sendall(cmd("BLPOP", "up:none", "0.1"))
    got = read_line(b, bbuf)
    check("a BLPOP that timed out unpins (%s)" % got,
          got in (b"*-1", b"$-1") and
          wait_metric("redsleeve_clients_unpinned_total", base + 2) ==
          base + 2)
    c = raw()
    cbuf = [b""]
    c.sendall(cmd("WATCH", "up:w") + cmd("UNWATCH", "up:w"))
    got = [read_line(c, cbuf) for _ in range(2)]
    time.sleep(0.2)
    check("WATCH then a refused UNWATCH: still pinned (the key is still "
          "watched)", got[0] == b"+OK" and got[1].startswith(b"-ERR") and
          metric("redsleeve_clients_pinned") == 1, got)
    proxy().set("up:w", "changed")
    c.sendall(cmd("MULTI") + cmd("SET", "up:w", "mine") + cmd("EXEC"))
    got = [read_line(c, cbuf) for _ in range(3)]
    check("... so another client's write still aborts its transaction",
          got == [b"+OK", b"+QUEUED", b"*-1"], got)
    time.sleep(0.2)
    check("... and it stays pinned for good (a refused UNWATCH is not "
          "followed)", metric("redsleeve_clients_pinned") == 1)
    e = raw()
    ebuf = [b""]
    e.sendall(cmd("WATCH", "up:e") + cmd("MULTI") + cmd("SET", "up:e", "1") +
              cmd("EXEC"))
    got = [read_line(e, ebuf) for _ in range(5)]
    check("WATCH, MULTI, SET, EXEC: answered, then unpinned",
          got == [b"+OK", b"+OK", b"+QUEUED", b"*1", b"+OK"] and
          wait_metric("redsleeve_clients_pinned", 1) == 1, got)
    d = raw()
    dbuf = [b""]
    d.sendall(cmd("SELECT", "5") + cmd("SELECT", "0") + cmd("MULTI") +
              cmd("EXEC"))
    got = [read_line(d, dbuf) for _ in range(4)]
    time.sleep(0.2)
    check("SELECT 5 keeps a client pinned, even after SELECT 0 and a "
          "transaction", got == [b"+OK", b"+OK", b"+OK", b"*0"] and
          metric("redsleeve_clients_pinned") == 2, got)
    w = raw()
    wbuf = [b""]
    w.sendall(cmd("SET", "up:wt", "1") + cmd("WAIT", "0", "0"))
    got = [read_line(w, wbuf) for _ in range(2)]
    time.sleep(0.2)
    check("WAIT keeps a client pinned for good",
          got == [b"+OK", b":0"] and metric("redsleeve_clients_pinned") == 3,
          got)
    c.close()
    w.close()
    d.close()
    # Churn: clients pin and unpin over and over, pipelined, among others
    errs = []

    def churn(i):
        s = raw()
        sb = [b""]
        for j in range(40):
            s.sendall(cmd("MULTI") + cmd("INCR", "up:n") + cmd("EXEC") +
                      cmd("SET", "up:c%d" % i, j) + cmd("GET", "up:c%d" % i) +
                      cmd("BLPOP", "up:none", "0.01") + cmd("PING"))
            got = [read_line(s, sb) for _ in range(8)]
            if (got[:3] != [b"+OK", b"+QUEUED", b"*1"] or
                    not got[3].startswith(b":") or
                    got[4:7] != [b"+OK", b"$%d" % len(str(j)), str(j).encode()]
                    or got[7] not in (b"*-1", b"$-1")):
                errs.append((i, j, got))
                return
            if read_line(s, sb) != b"+PONG":
                errs.append((i, j, "no PONG"))
                return
    before = metric("redsleeve_clients_unpinned_total")
    ts = [threading.Thread(target=churn, args=(i,)) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    n = int(direct().get("up:n") or 0)
    ups = metric("redsleeve_clients_unpinned_total") - before
    check("10 clients pin and unpin 40 times each: every reply right (%d "
          "INCRs, %d unpins)" % (n, ups), not errs and n == 400 and ups == 400,
          errs[:2])


{"idle": idle, "state": state, "big": big, "kill": kill, "pipe": pipe,
 "slow": slow, "unsent": unsent, "unpin": unpin}[CASE]()
