"""server_common.py — helpers shared by the server tests: start/stop a real
`scanlite serve` on a free loopback port (--port 0, the port is read from
its log), a small HTTP client on http.client with bounded timeouts, a
multipart encoder, and a check counter that makes the test fail loudly."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

TIMEOUT = 30


class Checks:
    def __init__(self, name):
        self.name, self.ok, self.bad = name, 0, 0

    def check(self, cond, what):
        if cond:
            self.ok += 1
        else:
            self.bad += 1
            print("  FAIL %s" % what, flush=True)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.ok, self.bad), flush=True)
        sys.exit(1 if self.bad else 0)


class Server:
    """A scanlite serve process; args are appended to the command line."""

    def __init__(self, binary, args, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("SCANLITE_") or k in ("PORT", "API_KEY"):
                del e[k]
        e.update(env or {})
        self.proc = subprocess.Popen([binary, "serve", "--port", "0"] + args,
                                     stdout=self.log, stderr=subprocess.PIPE, env=e)
        self.port = None
        deadline = time.time() + 60
        lines = []
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            self.log.write(line)
            m = re.search(rb"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.log.flush()
            raise RuntimeError("server did not start: %s" % b"".join(lines).decode(errors="replace"))
        # Keep draining stderr into the log so the server never blocks on it.
        import threading
        self._drain = threading.Thread(target=self._pump, daemon=True)
        self._drain.start()

    def _pump(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()

    def wait_ready(self, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            try:
                if request(self.port, "GET", "/ready")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, limit=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._drain.join(5)
        self.log.close()
        return rc


def request(port, method, path, body=None, headers=None, timeout=TIMEOUT):
    """One request on a fresh connection: (status, headers dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def jreq(port, method, path, body=None, headers=None):
    """Like request, with the body decoded as JSON (None when it is not)."""
    st, h, data = request(port, method, path, body, headers)
    try:
        return st, json.loads(data) if data else None
    except ValueError:
        return st, None


def multipart(fields, files):
    """fields: [(name, str)]; files: [(name, filename, content_type, bytes)]."""
    b = "----scanlite%s" % uuid.uuid4().hex
    out = []
    for name, value in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (b, name)).encode())
        out.append(value.encode() if isinstance(value, str) else value)
        out.append(b"\r\n")
    for name, fname, ctype, data in files:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (b, name, fname, ctype)).encode())
        out.append(data)
        out.append(b"\r\n")
    out.append(("--%s--\r\n" % b).encode())
    return b"".join(out), "multipart/form-data; boundary=%s" % b


def cli(binary, args, stdin=None):
    """Runs a scanlite subcommand; returns (rc, stdout str)."""
    p = subprocess.run([binary] + args, input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()
