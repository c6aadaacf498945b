#!/usr/bin/env python3
"""watch-opens.py FILE OUT: counts the times FILE is opened (inotify
IN_OPEN, by any process) and rewrites OUT with the count after each one.
Runs until killed; OUT holds 0 once the watch is in place."""
import ctypes
import os
import struct
import sys

IN_OPEN = 0x20
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init()
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_OPEN) < 0:
    sys.exit("inotify: " + os.strerror(ctypes.get_errno()))


def report(n):
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % n)
    os.rename(tmp, sys.argv[2])


count = 0
report(count)
while True:
    buf = os.read(fd, 4096)
    off = 0
    while off < len(buf):
        _, mask, _, namelen = struct.unpack_from("iIII", buf, off)
        off += 16 + namelen
        if mask & IN_OPEN:
            count += 1
    report(count)
