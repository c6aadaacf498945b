#!/usr/bin/env bash
# 30-tls: the verification matrix.  Every bad upstream is refused, the
# client gets one RESP error naming what happened (certificate rejected,
# TLS handshake failed, ...) and why, and the server never sees a command
# (no AUTH reached it).  The hardening of issue #13: an anonymous-cipher
# server (no certificate at all) never receives AUTH whatever `ciphers`
# says; a certificate with the name only in its CN is refused; a
# plaintext port is named as such; verify = chain needs ca_file/ca_path.
# verify = chain / none relax exactly what they say; client certificates
# work.
. "$(dirname "$0")/lib.sh"

printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"

# auth_calls PROBE PORT: AUTH calls a redis has seen, asked with PROBE
# (rcli_tls or rcli_plain), whose own AUTH counts one.
auth_calls() {
    "$1" "$2" INFO commandstats | tr -d '\r' |
        sed -n 's/^cmdstat_auth:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0
}

bad_server() {  # bad_server NAME CERT KEY [extra redis.conf lines]
    local name=$1 cert=$2 key=$3
    shift 3
    start_redis_tls "$name" "tls-cert-file $PKI/$cert" \
        "tls-key-file $PKI/$key" "$@"
}

bad_server wronghost wronghost.crt wronghost.key
bad_server untrusted untrusted.crt untrusted.key
bad_server expired expired.crt expired.key
bad_server notyet notyet.crt notyet.key
bad_server selfsigned selfsigned.crt selfsigned.key
bad_server cnonly cnonly.crt cnonly.key
start_redis_tls mtls "tls-auth-clients yes"

# A server that speaks TLS 1.1 at most (its OpenSSL allowed to, for the test).
cat >"$W/legacy-openssl.cnf" <<'EOF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = DEFAULT@SECLEVEL=0
EOF
OPENSSL_CONF=$W/legacy-openssl.cnf start_redis_tls legacy \
    "tls-protocols \"TLSv1 TLSv1.1\""
start_redis_plain plain

CLOSER_PORT=$("$TOOLS/freeport")
start_bg closer "$TOOLS/fakeserver" close-after-hello "$CLOSER_PORT"
SILENT_PORT=$("$TOOLS/freeport")
start_bg silent "$TOOLS/fakeserver" silent "$SILENT_PORT"
wait_until 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOSER_PORT" 2>/dev/null
wait_until 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SILENT_PORT" 2>/dev/null

# An anonymous-DH TLS 1.2 server: no certificate, so nothing to verify.
# s_server prints what it receives; its stdin is a FIFO held open here
# (at EOF on stdin it would quit).
ANON_PORT=$("$TOOLS/freeport")
mkfifo "$W/anon.in"
exec 7<>"$W/anon.in"
# (a background job's stdin is /dev/null unless it redirects it itself)
start_bg anon bash -c 'exec openssl s_server -nocert \
    -cipher "aNULL:@SECLEVEL=0" -tls1_2 -accept "127.0.0.1:$1" <"$2"' \
    - "$ANON_PORT" "$W/anon.in"
wait_until 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ANON_PORT" 2>/dev/null

