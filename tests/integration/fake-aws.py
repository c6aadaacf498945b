#!/usr/bin/env python3
"""fake-aws.py container|imds|sts PORTFILE AUTHZFILE [CERT KEY]: a fake container credentials
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
next ones new credentials as above.

sts CERT KEY: a fake AWS STS over HTTPS (CERT/KEY), AUTHZFILE being the web
identity token file.  POST / must be a form (Content-Type
application/x-www-form-urlencoded) with Action=AssumeRoleWithWebIdentity,
Version=2011-06-15, RoleArn arn:aws:iam::123456789012:role/redsleeve-*,
a RoleSessionName, DurationSeconds=3600 and WebIdentityToken equal to the
token file's content at that moment (else 400, logged "sts bad WHAT").
The first good request is answered 400 InvalidIdentityToken (logged
"400"), each later one with credentials AKIDW<n> as above (logged
"200 AKIDW<n> role=ROLE session=NAME token=<the token's first 14 bytes>")."""
import datetime
import http.server
import os
import ssl
import sys
import urllib.parse

kind, portfile, authzfile = sys.argv[1:4]
state = {"n": 0, "seen": 0, "tok": None, "k": 0, "creds_gets": 0}
PREFIX = {"sts": "AKIDW"}.get(kind, "AKIDC")


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
        ak, sk, tok = f"{PREFIX}{n}", f"secret{n}NeverLogged", f"token{n}NeverLogged"
        with open(portfile + ".issued", "a") as f:
            f.write(f"{ak} {sk} {tok}\n")
        exp = (datetime.datetime.now(datetime.timezone.utc)
               + datetime.timedelta(seconds=303)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if kind == "sts":
            return ak, sk, tok, exp
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

    def do_POST(self):
        if kind != "sts":
            note("bad post")
            return self.reply(400)
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(),
                                     keep_blank_values=True,
                                     strict_parsing=True)
        got = {k: v[0] for k, v in form.items() if len(v) == 1}
        want_token = open(authzfile).read().strip()
        checks = [
            ("path", self.path == "/"),
            ("content-type", self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded")),
            ("fields", len(got) == len(form) == 6),
            ("action", got.get("Action") == "AssumeRoleWithWebIdentity"),
            ("version", got.get("Version") == "2011-06-15"),
            ("role", got.get("RoleArn", "").startswith(
                "arn:aws:iam::123456789012:role/redsleeve-")),
            ("session", len(got.get("RoleSessionName", "")) >= 2),
            ("duration", got.get("DurationSeconds") == "3600"),
            ("token", got.get("WebIdentityToken") == want_token),
        ]
        for what, good in checks:
            if not good:
                note(f"sts bad {what}")
                return self.reply(400, b"<ErrorResponse><Error><Code>"
                                  b"ValidationError</Code></Error>"
                                  b"</ErrorResponse>", "text/xml")
        state["seen"] += 1
        if state["seen"] == 1:
            note("400")
            return self.reply(400, (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/'
                '2011-06-15/"><Error><Type>Sender</Type>'
                '<Code>InvalidIdentityToken</Code><Message>Couldn&apos;t '
                'verify MessageNeverLogged</Message></Error>'
                '<RequestId>r1</RequestId></ErrorResponse>').encode(),
                "text/xml")
        ak, sk, tok, exp = self.creds_body()
        note(f"200 {ak} role={got['RoleArn']} "
             f"session={got['RoleSessionName']} token={want_token[:14]}")
        body = ('<AssumeRoleWithWebIdentityResponse xmlns="https://sts.'
                'amazonaws.com/doc/2011-06-15/">\n'
                '  <AssumeRoleWithWebIdentityResult>\n'
                '    <SubjectFromWebIdentityToken>system:serviceaccount:'
                'default:app</SubjectFromWebIdentityToken>\n'
                '    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:'
                'assumed-role/x/y</Arn><AssumedRoleId>AROA:y'
                '</AssumedRoleId></AssumedRoleUser>\n'
                f'    <Credentials><AccessKeyId>{ak}</AccessKeyId>'
                f'<SecretAccessKey>{sk}</SecretAccessKey>'
                f'<SessionToken>{tok}</SessionToken>'
                f'<Expiration>{exp}</Expiration></Credentials>\n'
                '    <Provider>oidc.eks.eu-west-1.amazonaws.com</Provider>\n'
                '  </AssumeRoleWithWebIdentityResult>\n'
                '  <ResponseMetadata><RequestId>r2</RequestId>'
                '</ResponseMetadata>\n'
                '</AssumeRoleWithWebIdentityResponse>\n')
        self.reply(200, body.encode(), "text/xml")

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
if kind == "sts":
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[4], sys.argv[5])
    # The handshake in the handler's thread: a client that rejects our
    # certificate fails its own request only.
    srv.socket = tls.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
