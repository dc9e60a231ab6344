#!/bin/sh
# `make run` from a fresh clone: a clone of this repository's HEAD builds
# and serves the demo model; /ready turns 200, the first-start admin
# password file exists (mode 0600), a login works and a predict of a
# simulated image answers 200 with the demo model's SHA-256. The server
# runs on a free loopback port under a time limit and is stopped with
# SIGTERM (exit 0).
. "$(dirname "$0")/lib.sh"
command -v git >/dev/null || skip "git is missing"
git clone -q "$PWD" "$OUT/clone" || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$OUT/clone" && SCANLITE_PORT=$port SCANLITE_DATA_DIR="$OUT/data" exec timeout 900 make run) \
    >"$OUT/run.log" 2>&1 &
pid=$!
python3 - "$port" "$OUT/data" "$OUT/clone" "$pid" <<'PYEOF'
import http.client, json, os, stat, sys, time
port, data, clone, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def req(method, path, body=None, headers={}):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read()
deadline = time.time() + 600     # building from scratch on 2 cores
status = None
while time.time() < deadline:
    try:
        status, _ = req("GET", "/ready")
        if status == 200:
            break
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("make run exited before /ready")
    time.sleep(1)
if status != 200:
    sys.exit("no /ready 200 within the time limit (last status %s)" % status)
pw_file = os.path.join(data, "admin-password")
mode = stat.S_IMODE(os.stat(pw_file).st_mode)
if mode != 0o600:
    sys.exit("admin-password has mode %o" % mode)
pw = open(pw_file).read().strip()
st, body = req("POST", "/v1/auth/login", json.dumps({"username": "admin", "password": pw}),
               {"Content-Type": "application/json"})
if st != 200:
    sys.exit("login: %d %s" % (st, body[:200]))
token = json.loads(body)["token"]
img = open(os.path.join(clone, "tests/data/demo_eval/sim_3003_00001.png"), "rb").read()
st, body = req("POST", "/predict", img, {"Authorization": "Bearer " + token, "Content-Type": "image/png"})
if st != 200:
    sys.exit("predict: %d %s" % (st, body[:200]))
ans = json.loads(body)
sha = ans.get("model_sha256", "")
readme = open(os.path.join(clone, "weights/README.md")).read()
if not sha or sha not in readme:
    sys.exit("model_sha256 %r is not the one in weights/README.md" % sha)
print("ready, logged in, predicted %s (%.3f) with demo model %s" % (ans["label"], ans["confidence"], sha[:12]))
PYEOF
rc=$?
# timeout(1) runs make in the foreground of its own process group: signal the server itself.
srv=$(pgrep -f "scanlite serve --models weights --host 127.0.0.1 --port $port" | head -n 1)
[ -n "$srv" ] && kill -TERM "$srv"
wait $pid
src=$?
tail -n 5 "$OUT/run.log"
[ $rc -eq 0 ] || { echo "FAIL: make run check"; exit 1; }
[ $src -eq 0 ] || { echo "FAIL: make run ended with exit $src after SIGTERM"; exit 1; }
echo "ok"
