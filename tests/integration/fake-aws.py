#!/usr/bin/env python3
"""fake-aws.py container|imds PORTFILE AUTHZFILE: a fake container credentials
endpoint (ECS / EKS Pod Identity) on 127.0.0.1 (port written to PORTFILE).
GET /creds must carry "Authorization: <AUTHZFILE's content>" (else 403,
logged "authz bad").  The first good request is answered 401 (logged
"401"); each later one with new credentials AKIDC<n> / secret<n> /
token<n> expiring in 303 s (logged "200 AKIDC<n>"), also written to
PORTFILE.issued as "AK SK TOKEN" lines.

imds: a fake EC2 instance metadata service (IMDSv2).  PUT /latest/api/token
needs X-aws-ec2-metadata-token-ttl-seconds and hands out a session token
(logged "PUT token"); GETs need the newest token (else 401, logged "401
stale").  The role list answers "test-role"; the first GET of its
credentials answers 401 and retires the token (logged "401 creds"), the
next ones new credentials as above."""
import datetime
import http.server
import os
import sys

kind, portfile, authzfile = sys.argv[1:4]
state = {"n": 0, "seen": 0, "tok": None, "k": 0, "creds_gets": 0}


def note(line):
    with open(portfile + ".log", "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if kind != "imds" or self.path != "/latest/api/token" or not ttl.isdigit():
            note("bad put")
            return self.reply(400)
        state["k"] += 1
        state["tok"] = f"imdstoken{state['k']}NeverLogged"
        note("PUT token")
        self.reply(200, state["tok"].encode())

    def creds_body(self):
        state["n"] += 1
        n = state["n"]
        ak, sk, tok = f"AKIDC{n}", f"secret{n}NeverLogged", f"token{n}NeverLogged"
        with open(portfile + ".issued", "a") as f:
            f.write(f"{ak} {sk} {tok}\n")
        exp = (datetime.datetime.now(datetime.timezone.utc)
               + datetime.timedelta(seconds=303)).strftime("%Y-%m-%dT%H:%M:%SZ")
        note(f"200 {ak}")
        return ('{"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", '
                f'"Type": "AWS-HMAC", "AccessKeyId": "{ak}", '
                f'"SecretAccessKey": "{sk}", "Token": "{tok}", '
                f'"Expiration": "{exp}"}}').encode()

    def imds_get(self):
        if self.headers.get("X-aws-ec2-metadata-token") != state["tok"] or not state["tok"]:
            note("401 stale")
            return self.reply(401)
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self.reply(200, b"test-role\n")
        if self.path != base + "test-role":
            return self.reply(404)
        state["creds_gets"] += 1
        if state["creds_gets"] == 1:
            state["tok"] = None
            note("401 creds")
            return self.reply(401)
        self.reply(200, self.creds_body(), "application/json")

    def do_GET(self):
        if kind == "imds":
            return self.imds_get()
        want = open(authzfile).read().strip()
        if self.path != "/creds" or self.headers.get("Authorization") != want:
            note("authz bad")
            self.send_response(403)
            self.end_headers()
            return
        state["seen"] += 1
        if state["seen"] == 1:
            note("401")
            self.send_response(401)
            self.end_headers()
            return
        self.reply(200, self.creds_body(), "application/json")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
