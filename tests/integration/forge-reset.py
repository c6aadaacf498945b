#!/usr/bin/env python3
"""forge-reset.py MODE CERT KEY PORTFILE: a small TLS "Redis" on
127.0.0.1 (port written to PORTFILE) for the pool's reset check.
It answers PING, SELECT, CLIENT, GET, ECHO and RESET the way Redis does,
except that in MODE forge its answer to RESET is followed by one more
reply nobody asked for (what a client's own pipelined RESET could leave
behind), and in MODE slow GET is answered after 6 s.  MODE honest answers
like Redis.  MODE iam accepts AUTH <user> <token> only when the token is
the one `$FAKE_RS --iam-token` signs (same user, $FAKE_IAM_CACHE,
$FAKE_IAM_REGION, the credentials in the environment) for the instant in
its X-Amz-Date, no more than 900 s ago: "AUTH ok USER DATE" or "AUTH bad"
is logged; every other command needs that login.  With $FAKE_IAM_LIFETIME
set, a connection is closed that many seconds after its last good AUTH,
as ElastiCache does after 12 hours ("EXPIRED conn=N" is logged), and a
good AUTH on a connection already logged in logs "REAUTH conn=N".  MULTI
queues commands (+QUEUED, AUTH too, as Redis does) until EXEC answers
them all.  Every command it receives is appended to PORTFILE.log, one
line each."""
import socket
import ssl
import sys
import subprocess
import threading
import time
import urllib.parse

mode, cert, key, portfile = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
lock = threading.Lock()


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def commands(f):
    while True:
        line = f.readline()
        if not line:
            return
        if not line.startswith(b"*"):
            yield line.split()          # inline
            continue
        args = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            args.append(f.read(n + 2)[:-2])
        yield args


def note(line):
    with lock, open(portfile + ".log", "ab") as log:
        log.write(line + b"\n")


def iam_ok(user, token):
    """The token is the one our own signer makes for its instant."""
    q = urllib.parse.parse_qs(token.decode().partition("?")[2])
    date = q.get("X-Amz-Date", [""])[0]
    try:
        at = time.strptime(date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False, b""
    import calendar
    if not 0 <= time.time() - calendar.timegm(at) <= 900:
        return False, date.encode()
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", at)
    env = dict(os.environ)
    if os.environ.get("FAKE_ISSUED"):
        # credentials handed out by fake-aws.py: the token's key picks them
        ak = q.get("X-Amz-Credential", [""])[0].split("/")[0]
        for line in open(os.environ["FAKE_ISSUED"]):
            k, s, t = line.split()
            if k == ak:
                env.update(AWS_ACCESS_KEY_ID=k, AWS_SECRET_ACCESS_KEY=s,
                           AWS_SESSION_TOKEN=t)
                break
        else:
            return False, date.encode()
        date = date + " " + ak
    want = subprocess.run(
        [os.environ["FAKE_RS"], "--iam-token", "--iam-user-id", user.decode(),
         "--iam-cache-name", os.environ["FAKE_IAM_CACHE"], "--iam-region",
         os.environ["FAKE_IAM_REGION"], "--at", iso],
        capture_output=True, text=True, env=env).stdout.strip()
    return want != "" and want == token.decode(), date.encode()


lifetime = float(os.environ.get("FAKE_IAM_LIFETIME", "0"))
conn_ids = iter(range(1, 1 << 30))


def expire(s, cid):
    note(b"EXPIRED conn=%d" % cid)
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def serve(conn):
    authed = mode != "iam"
    cid = next(conn_ids)
    timer = None
    queued = None
    try:
        s = ctx.wrap_socket(conn, server_side=True)
        f = s.makefile("rb")
        for args in commands(f):
            name = args[0].upper() if args else b""
            note(b" ".join(args[:1]))
            if queued is not None and name not in (b"EXEC", b"DISCARD",
                                                   b"MULTI", b"RESET"):
                queued.append(args)
                s.sendall(b"+QUEUED\r\n")
                continue
            if name == b"MULTI":
                queued = []
                out = b"+OK\r\n"
            elif name == b"EXEC" and queued is not None:
                out = b"*%d\r\n" % len(queued)
                for q in queued:
                    qn = q[0].upper()
                    out += (b"+PONG\r\n" if qn == b"PING" else
                            b"-ERR AUTH inside MULTI (queued by the proxy?)\r\n"
                            if qn == b"AUTH" else b"+OK\r\n")
                queued = None
            elif name == b"AUTH" and mode == "iam" and len(args) == 3:
                was = authed
                authed, date = iam_ok(args[1], args[2])
                note(b"AUTH ok " + args[1] + b" " + date if authed
                     else b"AUTH bad")
                if authed and was:
                    note(b"REAUTH conn=%d" % cid)
                if authed and lifetime > 0:
                    if timer is not None:
                        timer.cancel()
                    timer = threading.Timer(lifetime, expire, (s, cid))
                    timer.daemon = True
                    timer.start()
                out = (b"+OK\r\n" if authed else
                       b"-WRONGPASS invalid username-password pair or user "
                       b"is disabled.\r\n")
            elif not authed and name not in (b"RESET",):
                out = b"-NOAUTH Authentication required.\r\n"
            elif name == b"PING":
                out = b"+PONG\r\n"
            elif name in (b"SELECT", b"CLIENT"):
                out = b"+OK\r\n"
            elif name == b"GET":
                if mode == "slow":
                    time.sleep(6)
                out = b"$-1\r\n"
            elif name == b"ECHO":
                out = bulk(args[1])
            elif name == b"RESET":
                queued = None
                out = b"+RESET\r\n"
                authed = mode != "iam"          # RESET logs out
                if mode == "forge":
                    out += bulk(b"INJECTED-BY-FORGE")
            else:
                out = b"-ERR unknown command '%s'\r\n" % args[0]
            s.sendall(out)
    except (OSError, ValueError, IndexError):
        pass
    finally:
        if timer is not None:
            timer.cancel()
        conn.close()


while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
