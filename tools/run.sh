#!/bin/sh
# run.sh — `make run`: serve every model in weights/ on 127.0.0.1 with the
# database and stored uploads under ./data. On first start the server
# creates an `admin` user and writes its password to data/admin-password.
# Override with SCANLITE_PORT, SCANLITE_HOST, SCANLITE_DATA_DIR.
set -eu
cd "$(dirname "$0")/.."
data=${SCANLITE_DATA_DIR:-data}
port=${SCANLITE_PORT:-8080}
host=${SCANLITE_HOST:-127.0.0.1}
mkdir -p "$data"
if ! ls weights/*.slm >/dev/null 2>&1; then
    echo "make run: no model in weights/ (see weights/README.md)" >&2
    exit 1
fi
echo "scanlite: serving $(ls weights/*.slm | tr '\n' ' ')"
echo "scanlite: open http://$host:$port/  (admin password: $data/admin-password, written at first start)"
exec ./scanlite serve --models weights --host "$host" --port "$port" \
    --db "$data/scanlite.db" --data-dir "$data"