svc() {  # svc NAME PORT [extra keys...]: one service section
    local name=$1 port=$2
    shift 2
    printf '[%s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' \
        "$name" "$port"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    printf 'auth_password_file = %s\nhandshake_timeout = 1s\n' "$W/pw"
    printf '%s\n' "$@"
}
{
    printf '[global]\nlog_level = info\n'
    for n in wronghost untrusted expired notyet selfsigned cnonly legacy; do
        var=REDIS_PORT_$n
        svc "$n" "${!var}"
    done
    svc plain "$REDIS_PORT_plain"
    svc closer "$CLOSER_PORT"
    svc silent "$SILENT_PORT"
    svc anon "$ANON_PORT" 'ciphers = ALL:@SECLEVEL=0'
    svc mtls_nocert "$REDIS_PORT_mtls"
    svc mtls "$REDIS_PORT_mtls" "cert_file = $PKI/client.crt" \
        "key_file = $PKI/client.key"
    svc chain_only "$REDIS_PORT_wronghost" | sed '/^verify_host/d'
    printf 'verify = chain\n'
    svc none_self "$REDIS_PORT_selfsigned" | sed '/^verify_host/d'
    printf 'verify = none\ninsecure = yes\n'
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log

refused() {  # refused SERVICE REASON_REGEX [REDIS_NAME [PROBE]]
    local name=$1 want=$2 rname=${3:-} probe=${4:-rcli_tls} before after
    local out port rport
    port=RS_PORT_$name
    rport=REDIS_PORT_$rname
    [[ -n $rname ]] && before=$(auth_calls "$probe" "${!rport}")
    out=$(rcli "${!port}" PING 2>&1 || true)
    if grep -Eq "^ERR redsleeve: upstream $name \(127.0.0.1:[0-9]+\) $want" <<<"$out"; then
        ok "$name: refused with \"$want\""
    else
        fail "$name: refused with \"$want\"" "client saw: $out"
    fi
    if [[ $(wc -l <<<"$out") -eq 1 ]]; then
        ok "$name: exactly one error line"
    else
        fail "$name: exactly one error line" "$out"
    fi
    if [[ -n $rname ]]; then
        after=$(auth_calls "$probe" "${!rport}")
        if ((after == before + 1)); then
            ok "$name: the server saw no command from the proxy"
        else
            fail "$name: the server saw no command from the proxy" \
                "AUTH calls went $before -> $after (probe adds 1)"
        fi
    fi
    check "$name: the log names the reason" \
        grep -Eq "event=upstream-error service=$name .*reason=\".*$want" "$LOG"
}

refused wronghost "certificate rejected: hostname mismatch \(wanted redis.test, certificate has DNS:wrong.test\)" wronghost
refused untrusted "certificate rejected: unable to get local issuer certificate .*: not signed by a CA in ca_file $PKI/ca.crt" untrusted
refused expired "certificate rejected: certificate has expired" expired
refused notyet "certificate rejected: certificate is not yet valid" notyet
refused selfsigned "certificate rejected: self.signed certificate" selfsigned
# The name only in the subject's CN (no subjectAltName): no CN fallback.
refused cnonly "certificate rejected: hostname mismatch \(wanted redis.test, certificate has no subjectAltName\)" cnonly
OPENSSL_CONF=$W/legacy-openssl.cnf refused legacy "TLS handshake failed: (unsupported protocol|.*protocol version)" legacy
# A plaintext Redis on the upstream port: usually silent (it waits for the
# end of an "inline command"), sometimes "-ERR ..." when the hello held a
# newline.  Either way the error says there is no TLS at that port.
refused plain "TLS handshake failed: .*no TLS at th(is|at) port" plain rcli_plain
refused closer "TLS handshake failed: connection closed by the server"
refused silent "TLS handshake failed: no answer to the TLS hello from 127.0.0.1:$SILENT_PORT within handshake_timeout \(1s\)"
refused mtls_nocert "TLS handshake failed: .*(certificate required|asked for a client certificate)"

# ciphers = ALL:@SECLEVEL=0 allows anonymous ciphers in OpenSSL; redsleeve
# never offers them, and never sends AUTH to a server without a verified
# certificate.
refused anon "(TLS handshake failed|certificate rejected): "
check "anon: the password never reached the anonymous server" \
    bash -c "! grep -aq -- '$REDIS_PASSWORD' '$W/anon.log'"
check "anon: no AUTH reached it at all" \
    bash -c "! grep -aqi 'auth' '$W/anon.log'"

# verify = chain trusts whatever signs the server: with the system store,
# any public certificate.  Refused at --check-config unless ca_file /
# ca_path is set or insecure = yes says so (then warned about at start).
printf '[c]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\nverify = chain\n' \
    >"$W/chain.ini"
out=$("$REDSLEEVE" -c "$W/chain.ini" --check-config 2>&1 || true)
check "verify = chain without ca_file/ca_path is refused with file:line:key" \
    grep -q "^$W/chain.ini:4: verify: \"chain\" with the system trust store" <<<"$out"
printf 'insecure = yes\n' >>"$W/chain.ini"
out=$("$REDSLEEVE" -c "$W/chain.ini" --check-config 2>&1) && rc=0 || rc=$?
check "... accepted with insecure = yes" test "$rc" = 0
check "... and --check-config says as loudly as for verify = none" \
    grep -q 'verify chain, .*ca system store (ANY publicly trusted certificate, any name: insecure)' <<<"$out"
run_redsleeve chainsys 1 -c "$W/chain.ini"
check "... and the start-up log warns (event=insecure)" \
    grep -q 'event=insecure service=c warning="verify = chain with the system trust store' "$W/chainsys.log"
stop_bg chainsys

out=$(rcli "$RS_PORT_mtls" PING 2>&1 || true)
check "client certificate accepted by a server that requires one" \
    test "$out" = PONG
out=$(rcli "$RS_PORT_chain_only" PING 2>&1 || true)
check "verify = chain accepts a good chain with another host name" \
    test "$out" = PONG
out=$(rcli "$RS_PORT_none_self" PING 2>&1 || true)
check "verify = none + insecure = yes accepts a self-signed server" \
    test "$out" = PONG
check "verify = none is warned about at start" \
    grep -q "event=insecure service=none_self" "$LOG"

finish
