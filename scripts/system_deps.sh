#!/usr/bin/env bash
# Debian packages vadkit uses beside its Python dependencies, installed once (idempotent):
#   chromium        headless browser that checks the rendered book (tests/test_book.py)
#   opencv-doc      only downloaded (not installed): carries vtest.avi, real surveillance footage
# Without root or apt, it says what is missing and carries on; the tests that need it then skip.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "vadkit: optional system packages missing: ${need[*]} (install them with your package manager)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "vadkit: could not install ${need[*]}; the book's browser check will be skipped" >&2
exit 0
