#!/usr/bin/env python3
"""fake-aws.py container PORTFILE AUTHZFILE: a fake container credentials
endpoint (ECS / EKS Pod Identity) on 127.0.0.1 (port written to PORTFILE).
GET /creds must carry "Authorization: <AUTHZFILE's content>" (else 403,
logged "authz bad").  The first good request is answered 401 (logged
"401"); each later one with new credentials AKIDC<n> / secret<n> /
token<n> expiring in 303 s (logged "200 AKIDC<n>"), also written to
PORTFILE.issued as "AK SK TOKEN" lines."""
import datetime
import http.server
import os
import sys

kind, portfile, authzfile = sys.argv[1:4]
state = {"n": 0, "seen": 0}


def note(line):
    with open(portfile + ".log", "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
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
        state["n"] += 1
        n = state["n"]
        ak, sk, tok = f"AKIDC{n}", f"secret{n}NeverLogged", f"token{n}NeverLogged"
        with open(portfile + ".issued", "a") as f:
            f.write(f"{ak} {sk} {tok}\n")
        exp = (datetime.datetime.now(datetime.timezone.utc)
               + datetime.timedelta(seconds=303)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = ('{"RoleArn": "arn:aws:iam::123456789012:role/x", '
                f'"AccessKeyId": "{ak}", "SecretAccessKey": "{sk}", '
                f'"Token": "{tok}", "Expiration": "{exp}", '
                '"Extra": {"nested": [1, 2, "x"]}}').encode()
        note(f"200 {ak}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
