#!/usr/bin/env bash
# 77-hardening: one owner per address (services, admin, a second instance,
# unix sockets), pid and log files (flock, no symbolic links),
# --check-config catching what start would refuse, exposure warnings,
# unix socket mode and owner, the password kept out of the environment
# and core dumps off.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
svc() {  # svc NAME LISTEN [LINE...]
    local n=$1 l=$2
    shift 2
    printf '[%s]\nlisten = %s\nupstream = 127.0.0.1:%s\n' "$n" "$l" "$RP"
    printf 'verify_host = redis.test\nca_file = %s\npool_min_idle = 0\n' "$PKI/ca.crt"
    if (($#)); then printf '%s\n' "$@"; fi
}
rcli_unix_ping() { redis-cli -s "$W/u.sock" PING 2>&1 | grep -q 'PONG\|NOAUTH'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(free_port)

# --- one owner per address
for w in 1 2; do
    { printf '[global]\nworkers = %s\n' "$w"; svc a "$P"; svc b "127.0.0.1:$P"; } >"$W/dup$w.ini"
    out=$("$REDSLEEVE" -c "$W/dup$w.ini" --check-config 2>&1 || true)
    check "workers $w: 'listen = $P' and 'listen = 127.0.0.1:$P' refused by --check-config naming both lines" \
        grep -q "dup$w.ini:10: listen: 127.0.0.1:$P is already used by \[a\] as $P (also used at $W/dup$w.ini:4)" <<<"$out"
    rc=0; "$REDSLEEVE" -c "$W/dup$w.ini" >"$W/dupstart$w.log" 2>&1 || rc=$?
    check "workers $w: ... and start refuses it too" test "$rc" = 1
done
{ printf '[global]\nadmin_listen = 127.0.0.1:%s\n' "$P"; svc a "$P"; } >"$W/adm.ini"
out=$("$REDSLEEVE" -c "$W/adm.ini" --check-config 2>&1 || true)
check "admin_listen on a listen address is refused" \
    grep -q "adm.ini:2: admin_listen: 127.0.0.1:$P is already used by \[a\]" <<<"$out"

# A second instance on the same port fails with "address in use".
for w in 1 2; do
    { printf '[global]\nworkers = %s\n' "$w"; svc a "127.0.0.1:$P"; } >"$W/one$w.ini"
done
start_redsleeve first "$W/one1.ini"
FIRST=$RS_PID
for w in 1 2; do
    rc=0; out=$("$REDSLEEVE" -c "$W/one$w.ini" 2>&1) || rc=$?
    check "workers $w: a second instance on the same port fails" test "$rc" = 1
    check "workers $w: ... with address in use" grep -q 'one'$w'.ini:4: listen: .*Address already in use' <<<"$out"
done
stop_bg first

# Unix sockets and the pid file: a second instance leaves the first alone.
{ printf '[global]\npid_file = %s\n' "$W/rs.pid"; svc u "unix:$W/u.sock" "listen_mode = 0660" "listen_owner = nobody:nogroup"; } >"$W/unix.ini"
start_redsleeve u1 "$W/unix.ini"
U1=$RS_PID
check "the pid file holds the first's pid" test "$(cat "$W/rs.pid")" = "$U1"
check "listen_mode 0660 applied to the socket" test "$(stat -c %a "$W/u.sock")" = 660
check "listen_owner nobody:nogroup applied" test "$(stat -c %U:%G "$W/u.sock")" = nobody:nogroup
# (its own pid file: the shared one would stop it before it binds)
sed "s|$W/rs.pid|$W/rs2.pid|" "$W/unix.ini" >"$W/unix2.ini"
rc=0; out=$("$REDSLEEVE" -c "$W/unix2.ini" 2>&1) || rc=$?
check "a second instance on a live unix socket refuses" test "$rc" = 1
check "... saying a process listens there" grep -q 'unix2.ini:[0-9]*: listen: .*a running process already listens there' <<<"$out"
check "... and the first keeps its socket" test -S "$W/u.sock"
check "... and its pid file" test "$(cat "$W/rs.pid" 2>/dev/null)" = "$U1"
check "... and still serves" rcli_unix_ping
{ printf '[global]\npid_file = %s\n' "$W/rs.pid"; svc v "127.0.0.1:0"; } >"$W/pid2.ini"
rc=0; out=$("$REDSLEEVE" -c "$W/pid2.ini" 2>&1) || rc=$?
check "a second instance with the same pid file refuses" test "$rc" = 1
check "... naming it" grep -q "pid2.ini:2: pid_file: $W/rs.pid is held by a running process" <<<"$out"
check "... and the first's pid file stays" test "$(cat "$W/rs.pid" 2>/dev/null)" = "$U1"
out=$("$REDSLEEVE" -c "$W/pid2.ini" --check-config 2>&1 || true)
check "--check-config sees the held pid file" grep -q "pid2.ini:2: pid_file: .* is held by a running process" <<<"$out"
stop_bg u1
check "the pid file is removed at exit" test ! -e "$W/rs.pid"
check "a stale unix socket is replaced" bash -c "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind(\"$W/u.sock\")' && test -S $W/u.sock"
start_redsleeve u2 "$W/unix.ini"
check "... and the next start binds it" test -S "$W/u.sock"
stop_bg u2

# Symbolic links: never followed for the pid and log files.
ln -s "$W/target" "$W/link"
{ printf '[global]\npid_file = %s\n' "$W/link"; svc a "127.0.0.1:0"; } >"$W/pidlink.ini"
rc=0; out=$("$REDSLEEVE" -c "$W/pidlink.ini" 2>&1) || rc=$?
check "a pid file that is a symbolic link is refused" grep -q 'pidlink.ini:2: pid_file: .*symbolic link' <<<"$out"
check "... its target is not created" test ! -e "$W/target"
{ printf '[global]\nlog_file = %s\n' "$W/link"; svc a "127.0.0.1:0"; } >"$W/loglink.ini"
out=$("$REDSLEEVE" -c "$W/loglink.ini" 2>&1 || true)
check "a log file that is a symbolic link is refused" grep -q 'loglink.ini:2: log_file: .*symbolic link' <<<"$out"
out=$("$REDSLEEVE" -c "$W/loglink.ini" --check-config 2>&1 || true)
check "... by --check-config too" grep -q 'loglink.ini:2: log_file: .*symbolic link' <<<"$out"
check "... its target is not created" test ! -e "$W/target"

# --check-config catches what start would refuse.
cc() { "$REDSLEEVE" -c "$1" --check-config 2>&1 || true; }
{ printf '[global]\nuser = no-such-user-rs\ngroup = no-such-group-rs\n'; svc a "127.0.0.1:0"; } >"$W/nouser.ini"
out=$(cc "$W/nouser.ini")
check "--check-config: unknown user" grep -q 'nouser.ini:2: user: user no-such-user-rs does not exist' <<<"$out"
check "--check-config: unknown group" grep -q 'nouser.ini:3: group: group no-such-group-rs does not exist' <<<"$out"
{ printf '[global]\npid_file = /nonexistent-dir/rs.pid\nlog_file = /nonexistent-dir/rs.log\n'; svc a "127.0.0.1:0"; } >"$W/nofile.ini"
out=$(cc "$W/nofile.ini")
check "--check-config: pid file that cannot be written" grep -q 'nofile.ini:2: pid_file: cannot create /nonexistent-dir/rs.pid' <<<"$out"
check "--check-config: log file that cannot be written" grep -q 'nofile.ini:3: log_file: cannot create /nonexistent-dir/rs.log' <<<"$out"
if ((EUID == 0)); then
    svc a "127.0.0.1:0" >"$W/root.ini"
    out=$(env -u REDSLEEVE_ALLOW_ROOT "$REDSLEEVE" -c "$W/root.ini" --check-config 2>&1 || true)
    check "--check-config: root without user" grep -q 'refusing to run as root' <<<"$out"
fi

# Exposure: a non-loopback listen that injects AUTH is warned about.
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
svc open "0.0.0.0:0" "auth_password_file = $W/pw" >"$W/open.ini"
out=$(cc "$W/open.ini")
check "--check-config warns about a non-loopback listen with AUTH" \
    grep -q 'open.ini:2: listen: warning: \[open\] listens on 0.0.0.0:0, not a loopback address, and injects AUTH' <<<"$out"
start_redsleeve open "$W/open.ini"
check "... and so does start" grep -q 'warning=.*\[open\] listens on 0.0.0.0:0' "$W/open.log"
stop_bg open

# The password: not in the environment once read; core dumps off.
svc env "127.0.0.1:0" "auth_password_env = RS_TEST_SECRET" >"$W/env.ini"
export RS_TEST_SECRET=$REDIS_PASSWORD
start_redsleeve env "$W/env.ini"
unset RS_TEST_SECRET
check "the password is not left in /proc/PID/environ" \
    bash -c "! tr '\0' '\n' </proc/$RS_PID/environ | grep -q -- 'RS_TEST_SECRET=.'"
check "... and the service authenticates" test "$(rcli "$RS_PORT_env" PING)" = PONG
stop_bg env
if ((EUID == 0)); then
    { printf '[global]\nuser = nobody\nallow_core_dumps = yes\n'; svc d "127.0.0.1:0"; } >"$W/dump.ini"
    start_redsleeve dump "$W/dump.ini"
    check "allow_core_dumps = yes leaves the process dumpable (/proc owned by nobody)" \
        test "$(stat -c %U /proc/$RS_PID/status)" = nobody
    stop_bg dump
    sed -i '/allow_core_dumps/d' "$W/dump.ini"
    start_redsleeve dump2 "$W/dump.ini"
    check "by default it is not (/proc owned by root)" \
        test "$(stat -c %U /proc/$RS_PID/status)" = root
    stop_bg dump2
fi

# Pid file with user = nobody: the dropped user cannot unlink it in a
# root-owned directory, so it is emptied (no stale pid left); where it
# may, it is removed.
if ((EUID == 0)); then
    mkdir -m 755 "$W/rootdir" "$W/nobodydir"
    chown nobody "$W/nobodydir"
    chmod 711 "$W"
    for d in rootdir nobodydir; do
        { printf '[global]\nuser = nobody\npid_file = %s\n' "$W/$d/rs.pid"; svc p "127.0.0.1:0"; } >"$W/pid-$d.ini"
        start_redsleeve "pid$d" "$W/pid-$d.ini"
        check "user = nobody, pid file in $d: written with the pid" \
            test "$(cat "$W/$d/rs.pid")" = "$RS_PID"
        stop_bg "pid$d"
    done
    check "... in a root-owned directory it is emptied at exit" \
        test -e "$W/rootdir/rs.pid" -a ! -s "$W/rootdir/rs.pid"
    check "... where nobody may remove it, it is removed" \
        test ! -e "$W/nobodydir/rs.pid"
    chmod 700 "$W"
fi

# Secrets are wiped when freed: after links were made, a client sent
# RESET (our AUTH injected behind it) and a reload moved to a new
# password, no copy of the old one is left anywhere in the process's
# memory.  (Root reads /proc/PID/mem; a sanitizer's shadow is too large
# to scan, so only the plain build is scanned.)
if ((EUID == 0)) && ! ldd "$REDSLEEVE" | grep -q 'lib[at]san'; then
    rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
    OLD=oldsecret-$(rnd) NEW=newsecret-$(rnd)
    rcli_tls "$RP" ACL SETUSER wiper on ">$OLD" '~*' '&*' '+@all' >/dev/null
    printf '%s\n' "$OLD" >"$W/wpw"
    chmod 600 "$W/wpw"
    svc wipe "127.0.0.1:0" "auth_user = wiper" "auth_password_file = $W/wpw" \
        "pool_min_idle = 2" >"$W/wipe.ini"
    sed -i '/^pool_min_idle = 0$/d' "$W/wipe.ini"
    start_redsleeve wipe "$W/wipe.ini"
    LOG=$W/wipe.log
    check "wipe: the service authenticates with the old password" \
        test "$(rcli "$RS_PORT_wipe" PING)" = PONG
    out=$(printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_wipe" 2>&1)
    check "wipe: a client's RESET is followed by our AUTH" \
        grep -q PONG <<<"$out"
    check "wipe: the old password is in memory while in use (the scan sees it)" \
        test "$(python3 "$(dirname "$0")/memscan.py" "$RS_PID" "$OLD" | head -1)" -gt 0
    rcli_tls "$RP" ACL SETUSER wiper resetpass ">$NEW" >/dev/null
    printf '%s\n' "$NEW" >"$W/wpw"
    hup_and_wait 'event=reload result=ok'
    check "wipe: the reload to the new password applied" \
        test "$(rcli "$RS_PORT_wipe" PING)" = PONG
    rcli_tls "$RP" CLIENT KILL USER wiper >/dev/null
    wait_until 10 bash -c "redis-cli -h 127.0.0.1 -p $RS_PORT_wipe PING | grep -q PONG"
    # The old service (its AUTH command and config) is freed once its
    # killed links are seen closed, which a loaded machine may see after
    # the PING above: poll, and report the last scan.
    for _ in $(seq 50); do
        scan=$(python3 "$(dirname "$0")/memscan.py" "$RS_PID" "$OLD")
        [[ $(head -1 <<<"$scan") == 0 ]] && break
        sleep 0.2
    done
    check "wipe: no copy of the old password is left in the process ($(tr '\n' ';' <<<"$scan"))" \
        test "$(head -1 <<<"$scan")" = 0
    stop_bg wipe
fi

finish
