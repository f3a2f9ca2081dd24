#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the demo.
# For now the demo is the storage engine on its own (a local cluster comes
# with the replication work): it writes carts, shows siblings, resolves
# them, expires a guest cart and sweeps, in ./data/demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${TROLLEY_JOBS:-2}" --target trolley-storage-demo
./build/tools/trolley-storage-demo --data-dir ./data/demo "$@"
