"""server_cli.py — the process around the HTTP API: refusing bad models,
configuration from the environment (SCANLITE_*, PORT, API_KEY) and files
(--api-key-file), JSON logs, the first-start admin, user/key commands,
and the bounded inference queue (503 + Retry-After when full).

Usage: server_cli.py SCANLITE FIXTURES_DIR OUT_DIR"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

from server_common import Checks, Server, cli, jreq, multipart, request

SCANLITE, FX, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
T = Checks("server_cli")
os.makedirs(OUT, exist_ok=True)
MODEL = os.path.join(FX, "tiny.slm")
PNG = open(os.path.join(FX, "img", "s05.png"), "rb").read()
BIG = open(os.path.join(FX, "img", "big.png"), "rb").read()


def clean_env(extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SCANLITE_") and k not in ("PORT", "API_KEY")}
    e.update(extra)
    return e


def serve_fails(args, env=None):
    """Runs serve expecting it to refuse to start; returns (rc, stderr)."""
    p = subprocess.run([SCANLITE, "serve", "--port", "0"] + args, capture_output=True, timeout=60,
                       env=clean_env(env or {}))
    return p.returncode, p.stderr.decode(errors="replace")


# --- refusing to start ------------------------------------------------------------
mdir = os.path.join(OUT, "models")
os.makedirs(mdir, exist_ok=True)
shutil.copy(MODEL, os.path.join(mdir, "good.slm"))
with open(os.path.join(mdir, "broken.slm"), "wb") as f:
    f.write(open(MODEL, "rb").read()[:300])
rc, err = serve_fails(["--models", mdir, "--db", os.path.join(OUT, "x.db")])
T.check(rc != 0 and "broken" in err, "a bad model in --models stops the start: rc=%d %r" % (rc, err[-200:]))
damaged = bytearray(open(MODEL, "rb").read())
damaged[-1] ^= 0x40     # last byte of the weights: only their checksum can tell
with open(os.path.join(OUT, "damaged.slm"), "wb") as f:
    f.write(damaged)
rc, err = serve_fails(["-m", "d=" + os.path.join(OUT, "damaged.slm"), "--db", os.path.join(OUT, "x.db")])
T.check(rc != 0 and "the weights are corrupt" in err,
        "a model with damaged weights stops the start: rc=%d %r" % (rc, err[-200:]))
fakelib = os.path.join(OUT, "fakelib")     # the HTTP library is dlopen()ed at start-up
os.makedirs(fakelib, exist_ok=True)
with open(os.path.join(fakelib, "libmicrohttpd.so.12"), "wb") as f:
    f.write(b"not a shared object")
rc, err = serve_fails(["-m", "t=" + MODEL, "--db", os.path.join(OUT, "x.db")], {"LD_LIBRARY_PATH": fakelib})
T.check(rc != 0 and "cannot load the HTTP library" in err and "libmicrohttpd.so.12" in err,
        "an unloadable libmicrohttpd stops the start: rc=%d %r" % (rc, err[-200:]))
rc, err = serve_fails(["-m", "x=" + os.path.join(OUT, "missing.slm"), "--db", os.path.join(OUT, "x.db")])
T.check(rc != 0 and "missing.slm" in err, "a missing -m file stops the start")
rc, err = serve_fails(["--db", os.path.join(OUT, "x.db")])
T.check(rc != 0 and "no model" in err, "no model at all stops the start")
rc, err = serve_fails(["-m", "bad name=" + MODEL, "--db", os.path.join(OUT, "x.db")])
T.check(rc != 0 and "model name" in err, "bad model name refused")
rc, err = serve_fails(["-m", "t=" + MODEL, "--max-body", "lots"])
T.check(rc == 2, "bad --max-body refused")
rc, err = serve_fails(["-m", "t=" + MODEL, "--bogus"])
T.check(rc == 2 and "unknown option" in err, "unknown option refused")
rc, err = serve_fails(["-m", "t=" + MODEL, "--db", os.path.join(OUT, "x.db"), "--api-key-file",
                       os.path.join(OUT, "nokey")])
T.check(rc != 0 and "api-key-file" in err, "unreadable --api-key-file refused")
for cmd in ("serve", "key", "user"):
    p = subprocess.run([SCANLITE, cmd, "--help"], capture_output=True, timeout=30)
    T.check(p.returncode == 0 and p.stdout.startswith(b"usage: scanlite " + cmd.encode()) and not p.stderr,
            "%s --help: usage on stdout, exit 0" % cmd)
p = subprocess.run([SCANLITE, "serve", "--help"], capture_output=True, timeout=30)
T.check(b"SCANLITE_" in p.stdout, "serve --help names the environment variables")
p = subprocess.run([SCANLITE, "key"], capture_output=True, timeout=30)
T.check(p.returncode == 2 and b"usage" in p.stderr and not p.stdout, "key without a subcommand: usage on stderr, 2")
os.remove(os.path.join(mdir, "broken.slm"))

# --- first start: admin bootstrap, environment, JSON log ----------------------------
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
db = os.path.join(OUT, "env.db")
env_key = "shared-secret-key-42"
log = open(os.path.join(OUT, "env.log"), "wb")
proc = subprocess.Popen([SCANLITE, "serve"], stdout=subprocess.PIPE, stderr=log,
                        env=clean_env({"SCANLITE_MODELS": mdir, "SCANLITE_DB": db, "PORT": str(port),
                                       "API_KEY": env_key, "SCANLITE_LOG_JSON": "1",
                                       "SCANLITE_WORKERS": "1"}))
first_line = proc.stdout.readline().decode()
ready = False
for _ in range(600):
    try:
        ready = request(port, "GET", "/ready")[0] == 200
    except OSError:
        pass
    if ready:
        break
    time.sleep(0.05)
T.check(ready, "PORT from the environment is used")
pwfile = os.path.join(OUT, "scanlite-data", "admin-password")
T.check(os.path.exists(pwfile) and stat.S_IMODE(os.stat(pwfile).st_mode) == 0o600,
        "admin password file with mode 0600")
pw = open(pwfile).read().strip() if os.path.exists(pwfile) else ""
T.check(len(pw) >= 16 and pw in first_line, "admin password printed once on stdout")
st, j = jreq(port, "POST", "/v1/auth/login", json.dumps({"username": "admin", "password": pw}))
T.check(st == 200 and j["user"]["role"] == "admin", "the bootstrap admin can log in")
st, j = jreq(port, "GET", "/v1/models", headers={"X-API-Key": env_key})
T.check(st == 200 and [m["name"] for m in j["models"]] == ["good"], "SCANLITE_MODELS + API_KEY")
st, j = jreq(port, "POST", "/predict", PNG, {"X-API-Key": env_key, "Content-Type": "image/png"})
T.check(st == 200 and j["user"] == "key:API_KEY", "API_KEY may predict")
T.eq(request(port, "DELETE", "/v1/predictions/%d" % j["id"], headers={"X-API-Key": env_key})[0], 403,
     "API_KEY may not delete (clinician)")
proc.terminate()
T.eq(proc.wait(60), 0, "SIGTERM -> 0")
rest = proc.stdout.read().decode()
log.close()
lines = open(os.path.join(OUT, "env.log")).read().splitlines()
reqs = []
for ln in lines:
    if ln.startswith("{"):
        try:
            reqs.append(json.loads(ln))
        except ValueError:
            T.check(False, "log line is JSON: %r" % ln)
T.check(any(r.get("path") == "/predict" and r.get("status") == 200 and r.get("user") == "key:API_KEY"
            and isinstance(r.get("ms"), (int, float)) for r in reqs), "JSON request log lines")
T.check(pw not in rest, "the password is printed only once")
srv = Server(SCANLITE, ["--models", mdir, "--db", db], os.path.join(OUT, "env2.log"))
T.check(srv.wait_ready(), "restart")
T.eq(srv.stop(signal.SIGINT), 0, "SIGINT stops cleanly")
T.check("created user" not in open(os.path.join(OUT, "env2.log")).read(), "no second admin on restart")

# --- --api-key-file, users and keys -------------------------------------------------------
kf = os.path.join(OUT, "key.txt")
with open(kf, "w") as f:
    f.write("file-key-0123456789abcdef\n")
srv = Server(SCANLITE, ["--models", mdir, "--db", db, "--api-key-file", kf], os.path.join(OUT, "key.log"))
P = srv.port
T.eq(request(P, "GET", "/v1/stats", headers={"X-API-Key": "file-key-0123456789abcdef"})[0], 200, "--api-key-file key")
T.eq(request(P, "GET", "/v1/stats", headers={"X-API-Key": env_key})[0], 401, "API_KEY of another run is gone")
rc, _, _ = cli(SCANLITE, ["user", "add", "nina", "--role", "viewer", "--db", db], stdin=b"first-password\n")
T.eq(rc, 0, "user add")
st, j = jreq(P, "POST", "/v1/auth/login", json.dumps({"username": "nina", "password": "first-password"}))
T.eq(st, 200, "login nina")
tok = j["token"]
rc, _, _ = cli(SCANLITE, ["user", "passwd", "nina", "--db", db], stdin=b"second-password\n")
T.eq(rc, 0, "user passwd")
T.eq(request(P, "GET", "/v1/stats", headers={"Authorization": "Bearer " + tok})[0], 401,
     "a new password ends old sessions")
T.eq(jreq(P, "POST", "/v1/auth/login", json.dumps({"username": "nina", "password": "first-password"}))[0], 401,
     "old password refused")
st, j = jreq(P, "POST", "/v1/auth/login", json.dumps({"username": "nina", "password": "second-password"}))
T.eq(st, 200, "new password accepted")
tok = j["token"]
T.eq(request(P, "DELETE", "/v1/predictions/1", headers={"Authorization": "Bearer " + tok})[0], 403, "viewer may not delete")
rc, _, _ = cli(SCANLITE, ["user", "role", "nina", "admin", "--db", db])
T.eq(rc, 0, "user role")
T.eq(request(P, "DELETE", "/v1/predictions/1", headers={"Authorization": "Bearer " + tok})[0], 204,
     "the new role applies to the live session")
rc, _, _ = cli(SCANLITE, ["user", "del", "nina", "--db", db])
T.eq(rc, 0, "user del")
T.eq(request(P, "GET", "/v1/stats", headers={"Authorization": "Bearer " + tok})[0], 401, "deleted user's session ends")
rc, _, _ = cli(SCANLITE, ["user", "del", "nina", "--db", db])
T.check(rc != 0, "deleting a missing user fails")
rc, out, _ = cli(SCANLITE, ["key", "create", "--role", "root", "--db", db])
T.check(rc == 2 and out == "", "key create with a bad role")
rc, _, _ = cli(SCANLITE, ["key", "revoke", "nope", "--db", db])
T.check(rc != 0, "revoking an unknown key fails")
k1 = cli(SCANLITE, ["key", "create", "--role", "viewer", "--db", db])[1].strip()
rc, _, _ = cli(SCANLITE, ["key", "revoke", k1, "--db", db])
T.eq(rc, 0, "revoke with the whole key")
T.eq(request(P, "GET", "/v1/stats", headers={"X-API-Key": k1})[0], 401, "revoked")
T.eq(srv.stop(), 0, "stop")

# --- bounded queue: 503 + Retry-After, nothing stored for refused requests -----------------
qdb = os.path.join(OUT, "queue.db")
ck = cli(SCANLITE, ["key", "create", "--role", "clinician", "--db", qdb])[1].strip()
srv = Server(SCANLITE, ["-m", "t=" + MODEL, "--db", qdb, "--workers", "1", "--queue", "1", "--max-body", "64MB"],
             os.path.join(OUT, "queue.log"))
T.check(srv.wait_ready(), "queue server ready")
body, ct = multipart([], [("file", "b%d.png" % i, "image/png", BIG) for i in range(24)])
results = []
lock = threading.Lock()


def post():
    r = request(srv.port, "POST", "/v1/models/t/predict", body, {"X-API-Key": ck, "Content-Type": ct}, timeout=120)
    with lock:
        results.append(r)


threads = [threading.Thread(target=post) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join(180)
codes = sorted(r[0] for r in results)
busy = [r for r in results if r[0] == 503]
print("queue test statuses:", codes, flush=True)
T.check(len(results) == 6 and set(codes) <= {200, 503}, "queue: only 200 and 503: %r" % codes)
T.check(len(busy) >= 1 and all(r[1].get("retry-after") and json.loads(r[2])["error"]["code"] == "busy" for r in busy),
        "a full queue answers 503 busy with Retry-After")
ok200 = len([r for r in results if r[0] == 200])
T.check(ok200 >= 1, "some requests were served")
st, j = jreq(srv.port, "GET", "/v1/predictions?limit=1", headers={"X-API-Key": ck})
T.eq(j["total"], 24 * ok200, "rows == files of the answered requests")
T.eq(srv.stop(), 0, "stop")
T.done()
