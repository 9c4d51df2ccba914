#!/usr/bin/env bash
# STUB — the Swift engineers refine this. Brings up the local servers, builds, runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deploy/local/servers.sh
swift build --build-tests
swift test --parallel
