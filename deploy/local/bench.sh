#!/usr/bin/env bash
# Sets up the local servers (idempotent), builds otbench, the services (commercial, approval,
# dispatch, billing, postsale, priority, records) and the C baseline in release mode, and runs the benchmark. Arguments go to
# otbench (see --help), e.g.
#   bash deploy/local/bench.sh --skip-c --commands 50000
#   bash deploy/local/bench.sh --skip-c --skip-wrapper --skip-hop --lifecycles 5000 --skip-billing
#   BATCH_SIZE=128 WORKERS=8 bash deploy/local/bench.sh --skip-c    # service tunables pass through
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deploy/local/servers.sh
# `swift build` honours only the last --product given: build each one.
for product in otbench commercial approval dispatch billing postsale priority records amqp-c-baseline; do
  swift build -c release --product "$product"
done
exec .build/release/otbench "$@"
