"""server_api.py — drives every endpoint of a real `scanlite serve`:
status codes, JSON shapes, pagination, filters, CSV, image round trip,
batch order, feedback upsert, stats arithmetic against the rows inserted,
Grad-CAM heatmaps (explain=1, class=), users and keys over HTTP, the
authorization matrix (role x route), and the bad-input list.

Usage: server_api.py SCANLITE FIXTURES_DIR OUT_DIR
FIXTURES_DIR holds tiny.slm, mlp.slm and img/ (see server_fixtures.py)."""
import csv
import hashlib
import io
import json
import os
import sqlite3
import struct
import sys
import time
import urllib.parse

from PIL import Image

from server_common import Checks, Server, cli, jreq, multipart, request

SCANLITE, FX, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
DB = os.path.join(OUT, "api.db")
DATA = os.path.join(OUT, "data")
T = Checks("server_api")
ENV_KEY = "env-key-0123456789abcdef"
PW = "correct horse battery"


def img(name):
    with open(os.path.join(FX, "img", name), "rb") as f:
        return f.read()


def key(role, name):
    rc, out, err = cli(SCANLITE, ["key", "create", "--role", role, "--name", name, "--db", DB,
                                  "--data-dir", DATA])
    T.eq(rc, 0, "key create %s: %s" % (role, err))
    T.check(out.count("\n") == 1 and out.startswith("slk_") and len(out.strip()) == 68,
            "key create prints the key alone: %r" % out)
    return out.strip()


def user(name, role):
    rc, _, err = cli(SCANLITE, ["user", "add", name, "--role", role, "--db", DB, "--data-dir", DATA],
                     stdin=(PW + "\n").encode())
    T.eq(rc, 0, "user add %s: %s" % (name, err))


def login(port, name, pw=PW):
    st, j = jreq(port, "POST", "/v1/auth/login", json.dumps({"username": name, "password": pw}),
                 {"Content-Type": "application/json"})
    return st, j


