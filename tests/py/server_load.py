"""server_load.py — the server under load: 8 clients x 200 predictions in
parallel (then the database holds exactly the rows answered 200 and
passes integrity_check); kill -9 during load and restart (every answered
prediction survives); SIGTERM during load (exit 0, nothing answered lost).

Usage: server_load.py SCANLITE FIXTURES_DIR OUT_DIR"""
import os
import signal
import sqlite3
import sys
import threading
import time

from server_common import Checks, Server, cli, jreq, request

SCANLITE, FX, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
DB = os.path.join(OUT, "load.db")
DATA = os.path.join(OUT, "data")
T = Checks("server_load")
CLIENTS, PER_CLIENT = 8, 200
os.makedirs(OUT, exist_ok=True)
IMAGES = []
for n in sorted(os.listdir(os.path.join(FX, "img"))):
    if n.startswith("s") and n.endswith(".png"):
        with open(os.path.join(FX, "img", n), "rb") as f:
            IMAGES.append(f.read())
rc, KEY, err = cli(SCANLITE, ["key", "create", "--role", "clinician", "--db", DB, "--data-dir", DATA])
KEY = KEY.strip()
T.eq(rc, 0, "key create: " + err)


def start(tag):
    s = Server(SCANLITE, ["-m", "tiny=" + os.path.join(FX, "tiny.slm"), "--db", DB, "--data-dir", DATA,
                          "--workers", "2", "--queue", "64"], os.path.join(OUT, "server-%s.log" % tag))
    T.check(s.wait_ready(), "%s: ready" % tag)
    return s


def load(port, tag, stop_event=None):
    """CLIENTS threads x PER_CLIENT predictions; returns (ids answered 200, other statuses)."""
    answered, others, lock = [], {}, threading.Lock()

    def client(c):
        for i in range(PER_CLIENT):
            if stop_event is not None and stop_event.is_set():
                return
            try:
                st, j = jreq(port, "POST", "/v1/models/tiny/predict?subject=%s-%d-%d" % (tag, c, i),
                             IMAGES[(c + i) % len(IMAGES)], {"X-API-Key": KEY, "Content-Type": "image/png"})
            except OSError as e:
                st, j = type(e).__name__, None
                if stop_event is not None:
                    return  # the server is going away
            with lock:
                if st == 200:
                    answered.append(j["id"])
                else:
                    others[st] = others.get(st, 0) + 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads, answered, others


def db_ids():
    con = sqlite3.connect(DB, timeout=30)
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    ids = {r[0] for r in con.execute("SELECT id FROM predictions")}
    con.close()
    return ok, ids


# 1. full load
srv = start("load")
t0 = time.time()
threads, answered, others = load(srv.port, "full")
for t in threads:
    t.join(300)
elapsed = time.time() - t0
print("load: %d answered 200 in %.1f s (%.0f req/s), others %r" % (len(answered), elapsed,
      len(answered) / max(elapsed, 1e-9), others), flush=True)
T.eq(len(answered) + sum(others.values()), CLIENTS * PER_CLIENT, "every request answered")
T.check(set(others) <= {503}, "only 503 (busy) besides 200: %r" % others)
T.check(len(answered) >= CLIENTS * PER_CLIENT * 0.9, "at least 90%% answered 200 (%d)" % len(answered))
T.eq(len(set(answered)), len(answered), "ids unique")
st, j = jreq(srv.port, "GET", "/v1/predictions?limit=1", headers={"X-API-Key": KEY})
T.eq(j["total"], len(answered), "total == answered 200s (live)")
st, _, metrics = request(srv.port, "GET", "/metrics")
T.check(b'scanlite_http_requests_total{route="predict",status="200"} %d' % len(answered) in metrics,
        "metrics count the predictions")
T.eq(srv.stop(), 0, "SIGTERM after load -> exit 0")
ok, ids = db_ids()
T.eq(ok, "ok", "integrity_check after load")
T.eq(ids, set(answered), "DB rows == answered 200s")
baseline = set(ids)

# 2. kill -9 during load
srv = start("kill")
stop = threading.Event()
threads, answered, _ = load(srv.port, "kill", stop)
time.sleep(1.5)
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait(30)
stop.set()
for t in threads:
    t.join(60)
srv.stop()
print("kill -9: %d answered before the kill" % len(answered), flush=True)
T.check(len(answered) > 0, "some predictions answered before kill -9")
srv = start("restart")
st, j = jreq(srv.port, "GET", "/v1/predictions?limit=1", headers={"X-API-Key": KEY})
T.eq(st, 200, "restart after kill -9 serves")
missing = [i for i in answered if request(srv.port, "GET", "/v1/predictions/%d" % i,
                                          headers={"X-API-Key": KEY})[0] != 200]
T.eq(missing, [], "every prediction answered before kill -9 is there")
T.eq(srv.stop(), 0, "stop after restart")
ok, ids = db_ids()
T.eq(ok, "ok", "integrity_check after kill -9")
T.check(baseline | set(answered) <= ids, "kill -9 lost nothing answered")
baseline = set(ids)

# 3. SIGTERM during load
srv = start("term")
stop = threading.Event()
threads, answered, _ = load(srv.port, "term", stop)
time.sleep(1.5)
t0 = time.time()
rc = srv.stop(signal.SIGTERM)
stop.set()
for t in threads:
    t.join(60)
print("SIGTERM: exit %r after %.2f s, %d answered" % (rc, time.time() - t0, len(answered)), flush=True)
T.eq(rc, 0, "SIGTERM during load -> exit 0")
ok, ids = db_ids()
T.eq(ok, "ok", "integrity_check after SIGTERM")
T.check(set(answered) <= ids, "no answered prediction lost on SIGTERM (%d missing)" % len(set(answered) - ids))
T.check(len(answered) > 0, "some predictions answered before SIGTERM")
T.done()
