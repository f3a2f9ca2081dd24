#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <filesystem>

#include "common/assert.h"

namespace trolley::test_support {

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl = "/tmp/" + std::string(prefix) + "-XXXXXX";
  TROLLEY_ASSERT(::mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() { std::filesystem::remove_all(path_); }

}  // namespace trolley::test_support
