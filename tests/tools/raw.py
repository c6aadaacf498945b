#!/usr/bin/env python3
"""raw.py: a client that speaks raw bytes, for tests that need control
no Redis client gives.

  raw.py send PORT BYTES [rst]   sends BYTES (Python escapes: \\r\\n,
                                 \\x0b), waits 0.3 s, closes (with a TCP
                                 reset when 'rst' is given)
  raw.py ask PORT BYTES SECONDS  sends BYTES, prints every byte received
                                 within SECONDS (or until the server
                                 closes), escaped, on one line
"""
import socket
import struct
import sys
import time


def decode(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def main():
    cmd, port, data = sys.argv[1], sys.argv[2], decode(sys.argv[3])
    s = connect(port)
    s.sendall(data)
    if cmd == "send":
        time.sleep(0.3)
        if len(sys.argv) > 4 and sys.argv[4] == "rst":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()
        return
    deadline = time.monotonic() + float(sys.argv[4])
    got = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        got += chunk
    s.close()
    print(got.decode("latin-1").encode("unicode_escape").decode("ascii"))


if __name__ == "__main__":
    main()