def png_size(data):
    """(width, height) from a PNG's signature and IHDR, after a full decode; None if not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    im = Image.open(io.BytesIO(data))
    im.load()
    wh = struct.unpack(">II", data[16:24])
    return wh if im.size == wh else None


def img_size(name):
    return Image.open(os.path.join(FX, "img", name)).size


def hk(k):
    return {"X-API-Key": k}


def hb(t):
    return {"Authorization": "Bearer " + t}


def predict_raw(port, auth, data, ctype="image/png", path="/v1/models/tiny/predict", query=""):
    h = dict(auth)
    h["Content-Type"] = ctype
    return jreq(port, "POST", path + query, data, h)


# ---------------------------------------------------------------------------
os.makedirs(OUT, exist_ok=True)
model = os.path.join(FX, "tiny.slm")
model_sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
mlp = os.path.join(FX, "mlp.slm")

# keys and users exist before the first start too (the CLI creates the schema)
K = {"viewer": key("viewer", "v-key"), "clinician": key("clinician", "c-key"),
     "admin": key("admin", "a-key")}
rc, out, _ = cli(SCANLITE, ["key", "list", "--db", DB, "--data-dir", DATA])
T.check(rc == 0 and out.count("active") == 3, "key list shows 3 active keys")
T.check(K["viewer"] not in out, "key list never shows a key")
for name, role in (("vera", "viewer"), ("cleo", "clinician"), ("adam", "admin"), ("bob", "viewer")):
    user(name, role)
rc, out, _ = cli(SCANLITE, ["user", "add", "vera", "--role", "viewer", "--db", DB], stdin=b"x" * 10 + b"\n")
T.check(rc != 0, "user add of an existing user fails")
rc, out, _ = cli(SCANLITE, ["user", "add", "shorty", "--role", "viewer", "--db", DB], stdin=b"abc\n")
T.check(rc != 0, "user add refuses a short password")

srv = Server(SCANLITE, ["-m", "tiny=" + model, "-m", "alt=" + model, "-m", "mlp=" + mlp, "--db", DB,
                        "--data-dir", DATA, "--workers", "2"], os.path.join(OUT, "server.log"), env={"API_KEY": ENV_KEY})
P = srv.port
T.check(srv.wait_ready(), "/ready turns 200")
rc, out, _ = cli(SCANLITE, ["user", "list", "--db", DB, "--data-dir", DATA])
T.check(" vera " in out and " cleo " in out and "admin" in out, "user list")
T.check(not os.path.exists(os.path.join(DATA, "admin-password")),
        "no admin bootstrap when users exist")

# --- health, ready, metrics, openapi -----------------------------------------
st, j = jreq(P, "GET", "/health")
T.check(st == 200 and j == {"status": "ok"}, "/health")
st, h, body = request(P, "HEAD", "/health")
T.eq(st, 200, "HEAD /health")
st, _, body = request(P, "GET", "/metrics")
T.check(st == 200 and b"scanlite_ready 1" in body and b"scanlite_inference_queue_depth" in body,
        "/metrics")
st, j = jreq(P, "GET", "/openapi.json", headers=hk(K["viewer"]))
T.check(st == 200 and j and j.get("openapi", "").startswith("3.") and
        {"/v1/predictions/{id}/feedback", "/v1/predictions/{id}/heatmap", "/v1/users", "/v1/users/{name}",
         "/v1/keys", "/v1/keys/{id}"} <= set(j["paths"]), "/openapi.json is OpenAPI 3 JSON")

# --- models ------------------------------------------------------------------
st, j = jreq(P, "GET", "/v1/models", headers=hk(K["viewer"]))
T.check(st == 200 and [m["name"] for m in j["models"]] == ["tiny", "alt", "mlp"] and j["default"] == "tiny",
        "/v1/models: %r" % (j,))
T.eq([m["explainable"] for m in j["models"]], [True, True, False], "/v1/models: explainable")
st, j = jreq(P, "GET", "/v1/models/tiny", headers=hk(K["viewer"]))
T.check(st == 200 and j["labels"] == ["normal", "pneumonia", "covid-19"] and
        j["input_shape"] == [3, 32, 32] and j["sha256"] == model_sha and j["parameters"] == 1443,
        "/v1/models/tiny: %r" % (j,))
st, j = jreq(P, "GET", "/v1/models/nope", headers=hk(K["viewer"]))
T.check(st == 404 and j["error"]["code"] == "unknown_model", "unknown model 404")

# --- predict -------------------------------------------------------------------
rc, out, _ = cli(SCANLITE, ["predict", "-m", model, os.path.join(FX, "img", "s05.png"), "--json",
                            "--top-k", "3"])
ref = json.loads(out) if rc == 0 else None
ref = ref[0] if isinstance(ref, list) else ref
s05 = img("s05.png")
st, j = predict_raw(P, hk(K["clinician"]), s05, query="?subject=case-1&note=first%20look&top_k=2")
T.eq(st, 200, "predict raw png")
want_keys = {"id", "model", "model_sha256", "label", "confidence", "top_k", "timings_ms",
             "created_at", "subject", "note", "user", "input_sha256", "image_url"}
T.check(want_keys <= set(j), "predict answer keys: %r" % sorted(j))
T.check(j["model"] == "tiny" and j["model_sha256"] == model_sha and j["subject"] == "case-1" and
        j["note"] == "first look" and j["user"] == "key:c-key", "predict answer fields")
T.check(len(j["top_k"]) == 2 and j["top_k"][0]["label"] == j["label"] and
        abs(j["top_k"][0]["p"] - j["confidence"]) < 1e-7 and j["top_k"][0]["p"] >= j["top_k"][1]["p"],
        "top_k consistent")
T.check(set(j["timings_ms"]) >= {"decode", "infer", "db", "total", "queue"} and
        j["timings_ms"]["total"] >= j["timings_ms"]["db"] >= 0, "timings_ms")
T.eq(j["input_sha256"], hashlib.sha256(s05).hexdigest(), "input_sha256")
T.check("heatmap_url" not in j and "explain" not in j["timings_ms"], "no heatmap unless asked")
if ref:
    T.check(j["label"] == ref.get("label") and abs(j["confidence"] - ref.get("confidence")) < 1e-5,
            "server agrees with `scanlite predict`: %r vs %r" % (j["label"], ref))
first_id = j["id"]
inserted = [j]

st, j = predict_raw(P, hk(ENV_KEY), img("s02.jpg"), "application/octet-stream", "/predict")
T.check(st == 200 and j["model"] == "tiny" and j["user"] == "key:API_KEY" and j["subject"] is None,
        "POST /predict uses the default model with the API_KEY key")
T.eq(j["content_type"], "image/jpeg", "an octet-stream upload is stored with its sniffed type")
inserted.append(j)

names = ["s07.png", "s01.jpg", "s09.png", "s03.png", "s10.jpg"]
files = [("file", n, "image/png" if n.endswith("png") else "image/jpeg", img(n)) for n in names]
body, ct = multipart([("subject", "batch-7"), ("note", "a, \"quoted\"\nnote"), ("top_k", "3")], files)
st, j = jreq(P, "POST", "/v1/models/alt/predict", body, dict(hk(K["clinician"]), **{"Content-Type": ct}))
T.eq(st, 200, "multipart batch")
items = j["items"] if st == 200 else []
T.eq([it["filename"] for it in items], names, "batch order")
T.check(all(it["input_sha256"] == hashlib.sha256(f[3]).hexdigest() for it, f in zip(items, files)),
        "batch items match their files")
T.check([it["id"] for it in items] == sorted(it["id"] for it in items) and
        all(it["model"] == "alt" and it["subject"] == "batch-7" and len(it["top_k"]) == 3 for it in items),
        "batch ids ascending, fields applied")
inserted += items

big = img("big.png")
st, j = predict_raw(P, hk(K["admin"]), big, query="?subject=big&explain=1")
T.check(st == 200 and j["input_size"] == len(big), "large upload (stored as a file)")
big_id = j["id"]
inserted.append(j)
st, h, body = request(P, "GET", "/v1/predictions/%d/heatmap" % big_id, headers=hk(K["viewer"]))
T.check(st == 200 and png_size(body) == (700, 700) and len(body) > 256 * 1024,
        "large heatmap: %d bytes, %r" % (len(body), png_size(body)))
big_heat = os.path.join(DATA, "heatmaps", hashlib.sha256(body).hexdigest()[:2], hashlib.sha256(body).hexdigest())
T.check(os.path.isfile(big_heat), "a heatmap over the inline limit is a content-addressed file")
for n in ("s00.png", "s04.png", "s06.jpg", "s08.png", "s11.jpg"):
    st, j = predict_raw(P, hk(K["clinician"]), img(n), "image/jpeg" if n.endswith("jpg") else "image/png",
                        query="?subject=" + n[:3])
    T.eq(st, 200, "predict " + n)
    inserted.append(j)

# --- Grad-CAM heatmaps (explain=1) ----------------------------------------------
C0 = hk(K["clinician"])
st, j = predict_raw(P, C0, s05, query="?explain=1&subject=heat")
T.eq(st, 200, "predict explain=1")
T.check(j.get("heatmap_url") == "/v1/predictions/%d/heatmap" % j.get("id") and
        j.get("heatmap_label") == j.get("label") == inserted[0]["label"] and
        abs(j["confidence"] - inserted[0]["confidence"]) < 1e-7 and j["timings_ms"].get("explain", -1) >= 0,
        "explain=1 answer: heatmap_url, same label and confidence as without: %r" % (j,))
inserted.append(j)
heat_id = j["id"]
st, h, heat_png = request(P, "GET", j["heatmap_url"], headers=hk(K["viewer"]))
T.check(st == 200 and h.get("content-type") == "image/png", "GET heatmap: %d %r" % (st, h.get("content-type")))
T.eq(png_size(heat_png), img_size("s05.png"), "heatmap PNG decodes and has the upload's size")
other = [t["label"] for t in j["top_k"] if t["label"] != j["label"]][-1]
st, j = predict_raw(P, C0, s05, query="?class=" + urllib.parse.quote(other))
T.check(st == 200 and j.get("heatmap_label") == other and j["label"] == inserted[0]["label"] and "heatmap_url" in j,
        "class=LABEL explains that label (and implies explain): %r" % ((st, j.get("heatmap_label"), other),))
inserted.append(j)
st, h, body = request(P, "GET", j["heatmap_url"], headers=hk(K["viewer"]))
T.check(st == 200 and png_size(body) == img_size("s05.png") and body != heat_png,
        "class=%s heatmap differs from the predicted label's" % other)
hnames = ["s03.png", "s08.jpg", "s11.jpg"]
body, ct = multipart([("explain", "true"), ("subject", "heat-batch")],
                     [("file", n, "image/png" if n.endswith("png") else "image/jpeg", img(n)) for n in hnames])
st, j = jreq(P, "POST", "/v1/models/alt/predict", body, dict(C0, **{"Content-Type": ct}))
hitems = j["items"] if st == 200 else []
T.check(len(hitems) == 3 and all(it.get("heatmap_url") for it in hitems), "multipart explain field: every item")
for it, n in zip(hitems, hnames):
    st, h, body = request(P, "GET", it["heatmap_url"], headers=hk(K["viewer"]))
    T.check(st == 200 and png_size(body) == img_size(n), "batch heatmap of %s has its size" % n)
inserted += hitems
st, j = jreq(P, "GET", "/v1/predictions/%d" % heat_id, headers=hk(K["viewer"]))
T.check(st == 200 and j.get("heatmap_url") == "/v1/predictions/%d/heatmap" % heat_id, "GET one: heatmap_url")
st, j = jreq(P, "GET", "/v1/predictions?limit=500", headers=hk(K["viewer"]))
with_heat = {it["id"] for it in inserted if it.get("heatmap_url")}
T.check(st == 200 and {it["id"] for it in j["items"] if it.get("heatmap_url")} == with_heat and
        all(it["heatmap_url"].endswith("/%d/heatmap" % it["id"]) for it in j["items"] if "heatmap_url" in it),
        "list items carry heatmap_url exactly when a heatmap exists")
st, j = jreq(P, "GET", "/v1/predictions/%d/heatmap" % first_id, headers=hk(K["viewer"]))
T.check(st == 404 and j["error"]["code"] == "not_found", "no heatmap -> 404")
T.eq(request(P, "GET", "/v1/predictions/99999999/heatmap", headers=hk(K["viewer"]))[0], 404,
     "heatmap of a missing prediction -> 404")
st, j = predict_raw(P, C0, s05, path="/v1/models/mlp/predict", query="?explain=1")
T.check(st == 422 and j["error"]["code"] == "not_explainable" and "mlp" in j["error"]["message"] and
        "Grad-CAM" in j["error"]["message"], "explain on a model without a feature map: %r" % (j,))
st, j = predict_raw(P, C0, s05, path="/v1/models/mlp/predict", query="?explain=0")
T.check(st == 200 and "heatmap_url" not in j, "the same model predicts without explain")
inserted.append(j)
N = len(inserted)

# --- listing, pagination, filters ------------------------------------------------
V = hk(K["viewer"])
st, j = jreq(P, "GET", "/v1/predictions", headers=V)
T.check(st == 200 and j["total"] == N and len(j["items"]) == N, "list total %r" % (j and j.get("total")))
ids = [it["id"] for it in j["items"]]
T.eq(ids, sorted((it["id"] for it in inserted), reverse=True), "newest first")
st, j = jreq(P, "GET", "/v1/predictions?skip=2&limit=3&bogus=1", headers=V)
T.check(st == 200 and [it["id"] for it in j["items"]] == ids[2:5] and j["total"] == N,
        "skip/limit window, unknown parameter ignored")
st, j = jreq(P, "GET", "/v1/predictions?limit=0&skip=-4", headers=V)
T.check(st == 200 and j["limit"] == 1 and j["skip"] == 0 and len(j["items"]) == 1, "limit clamped up")
st, j = jreq(P, "GET", "/v1/predictions?limit=100000", headers=V)
T.check(st == 200 and j["limit"] == 500, "limit clamped down")
st, j = jreq(P, "GET", "/v1/predictions?skip=1000", headers=V)
T.check(st == 200 and j["items"] == [] and j["total"] == N, "skip past the end")
for q, pred in (("model=alt", lambda it: it["model"] == "alt"),
                ("subject=batch-7", lambda it: it["subject"] == "batch-7"),
                ("label=" + inserted[0]["label"], lambda it: it["label"] == inserted[0]["label"]),
                ("model=tiny&subject=case-1", lambda it: it["model"] == "tiny" and it["subject"] == "case-1")):
    st, j = jreq(P, "GET", "/v1/predictions?limit=500&" + q, headers=V)
    want = sorted((it["id"] for it in inserted if pred(it)), reverse=True)
    T.check(st == 200 and [it["id"] for it in j["items"]] == want and j["total"] == len(want),
            "filter %s: %r vs %r" % (q, j and j.get("total"), len(want)))
today = time.strftime("%Y-%m-%d", time.gmtime())
tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
for q, want in (("from=" + today, N), ("to=" + today, N), ("from=" + tomorrow, 0), ("to=" + yesterday, 0),
                ("from=%sT00:00:00Z&to=%sT23:59:59Z" % (today, today), N)):
    st, j = jreq(P, "GET", "/v1/predictions?" + q, headers=V)
    T.check(st == 200 and j["total"] == want, "date filter %s -> %r" % (q, j and j.get("total")))

# --- one prediction, image round trip ------------------------------------------------
st, j = jreq(P, "GET", "/v1/predictions/%d" % first_id, headers=V)
T.check(st == 200 and j["id"] == first_id and j["subject"] == "case-1" and j["feedback"] == [] and
        j["top_k"] == inserted[0]["top_k"], "GET one prediction")
for pid, data, ctype in ((first_id, s05, "image/png"), (big_id, big, "image/png"),
                         (inserted[1]["id"], img("s02.jpg"), "image/jpeg")):
    st, h, body = request(P, "GET", "/v1/predictions/%d/image" % pid, headers=V)
    T.check(st == 200 and body == data and h.get("content-type") == ctype,
            "image round trip %d (%d bytes)" % (pid, len(data)))

# --- CSV -------------------------------------------------------------------------------
st, h, body = request(P, "GET", "/v1/predictions.csv", headers=V)
rows = list(csv.DictReader(io.StringIO(body.decode()))) if st == 200 else []
T.check(st == 200 and h.get("content-type", "").startswith("text/csv") and len(rows) == N,
        "CSV has every row (%d)" % len(rows))
T.eq([int(r["id"]) for r in rows], ids, "CSV newest first")
byid = {int(r["id"]): r for r in rows}
T.check(all(byid[it["id"]]["note"] == "a, \"quoted\"\nnote" for it in items), "CSV quoting round trip")
T.check(all(byid[it["id"]]["label"] == it["label"] and abs(float(byid[it["id"]]["confidence"]) - it["confidence"]) < 1e-5
            for it in inserted), "CSV labels and confidences")
st, h, body = request(P, "GET", "/v1/predictions.csv?model=alt", headers=V)
T.eq(len(list(csv.DictReader(io.StringIO(body.decode())))), sum(it["model"] == "alt" for it in inserted),
     "CSV filter")

# --- feedback ----------------------------------------------------------------------------
C = hk(K["clinician"])
fb_path = "/v1/predictions/%d/feedback" % first_id
JS = {"Content-Type": "application/json"}
st, j = jreq(P, "POST", fb_path, json.dumps({"correct": True}), dict(C, **JS))
T.check(st == 201 and j["created"] is True and len(j["feedback"]) == 1, "feedback created")
st, j = jreq(P, "POST", fb_path, json.dumps({"correct": False, "label": "normal", "note": "reader 2"}), dict(C, **JS))
T.check(st == 200 and j["created"] is False and len(j["feedback"]) == 1 and
        j["feedback"][0]["correct"] is False and j["feedback"][0]["label"] == "normal", "feedback upsert")
st, cleo = login(P, "cleo")
T.check(st == 200 and cleo["token"] and cleo["user"]["role"] == "clinician", "login cleo")
st, j = jreq(P, "POST", fb_path, json.dumps({"correct": True}), dict(hb(cleo["token"]), **JS))
T.check(st == 201 and len(j["feedback"]) == 2, "second user's feedback is separate")
st, j = jreq(P, "POST", "/v1/predictions/%d/feedback" % items[0]["id"], json.dumps({"correct": True}), dict(C, **JS))
T.eq(st, 201, "feedback on another prediction")
st, j = jreq(P, "GET", "/v1/predictions/%d" % first_id, headers=V)
T.check(st == 200 and sorted(f["user"] for f in j["feedback"]) == ["cleo", "key:c-key"], "feedback listed")
st, j = jreq(P, "POST", fb_path, json.dumps({"correct": False, "label": "cat"}), dict(C, **JS))
T.eq(st, 422, "feedback label not of the model")

# --- stats ---------------------------------------------------------------------------------
st, s = jreq(P, "GET", "/v1/stats", headers=V)
T.eq(st, 200, "stats")
per_model, per_label = {}, {}
for it in inserted:
    per_model[it["model"]] = per_model.get(it["model"], 0) + 1
    per_label[it["label"]] = per_label.get(it["label"], 0) + 1
T.eq(s["total_predictions"], N, "stats total")
T.eq(s["per_model"], per_model, "stats per model")
T.eq(s["per_label"], per_label, "stats per label")
T.check(len(s["per_day"]) == 30 and s["per_day"][-1] == {"day": today, "count": N} and
        sum(d["count"] for d in s["per_day"]) == N, "stats per day")
T.check(s["feedback_count"] == 3 and s["feedback_correct"] == 2 and abs(s["agreement_rate"] - 2 / 3) < 1e-9,
        "stats feedback agreement: %r" % ({k: s[k] for k in ("feedback_count", "feedback_correct", "agreement_rate")},))

# --- delete ----------------------------------------------------------------------------------
A = hk(K["admin"])
st, _, _ = request(P, "DELETE", "/v1/predictions/%d" % big_id, headers=A)
T.eq(st, 204, "admin deletes")
T.eq(request(P, "GET", "/v1/predictions/%d" % big_id, headers=V)[0], 404, "deleted prediction is gone")
T.eq(request(P, "GET", "/v1/predictions/%d/image" % big_id, headers=V)[0], 404, "its image is gone")
T.eq(request(P, "GET", "/v1/predictions/%d/heatmap" % big_id, headers=V)[0], 404, "its heatmap is gone")
T.check(not os.path.exists(big_heat), "the heatmap file of the deleted prediction is removed")
T.eq(request(P, "DELETE", "/v1/predictions/%d" % big_id, headers=A)[0], 404, "delete twice -> 404")
st, j = jreq(P, "GET", "/v1/predictions", headers=V)
T.eq(j["total"], N - 1, "total after delete")
imgs_left = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(DATA, "images")) for f in fs]
T.eq(imgs_left, [], "the image file of the deleted prediction is removed")
inserted = [it for it in inserted if it["id"] != big_id]

# --- sessions, logout, throttling, expiry, revocation -----------------------------------------
st, j = login(P, "vera")
vt = j["token"]
T.eq(request(P, "GET", "/v1/stats", headers=hb(vt))[0], 200, "viewer session works")
T.eq(request(P, "POST", "/v1/auth/logout", b"", hb(vt))[0], 200, "logout")
T.eq(request(P, "GET", "/v1/stats", headers=hb(vt))[0], 401, "token revoked by logout")
T.eq(request(P, "POST", "/v1/auth/logout", b"", hk(K["viewer"]))[0], 400, "logout with a key -> 400")
codes = [login(P, "bob", "wrong password")[0] for _ in range(6)]
T.eq(codes, [401] * 5 + [429], "login throttled after 5 failures")
st, j = login(P, "bob")
T.eq(st, 429, "throttled even with the right password")
T.eq(login(P, "nobody", "x")[0], 401, "unknown user 401")
st, j = login(P, "vera")
et = j["token"]
con = sqlite3.connect(DB, timeout=10)
con.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000Z' WHERE hash = ?",
            (hashlib.sha256(et.encode()).hexdigest(),))
con.commit()
con.close()
st, j = jreq(P, "GET", "/v1/stats", headers=hb(et))
T.check(st == 401 and j["error"]["code"] == "invalid_credentials", "expired token 401")
rk = key("clinician", "temp")
T.eq(request(P, "GET", "/v1/stats", headers=hk(rk))[0], 200, "fresh key works")
rc, _, err = cli(SCANLITE, ["key", "revoke", rk[4:12], "--db", DB, "--data-dir", DATA])
T.eq(rc, 0, "key revoke by prefix: " + err)
T.eq(request(P, "GET", "/v1/stats", headers=hk(rk))[0], 401, "revoked key 401")

# --- users and keys over HTTP (admin) ------------------------------------------------------------
A = hk(K["admin"])
st, j = jreq(P, "GET", "/v1/users", headers=A)
T.check(st == 200 and {(u["name"], u["role"]) for u in j["items"]} ==
        {("vera", "viewer"), ("cleo", "clinician"), ("adam", "admin"), ("bob", "viewer")} and
        all(set(u) == {"id", "name", "role", "created_at"} for u in j["items"]), "GET /v1/users: %r" % (j,))
NEW = {"name": "nina", "password": "nina-password-1", "role": "clinician"}
st, j = jreq(P, "POST", "/v1/users", json.dumps(NEW), dict(A, **JS))
T.check(st == 201 and j["name"] == "nina" and j["role"] == "clinician" and j["id"] > 0 and "password" not in j,
        "POST /v1/users: %r" % (j,))
st, nina = login(P, "nina", NEW["password"])
T.check(st == 200 and nina["user"]["role"] == "clinician", "the new user can log in")
T.eq(jreq(P, "POST", "/v1/users", json.dumps(NEW), dict(A, **JS))[1]["error"]["code"], "user_exists",
     "POST an existing user")
T.eq(request(P, "POST", "/v1/users", json.dumps(NEW), dict(A, **JS))[0], 409, "existing user -> 409")
for what, body, code in (("bad name", dict(NEW, name="no/slash"), "bad_name"),
                         ("long name", dict(NEW, name="n" * 65), "bad_name"),
                         ("short password", dict(NEW, name="pat", password="1234567"), "bad_password"),
                         ("unknown role", dict(NEW, name="pat", role="root"), "bad_role"),
                         ("missing password", {"name": "pat", "role": "viewer"}, "bad_request"),
                         ("name not a string", dict(NEW, name=7), "bad_request")):
    st, j = jreq(P, "POST", "/v1/users", json.dumps(body), dict(A, **JS))
    T.check(st == 400 and j["error"]["code"] == code, "POST /v1/users %s -> %r" % (what, (st, j)))
st, adam = login(P, "adam")
st, j = jreq(P, "DELETE", "/v1/users/adam", headers=hb(adam["token"]))
T.check(st == 409 and j["error"]["code"] == "cannot_delete_self", "cannot delete yourself: %r" % ((st, j),))
st, j = jreq(P, "DELETE", "/v1/users/adam", headers=A)
T.check(st == 409 and j["error"]["code"] == "last_admin", "cannot delete the last admin: %r" % ((st, j),))
st, _ = jreq(P, "POST", "/v1/users", json.dumps({"name": "ada", "password": PW, "role": "admin"}), dict(A, **JS))
T.eq(st, 201, "second admin")
T.eq(request(P, "DELETE", "/v1/users/ada", headers=hb(adam["token"]))[0], 204, "an admin deletes another admin")
T.eq(request(P, "DELETE", "/v1/users/nina", headers=A)[0], 204, "DELETE /v1/users/nina")
T.eq(request(P, "GET", "/v1/stats", headers=hb(nina["token"]))[0], 401, "a deleted user's session ends")
T.eq(login(P, "nina", NEW["password"])[0], 401, "a deleted user cannot log in")
T.eq(request(P, "DELETE", "/v1/users/nina", headers=A)[0], 404, "delete a missing user -> 404")
st, j = jreq(P, "POST", "/v1/keys", json.dumps({"name": "http-key", "role": "viewer"}), dict(A, **JS))
T.check(st == 201 and j["key"].startswith("slk_") and len(j["key"]) == 68 and j["prefix"] == j["key"][:12] and
        j["name"] == "http-key" and j["role"] == "viewer", "POST /v1/keys: %r" % (j,))
hkey, hkey_id = j["key"], j["id"]
T.eq(request(P, "GET", "/v1/stats", headers=hk(hkey))[0], 200, "the new key works")
T.eq(request(P, "POST", "/v1/keys", json.dumps({"role": "viewer"}), dict(hk(hkey), **JS))[0], 403,
     "a viewer key cannot make keys")
st, j = jreq(P, "POST", "/v1/keys", json.dumps({"role": "clinician"}), dict(A, **JS))
T.check(st == 201 and j["name"] == j["prefix"][4:], "a key without a name is named by its prefix")
st, h, body = request(P, "GET", "/v1/keys", headers=A)
keys = json.loads(body)["items"] if st == 200 else []
mine = [k for k in keys if k["id"] == hkey_id]
T.check(mine and mine[0]["active"] is True and mine[0]["revoked_at"] is None and mine[0]["prefix"] == hkey[:12],
        "GET /v1/keys lists the key")
T.check(hkey.encode() not in body and hkey[12:].encode() not in body and
        all(set(k) == {"id", "name", "role", "prefix", "created_at", "revoked_at", "active"} for k in keys),
        "GET /v1/keys never shows a key or its hash")
T.eq(request(P, "DELETE", "/v1/keys/%d" % hkey_id, headers=A)[0], 204, "DELETE /v1/keys/{id} revokes")
T.eq(request(P, "GET", "/v1/stats", headers=hk(hkey))[0], 401, "a revoked key stops working")
st, j = jreq(P, "GET", "/v1/keys", headers=A)
T.check([k["revoked_at"] is not None and k["active"] is False for k in j["items"] if k["id"] == hkey_id] == [True],
        "the revoked key is listed as revoked")
T.eq(request(P, "DELETE", "/v1/keys/%d" % hkey_id, headers=A)[0], 404, "revoke twice -> 404")
T.eq(request(P, "DELETE", "/v1/keys/abc", headers=A)[0], 404, "revoke a non-numeric id -> 404")
T.eq(request(P, "POST", "/v1/keys", json.dumps({"role": "owner"}), dict(A, **JS))[0], 400, "key role checked")
T.eq(request(P, "POST", "/v1/keys", json.dumps({"role": "viewer", "name": "k" * 65}), dict(A, **JS))[0], 400,
     "key name length checked")

# --- authorization matrix ------------------------------------------------------------------------
tokens = {}
for name, role in (("vera", "viewer"), ("cleo", "clinician"), ("adam", "admin")):
    st, j = login(P, name)
    tokens[role] = j["token"]
ROLE_RANK = {"none": 0, "viewer": 1, "clinician": 2, "admin": 3}
victims = []


def victim():
    st, j = predict_raw(P, A, img("s00.png"), query="?subject=victim")
    victims.append(j["id"])
    return j["id"]


def victim_user():
    name = "victim%d" % len(victims)
    victims.append(name)
    jreq(P, "POST", "/v1/users", json.dumps({"name": name, "password": PW, "role": "viewer"}), dict(A, **JS))
    return name


def victim_key():
    st, j = jreq(P, "POST", "/v1/keys", json.dumps({"role": "viewer", "name": "victim"}), dict(A, **JS))
    return j["id"]


def new_user():
    victims.append("u")
    return json.dumps({"name": "made%d" % len(victims), "password": PW, "role": "viewer"})


def route_cases():
    """(label, least role, function(auth headers) -> status)."""
    pid = inserted[0]["id"]
    fbody = json.dumps({"correct": True})
    return [
        ("GET /health", "none", lambda a: request(P, "GET", "/health", headers=a)[0]),
        ("GET /ready", "none", lambda a: request(P, "GET", "/ready", headers=a)[0]),
        ("GET /metrics", "none", lambda a: request(P, "GET", "/metrics", headers=a)[0]),
        ("GET /openapi.json", "viewer", lambda a: request(P, "GET", "/openapi.json", headers=a)[0]),
        ("GET /v1/models", "viewer", lambda a: request(P, "GET", "/v1/models", headers=a)[0]),
        ("GET /v1/models/tiny", "viewer", lambda a: request(P, "GET", "/v1/models/tiny", headers=a)[0]),
        ("POST /v1/models/tiny/predict", "clinician",
         lambda a: predict_raw(P, a, img("s01.png"), query="?subject=matrix")[0]),
        ("POST /predict", "clinician",
         lambda a: predict_raw(P, a, img("s01.png"), path="/predict", query="?subject=matrix")[0]),
        ("GET /v1/predictions", "viewer", lambda a: request(P, "GET", "/v1/predictions", headers=a)[0]),
        ("GET /v1/predictions.csv", "viewer", lambda a: request(P, "GET", "/v1/predictions.csv", headers=a)[0]),
        ("GET /v1/predictions/{id}", "viewer", lambda a: request(P, "GET", "/v1/predictions/%d" % pid, headers=a)[0]),
        ("GET /v1/predictions/{id}/image", "viewer",
         lambda a: request(P, "GET", "/v1/predictions/%d/image" % pid, headers=a)[0]),
        ("POST /v1/predictions/{id}/feedback", "clinician",
         lambda a: request(P, "POST", "/v1/predictions/%d/feedback" % pid, fbody, dict(a, **JS))[0]),
        ("DELETE /v1/predictions/{id}", "admin",
         lambda a: request(P, "DELETE", "/v1/predictions/%d" % victim(), headers=a)[0]),
        ("GET /v1/predictions/{id}/heatmap", "viewer",
         lambda a: request(P, "GET", "/v1/predictions/%d/heatmap" % heat_id, headers=a)[0]),
        ("GET /v1/stats", "viewer", lambda a: request(P, "GET", "/v1/stats", headers=a)[0]),
        ("GET /v1/users", "admin", lambda a: request(P, "GET", "/v1/users", headers=a)[0]),
        ("POST /v1/users", "admin", lambda a: request(P, "POST", "/v1/users", new_user(), dict(a, **JS))[0]),
        ("DELETE /v1/users/{name}", "admin",
         lambda a: request(P, "DELETE", "/v1/users/" + victim_user(), headers=a)[0]),
        ("GET /v1/keys", "admin", lambda a: request(P, "GET", "/v1/keys", headers=a)[0]),
        ("POST /v1/keys", "admin",
         lambda a: request(P, "POST", "/v1/keys", json.dumps({"role": "viewer"}), dict(a, **JS))[0]),
        ("DELETE /v1/keys/{id}", "admin",
         lambda a: request(P, "DELETE", "/v1/keys/%d" % victim_key(), headers=a)[0]),
        ("POST /v1/auth/login", "none",
         lambda a: request(P, "POST", "/v1/auth/login", json.dumps({"username": "adam", "password": PW}),
                           dict(a, **JS))[0]),
    ]


matrix_n = 0
creds = [("none", "none", {})]
for role in ("viewer", "clinician", "admin"):
    creds.append((role, "key", hk(K[role])))
    creds.append((role, "session", hb(tokens[role])))
for role, kind, auth in creds:
    for label, least, fn in route_cases():
        st = fn(auth)
        if ROLE_RANK[role] >= ROLE_RANK[least]:
            ok = 200 <= st < 300
            want = "2xx"
        else:
            want = 401 if role == "none" else 403
            ok = st == want
        matrix_n += 1
        T.check(ok, "authz %s(%s) %s -> %d, want %s" % (role, kind, label, st, want))
for role in ("viewer", "clinician", "admin"):
    name = {"viewer": "vera", "clinician": "cleo", "admin": "adam"}[role]
    st, j = login(P, name)
    T.eq(request(P, "POST", "/v1/auth/logout", b"", hb(j["token"]))[0], 200, "logout as " + role)
T.eq(request(P, "POST", "/v1/auth/logout", b"")[0], 401, "logout without credentials")
print("authorization matrix: %d cases" % matrix_n)

# --- bad input -----------------------------------------------------------------------------------
png = img("s05.png")
jpg = img("s06.jpg")


def png_header(w, h):
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk +
            struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IDAT" + b"\x00" * 64)


def huge_body(chunked):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", P, timeout=60)
    try:
        c.putrequest("POST", "/v1/models/tiny/predict")
        c.putheader("X-API-Key", K["clinician"])
        c.putheader("Content-Type", "image/png")
        if chunked:
            c.putheader("Transfer-Encoding", "chunked")
            c.endheaders()
            block = b"\0" * (1 << 20)
            chunk = b"%x\r\n" % len(block) + block + b"\r\n"
            try:
                for _ in range(100):
                    c.send(chunk)
                c.send(b"0\r\n\r\n")
            except OSError:
                return 413  # the server stopped reading: refused
        else:
            c.putheader("Content-Length", str(100 << 20))
            c.endheaders()
        return c.getresponse().status
    except OSError:
        return 413 if chunked else -1
    finally:
        c.close()


SQLI = "'; DROP TABLE predictions; --"
LONG = "x" * 5000
deep = "[" * 100 + "]" * 100
CK = dict(C)


def mp(fields, files):
    body, ct = multipart(fields, files)
    return jreq(P, "POST", "/v1/models/tiny/predict", body, dict(CK, **{"Content-Type": ct}))[0]


def fb(raw):
    return request(P, "POST", "/v1/predictions/%d/feedback" % first_id, raw, dict(CK, **JS))[0]


bad = [
    ("zero-byte body", 400, lambda: predict_raw(P, CK, b"")[0]),
    ("truncated PNG", 422, lambda: predict_raw(P, CK, png[:60])[0]),
    ("truncated JPEG", 422, lambda: predict_raw(P, CK, jpg[:40], "image/jpeg")[0]),
    ("random bytes as image/png", 422, lambda: predict_raw(P, CK, os.urandom(3000))[0]),
    ("text as octet-stream", 422, lambda: predict_raw(P, CK, b"hello world " * 50, "application/octet-stream")[0]),
    ("20000x20000 PNG header", 422, lambda: predict_raw(P, CK, png_header(20000, 20000))[0]),
    ("13000x10 PNG header", 422, lambda: predict_raw(P, CK, png_header(13000, 10))[0]),
    ("100 MB body (Content-Length)", 413, lambda: huge_body(False)),
    ("100 MB chunked body", 413, lambda: huge_body(True)),
    ("wrong content type text/plain", 415, lambda: predict_raw(P, CK, png, "text/plain")[0]),
    ("JSON content type on predict", 415, lambda: predict_raw(P, CK, b"{}", "application/json")[0]),
    ("no content type", 415, lambda: request(P, "POST", "/v1/models/tiny/predict", png, CK)[0]),
    ("multipart part of type text/plain", 415, lambda: mp([], [("file", "a.txt", "text/plain", b"hi")])),
    ("multipart without boundary", 400,
     lambda: predict_raw(P, CK, b"--x\r\n\r\n", "multipart/form-data")[0]),
    ("multipart without closing boundary", 400,
     lambda: predict_raw(P, CK, b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + png,
                         "multipart/form-data; boundary=zz")[0]),
    ("multipart garbage", 400, lambda: predict_raw(P, CK, os.urandom(500), "multipart/form-data; boundary=abc")[0]),
    ("multipart with no file part", 400, lambda: mp([("subject", "s")], [])),
    ("multipart empty file", 400, lambda: mp([], [("file", "e.png", "image/png", b"")])),
    ("multipart bad image in a batch", 422,
     lambda: mp([], [("file", "a.png", "image/png", png), ("file", "b.png", "image/png", png[:50])])),
    ("top_k not a number", 400, lambda: predict_raw(P, CK, png, query="?top_k=abc")[0]),
    ("top_k zero", 400, lambda: predict_raw(P, CK, png, query="?top_k=0")[0]),
    ("subject too long (query)", 400, lambda: predict_raw(P, CK, png, query="?subject=" + "s" * 200)[0]),
    ("note too long (query)", 400, lambda: predict_raw(P, CK, png, query="?note=" + LONG)[0]),
    ("note too long (multipart)", 400, lambda: mp([("note", LONG)], [("file", "a.png", "image/png", png)])),
    ("subject invalid UTF-8", 400, lambda: predict_raw(P, CK, png, query="?subject=%FF%FE")[0]),
    ("note with a control character", 400, lambda: predict_raw(P, CK, png, query="?note=a%01b")[0]),
    ("filename too long", 400, lambda: mp([], [("file", "f" * 300 + ".png", "image/png", png)])),
    ("feedback: not JSON", 400, lambda: fb(b"correct=true")),
    ("feedback: truncated JSON", 400, lambda: fb(b'{"correct": tru')),
    ("feedback: JSON array", 400, lambda: fb(b"[true]")),
    ("feedback: correct is a string", 400, lambda: fb(b'{"correct": "yes"}')),
    ("feedback: trailing garbage", 400, lambda: fb(b'{"correct": true} x')),
    ("feedback: nested 100 deep", 400, lambda: fb(('{"correct": true, "x": %s}' % deep).encode())),
    ("feedback: duplicate key", 400, lambda: fb(b'{"correct": true, "correct": false}')),
    ("feedback: invalid UTF-8", 400, lambda: fb(b'{"correct": true, "note": "\xff"}')),
    ("feedback: note too long", 400, lambda: fb(json.dumps({"correct": True, "note": LONG}).encode())),
    ("feedback: label too long", 400, lambda: fb(json.dumps({"correct": True, "label": "l" * 300}).encode())),
    ("feedback: SQL in label", 422, lambda: fb(json.dumps({"correct": True, "label": SQLI}).encode())),
    ("feedback: body over 64 KiB", 413, lambda: fb(b'{"note": "' + b"n" * 70000 + b'"}')),
    ("feedback on a missing prediction", 404,
     lambda: request(P, "POST", "/v1/predictions/99999999/feedback", b'{"correct": true}', dict(CK, **JS))[0]),
    ("login: bad JSON", 400, lambda: request(P, "POST", "/v1/auth/login", b"{user", JS)[0]),
    ("login: username is a number", 400,
     lambda: request(P, "POST", "/v1/auth/login", b'{"username": 5, "password": "x"}', JS)[0]),
    ("login: SQL in username", 401, lambda: login(P, SQLI, SQLI)[0]),
    ("login: very long username", 400, lambda: login(P, LONG, "x")[0]),
    ("bad bearer token", 401, lambda: request(P, "GET", "/v1/stats", headers=hb("garbage"))[0]),
    ("Basic auth instead of Bearer", 401,
     lambda: request(P, "GET", "/v1/stats", headers={"Authorization": "Basic YTpi"})[0]),
    ("unknown API key", 401, lambda: request(P, "GET", "/v1/stats", headers=hk("slk_" + "0" * 64))[0]),
    ("SQL in API key", 401, lambda: request(P, "GET", "/v1/stats", headers=hk(SQLI))[0]),
    ("expired token", 401, lambda: request(P, "GET", "/v1/stats", headers=hb(et))[0]),
    ("revoked key", 401, lambda: request(P, "GET", "/v1/stats", headers=hk(rk))[0]),
    ("unknown endpoint", 404, lambda: request(P, "GET", "/v1/nothing", headers=V)[0]),
    ("path traversal", 404, lambda: request(P, "GET", "/v1/predictions/..%2F..%2Fetc%2Fpasswd", headers=V)[0]),
    ("prediction id not a number", 404, lambda: request(P, "GET", "/v1/predictions/abc", headers=V)[0]),
    ("PUT on a GET route", 405, lambda: request(P, "PUT", "/v1/models", b"", V)[0]),
    ("GET on predict", 405, lambda: request(P, "GET", "/v1/models/tiny/predict", headers=V)[0]),
    ("explain not a flag", 400, lambda: predict_raw(P, CK, png, query="?explain=maybe")[0]),
    ("explain: class not a label", 422, lambda: predict_raw(P, CK, png, query="?class=" + urllib.parse.quote(SQLI))[0]),
    ("explain: class too long (multipart)", 400,
     lambda: mp([("class", "c" * 300)], [("file", "a.png", "image/png", png)])),
    ("explain on a model without Grad-CAM", 422,
     lambda: predict_raw(P, CK, png, path="/v1/models/mlp/predict", query="?explain=1")[0]),
    ("users: not JSON", 400, lambda: request(P, "POST", "/v1/users", b"name=x", dict(A, **JS))[0]),
    ("users: SQL in name", 400, lambda: request(P, "POST", "/v1/users", json.dumps(
        {"name": SQLI, "password": PW, "role": "viewer"}), dict(A, **JS))[0]),
    ("users: very long password", 400, lambda: request(P, "POST", "/v1/users", json.dumps(
        {"name": "longpw", "password": LONG, "role": "viewer"}), dict(A, **JS))[0]),
    ("keys: role not a string", 400, lambda: request(P, "POST", "/v1/keys", b'{"role": 3}', dict(A, **JS))[0]),
    ("predict with an unknown model", 404, lambda: predict_raw(P, CK, png, path="/v1/models/nope/predict")[0]),
    ("list: limit not a number", 400, lambda: request(P, "GET", "/v1/predictions?limit=ten", headers=V)[0]),
    ("list: bad from date", 400, lambda: request(P, "GET", "/v1/predictions?from=yesterday", headers=V)[0]),
    ("list: bad to date", 400, lambda: request(P, "GET", "/v1/predictions.csv?to=2024-13-45", headers=V)[0]),
    ("list: SQL in filters", 200,
     lambda: request(P, "GET", "/v1/predictions?model=%s&label=%s&subject=%s" % ((urllib.parse.quote(SQLI),) * 3),
                     headers=V)[0]),
    ("list: very long filter", 400, lambda: request(P, "GET", "/v1/predictions?subject=" + LONG, headers=V)[0]),
    ("predict: SQL in subject and note", 200,
     lambda: predict_raw(P, CK, png, query="?subject=%s&note=%s" % ((urllib.parse.quote(SQLI),) * 2))[0]),
]
for label, want, fn in bad:
    try:
        st = fn()
    except Exception as e:  # a dropped connection is a failure unless the case says otherwise
        st = "exception %r" % e
    T.check(st == want, "bad input '%s': got %s, want %s" % (label, st, want))
    T.eq(request(P, "GET", "/health")[0], 200, "server alive after '%s'" % label)
print("bad-input cases: %d" % len(bad))
st, j = jreq(P, "GET", "/v1/predictions?subject=" + urllib.parse.quote(SQLI), headers=V)
T.check(st == 200 and j["total"] == 1 and j["items"][0]["note"] == SQLI, "SQL-ish text stored verbatim")
st, j = jreq(P, "GET", "/v1/stats", headers=V)
T.check(st == 200 and j["total_predictions"] > 0, "predictions table intact")

# --- shutdown --------------------------------------------------------------------------------------
rc = srv.stop()
T.eq(rc, 0, "SIGTERM -> exit 0")
con = sqlite3.connect(DB)
T.eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
T.eq(con.execute("PRAGMA user_version").fetchone()[0], 2, "schema version")
T.eq(con.execute("SELECT count(*) FROM heatmaps").fetchone()[0],
     con.execute("SELECT count(*) FROM predictions WHERE id IN (SELECT prediction_id FROM heatmaps)").fetchone()[0],
     "every heatmap row belongs to a prediction")
T.eq(con.execute("SELECT count(*) FROM heatmaps WHERE prediction_id IN (%s)" %
                 ",".join(str(i) for i in [heat_id] + [it["id"] for it in hitems])).fetchone()[0], 4,
     "heatmaps stored for the explained predictions")
T.eq(con.execute("SELECT count(*) FROM heatmaps").fetchone()[0], 5,
     "no heatmap row without explain (zero cost when not asked)")
acts = {r[0] for r in con.execute("SELECT action FROM audit_log")}
T.check({"login", "login_failed", "logout", "prediction_delete", "key_create", "key_revoke", "user_add",
         "feedback_add", "feedback_update", "server_start", "server_stop", "user_del"} <= acts, "audit log actions: %r" % acts)
T.check(con.execute("SELECT count(*) FROM api_keys WHERE hash LIKE 'slk_%'").fetchone()[0] == 0 and
        con.execute("SELECT count(*) FROM users WHERE pwhash NOT LIKE '$y$%'").fetchone()[0] == 0,
        "secrets stored hashed (yescrypt, sha256)")
con.close()
with open(os.path.join(OUT, "server.log"), "rb") as f:
    log = f.read().decode(errors="replace")
T.check(" POST /v1/models/tiny/predict 200 " in log and "user=key:c-key" in log, "one log line per request")
T.done()
