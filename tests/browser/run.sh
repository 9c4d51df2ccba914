#!/usr/bin/env bash
# Runs the console's browser test (tests/browser/board_test.py) against a running platform, after
# installing what it needs when missing, with apt-get (Debian packages only, no pip):
#   chromium           headless browser driven over the DevTools protocol
#   python3-websocket  the websocket client module, for Debian's /usr/bin/python3
# Environment: see board_test.py (CONSOLE_URL, CONSOLE_PASSWORD_OPERATOR, CONSOLE_TOKEN_OPERATOR,
# CONSOLE_ENV_FILE, BOARD_SCREENSHOT, BOARD_TEST_TIMEOUT, CHROMIUM).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
missing=()
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ! -x /usr/bin/python3 ]; then
  missing+=(python3 python3-websocket)
elif ! /usr/bin/python3 -c 'import websocket' >/dev/null 2>&1; then
  missing+=(python3-websocket)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[browser-test] installing with apt-get: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec /usr/bin/python3 tests/browser/board_test.py "$@"
