#include "tests/support/dev_certs.h"

#include <cstdlib>

namespace trolley::test_support {

Status MakeDevCerts(const std::string& dir, const std::vector<std::string>& args) {
  std::string command = "bash '" TROLLEY_SOURCE_DIR "/scripts/dev-certs.sh' '" + dir + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  const int rc = std::system(command.c_str());
  if (rc != 0) return Status::IOError("'" + command + "' failed with " + std::to_string(rc));
  return Status::Ok();
}

}  // namespace trolley::test_support
