// TempDir: a fresh directory under /tmp for one test (mkdtemp), removed with
// everything in it when the TempDir is destroyed. Asserts that it could be
// made.
#pragma once

#include <string>
#include <string_view>

namespace trolley::test_support {

class TempDir {
 public:
  // Makes /tmp/<prefix>-XXXXXX, the X's chosen by mkdtemp.
  explicit TempDir(std::string_view prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace trolley::test_support
