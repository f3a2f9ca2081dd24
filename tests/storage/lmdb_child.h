// For the child processes of the LMDB crash and failure tests (this binary
// re-executed, tests/support/child_process.h): opening the engine, or
// telling the parent why not.
#pragma once

#include <memory>
#include <utility>

#include "storage/lmdb/lmdb_engine.h"
#include "tests/support/child_process.h"

namespace trolley::test_support {

// Opens the engine of `options`; if that fails, writes "ERROR open:
// <status>" to the parent's report channel `report_fd` and returns nullptr.
inline std::unique_ptr<LmdbEngine> OpenOrReport(const LmdbEngineOptions& options, int report_fd) {
  auto opened = LmdbEngine::Open(options);
  if (!opened.ok()) {
    WriteReportLine(report_fd, "ERROR open: " + opened.status().ToString());
    return nullptr;
  }
  return std::move(opened).value();
}

}  // namespace trolley::test_support
