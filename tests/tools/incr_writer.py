#!/usr/bin/env python3
"""incr_writer: the client of the failover rehearsal.

    incr_writer.py HOST PORT KEY STOPFILE OUTFILE

Sends INCR KEY one at a time over a plain connection (through redsleeve),
as a careful application would: a reply ":N" is an acknowledged write; an
error reply or a closed connection is counted, and the writer reconnects
after RETRY seconds.  When STOPFILE appears it writes a JSON summary to
OUTFILE: acknowledged writes, the highest value seen, errors and closes
with their times (monotonic seconds) and texts.
"""
import json
import os
import socket
import sys
import time

RETRY = 0.05


def read_line(sock, buf):
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    line, _, rest = buf.partition(b"\r\n")
    return line, rest


def main():
    host, port, key, stopfile, outfile = sys.argv[1:6]
    cmd = b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(key), key.encode())
    acked = 0
    highest = 0
    events = []         # (time, kind, text)
    last_ok = None
    sock = None
    buf = b""
    while not os.path.exists(stopfile):
        try:
            if sock is None:
                sock = socket.create_connection((host, int(port)), timeout=5)
                buf = b""
            sock.sendall(cmd)
            line, buf = read_line(sock, buf)
        except (OSError, ConnectionError) as e:
            events.append((time.monotonic(), "close", str(e)))
            if sock is not None:
                sock.close()
            sock = None
            time.sleep(RETRY)
            continue
        if line.startswith(b":"):
            acked += 1
            highest = max(highest, int(line[1:]))
            last_ok = time.monotonic()
        else:
            events.append((time.monotonic(), "error",
                           line.decode(errors="replace")))
            time.sleep(RETRY)
    if sock is not None:
        sock.close()
    with open(outfile + ".tmp", "w") as f:
        json.dump({"acked": acked, "highest": highest, "events": events,
                   "last_ok": last_ok, "now": time.monotonic()}, f)
    os.rename(outfile + ".tmp", outfile)


if __name__ == "__main__":
    main()
