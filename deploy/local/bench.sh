#!/usr/bin/env bash
# Sets up the local servers (idempotent), builds otbench, the services (commercial, approval,
# dispatch, billing, postsale, priority, records, console) and the C baseline in release mode, installs wrk (the console's
# API run) if it is missing, and runs the benchmark. Arguments go to
# otbench (see --help), e.g.
#   bash deploy/local/bench.sh --skip-c --commands 50000
#   bash deploy/local/bench.sh --skip-c --skip-wrapper --skip-hop --lifecycles 5000 --skip-billing
#   BATCH_SIZE=128 WORKERS=8 bash deploy/local/bench.sh --skip-c    # service tunables pass through
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deploy/local/servers.sh
# wrk drives the console's API (the benchmark skips that part without it).
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 \
    || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; } \
    || echo "bench: could not install wrk; the console part runs without it" >&2
fi
# `swift build` honours only the last --product given: build each one.
for product in otbench commercial approval dispatch billing postsale priority records console amqp-c-baseline; do
  swift build -c release --product "$product"
done
exec .build/release/otbench "$@"
