#!/usr/bin/env python3
"""forge-reset.py MODE CERT KEY PORTFILE: a small TLS "Redis" on
127.0.0.1 (port written to PORTFILE) for the pool's reset check.
It answers PING, SELECT, CLIENT, GET, ECHO and RESET the way Redis does,
except that in MODE forge its answer to RESET is followed by one more
reply nobody asked for (what a client's own pipelined RESET could leave
behind), and in MODE slow GET is answered after 6 s.  MODE honest answers
like Redis.  Every command it receives is
appended to PORTFILE.log, one line each."""
import socket
import ssl
import sys
import threading
import time

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


def serve(conn):
    try:
        s = ctx.wrap_socket(conn, server_side=True)
        f = s.makefile("rb")
        for args in commands(f):
            name = args[0].upper() if args else b""
            with lock, open(portfile + ".log", "ab") as log:
                log.write(b" ".join(args[:1]) + b"\n")
            if name == b"PING":
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
                out = b"+RESET\r\n"
                if mode == "forge":
                    out += bulk(b"INJECTED-BY-FORGE")
            else:
                out = b"-ERR unknown command '%s'\r\n" % args[0]
            s.sendall(out)
    except (OSError, ValueError, IndexError):
        pass
    finally:
        conn.close()


while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
