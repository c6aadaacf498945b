#!/usr/bin/env python3
"""memscan.py PID NEEDLE: counts the copies of NEEDLE in the memory of
process PID (every readable private mapping; run as root).  Prints the
count and, for each copy, the mapping it lies in.  Mappings over 1 GiB
(a sanitizer's shadow or allocator space) are skipped and said so on
stderr: scan an unsanitized build."""
import re
import sys

pid, needle = int(sys.argv[1]), sys.argv[2].encode()
found = []
with open(f"/proc/{pid}/maps") as maps, \
        open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
        lo, hi, perms, name = int(m[1], 16), int(m[2], 16), m[3], m[4]
        if perms[0] != "r" or name in ("[vvar]", "[vsyscall]", "[vdso]"):
            continue
        if hi - lo > 1 << 30:
            print(f"skipped {name or 'anon'} {hi - lo} bytes", file=sys.stderr)
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
        start = 0
        while (i := data.find(needle, start)) >= 0:
            found.append(f"{lo + i:#x} {perms} {name or 'anon'}")
            start = i + 1
print(len(found))
for f in found:
    print(f)
