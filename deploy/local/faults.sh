#!/usr/bin/env bash
# The full-size fault-injection run (issue 6): FAULT_OTS OTs (default 400) through the whole
# lifecycle while services are killed with SIGKILL and the broker and the database restart once
# each (Tests/IntegrationTests/FaultInjectionTests.swift). CI runs the same test at its default
# size (120 OTs) as part of the integration tests.
#   bash deploy/local/faults.sh                          # 400 OTs, random seed (printed)
#   FAULT_SEED=123456 bash deploy/local/faults.sh        # replay a run's plan of faults
#   FAULT_OTS=1000 FAULT_KILLS=12 bash deploy/local/faults.sh
# Settings: FAULT_OTS, FAULT_KILLS (default 10 here), FAULT_OPEN_SECONDS, FAULT_TIMEOUT_SECONDS,
# FAULT_SEED. The broker and the database are restarted: the run holds /tmp/ot-integration.lock
# (the lock every integration run on this machine takes). Service logs: .build/test-logs/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OT_LOG_PREFIX=faults
# shellcheck source=common.sh
. deploy/local/common.sh

bash deploy/local/servers.sh
log "building (debug, with tests)"
if ! swift_build .build/faults-build.log --build-tests; then
  grep -E "error" .build/faults-build.log | head -50 || tail -50 .build/faults-build.log
  die "build failed (full log: .build/faults-build.log)"
fi
export FAULT_OTS="${FAULT_OTS:-400}" FAULT_KILLS="${FAULT_KILLS:-10}"
log "fault injection: FAULT_OTS=$FAULT_OTS FAULT_KILLS=$FAULT_KILLS${FAULT_SEED:+ FAULT_SEED=$FAULT_SEED}"
exec flock /tmp/ot-integration.lock swift test --skip-build --no-parallel --filter FaultInjectionTests
