#!/usr/bin/env bash
# gen-certs.sh DIR: a throwaway test PKI, made fresh for each run.
#
#   ca.crt/.key               the CA the tests trust
#   server.crt/.key           redis.test, localhost, 127.0.0.1, ::1
#   wronghost.crt/.key        CA-signed, only DNS:wrong.test
#   cluster.crt/.key          CA-signed, only DNS:*.redis.test (nodes of
#                             a cluster, each named nodeN.redis.test)
#   cnonly.crt/.key           CA-signed, CN=redis.test and no subjectAltName
#   expired.crt/.key          CA-signed redis.test, validity in the past
#   notyet.crt/.key           CA-signed redis.test, validity in the future
#   selfsigned.crt/.key       self-signed redis.test
#   untrusted-ca.crt/.key     a CA nobody trusts
#   untrusted.crt/.key        redis.test signed by the untrusted CA
#   client.crt/.key           CA-signed client certificate (clientAuth)
#
# EC P-256 keys keep it fast.  `openssl ca` is used where validity dates
# must be set explicitly (OpenSSL 3.0's x509 -req cannot).
set -euo pipefail

dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>/dev/null; }

make_ca() {  # make_ca NAME CN
    newkey "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 30 \
        -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# sign NAME CA SAN EKU [START END]: a leaf for NAME signed by CA; its CN
# is the first SAN (or $CN; an empty SAN leaves the extension out).
sign() {
    local name=$1 ca=$2 san=$3 eku=$4 start=${5:-} end=${6:-}
    local db="$dir/.ca-$name" cn=${CN:-${3#DNS:}}

    newkey "$name.key"
    openssl req -new -key "$name.key" -out "$name.csr" \
        -subj "/CN=${cn%%;*}" 2>/dev/null
    rm -rf "$db"
    mkdir -p "$db"
    : >"$db/index.txt"
    echo 1000 >"$db/serial"
    cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $eku
${san:+subjectAltName = ${san//;/,}}
EOF
    local dates=(-days 30)
    [[ -n $start ]] && dates=(-startdate "$start" -enddate "$end")
    openssl ca -batch -config "$db/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" \
        -in "$name.csr" -out "$name.crt" -extensions ext -notext \
        "${dates[@]}" 2>/dev/null
    rm -rf "$db" "$name.csr"
}

make_ca ca "redsleeve test CA"
make_ca untrusted-ca "untrusted test CA"
SAN="DNS:redis.test;DNS:localhost;IP:127.0.0.1;IP:::1"
sign server ca "$SAN" serverAuth
sign wronghost ca "DNS:wrong.test" serverAuth
sign cluster ca "DNS:*.redis.test" serverAuth
CN=redis.test sign cnonly ca "" serverAuth
sign expired ca "DNS:redis.test" serverAuth 20200101000000Z 20200201000000Z
sign notyet ca "DNS:redis.test" serverAuth 20990101000000Z 20990201000000Z
sign untrusted untrusted-ca "DNS:redis.test" serverAuth
sign client ca "DNS:client.test" clientAuth
newkey selfsigned.key
openssl req -x509 -new -key selfsigned.key -out selfsigned.crt -days 30 \
    -subj "/CN=redis.test" -addext "subjectAltName=DNS:redis.test" 2>/dev/null
chmod 600 ./*.key
