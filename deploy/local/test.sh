#!/usr/bin/env bash
# The test command (README quick start, CI): sets up and starts RabbitMQ and PostgreSQL if needed
# (installing them with apt-get on a fresh machine), builds everything, and runs the whole test
# suite — unit tests and integration tests against the real servers.
#
# Integration tests restart the broker and the database, so tests run one at a time
# (--no-parallel). Service logs of the integration tests land in .build/test-logs/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bash deploy/local/servers.sh
# shellcheck source=common.sh
OT_LOG_PREFIX=test
. deploy/local/common.sh
log "building (debug, with tests; a first build takes several minutes)"
if ! swift_build .build/test-build.log --build-tests; then
  grep -E "error" .build/test-build.log | head -50 || tail -50 .build/test-build.log
  echo "[test] build failed (full log: .build/test-build.log)"; exit 1
fi
# Our own code builds without warnings (dependencies' warnings are theirs).
if grep -E "^/.*/(Shared|Services|Tests)/.*: warning:" .build/test-build.log | grep -v "/.build/"; then
  echo "[test] the build has warnings in the project's code (treated as errors)"; exit 1
fi
echo "[test] running the test suite"
swift test --skip-build --no-parallel "$@"
