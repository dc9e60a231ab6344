#!/bin/sh
# deps.sh PKG... [-- TESTPKG...] — install missing Debian packages with
# apt-get (idempotent; silent when everything is present). Test packages are
# installed too, unless SCANLITE_NO_TEST_DEPS=1.
set -eu
missing=""
for p in "$@"; do
    [ "$p" = "--" ] && { [ "${SCANLITE_NO_TEST_DEPS:-0}" = 1 ] && break; continue; }
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) # a tool installed some other way (e.g. node, npm) counts as present
       command -v "$p" >/dev/null 2>&1 || missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
