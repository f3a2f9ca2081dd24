// MakeDevCerts: certificates for TLS tests, made by the project's own
// scripts/dev-certs.sh (the openssl command), so tests use the layout
// operators get: DIR/ca.pem, DIR/node-<id>.pem/.key,
// DIR/client-<name>.pem/.key. The script's path comes from the
// TROLLEY_SOURCE_DIR compile definition of trolley_test_support.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace trolley::test_support {

// Runs `dev-certs.sh dir args...`; IOError with the command if it fails.
Status MakeDevCerts(const std::string& dir, const std::vector<std::string>& args);

}  // namespace trolley::test_support
