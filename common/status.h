// Status and Result<T>: how Trolley reports expected failures.
//
// A Status is either ok or a code plus a message written for the person who
// has to act on it ("LMDB map full at 1024 MiB: raise storage.map_size_mb").
// Expected conditions (not found, timeouts, a full disk, bad input from the
// network) are values, never exceptions; bugs are assertions (assert.h).
// Shaped like LevelDB's Status. Cheap to copy when ok.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace trolley {

enum class StatusCode : int {
  kOk = 0,
  kNotFound,
  kUnavailable,         // a quorum is not reachable
  kTimeout,             // no answer in time; the operation may still have happened
  kBusy,                // a bounded resource is full; retry later
  kCorruption,          // stored or received bytes do not decode
  kIOError,             // the disk or the OS failed (disk full, EIO, ...)
  kInvalidArgument,     // the caller's input is wrong; retrying will not help
  kLimitExceeded,       // a configured limit (siblings, object size) refuses the write
  kFailedPrecondition,  // the environment is not in a usable state (locked, newer format)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status LimitExceeded(std::string m) { return {StatusCode::kLimitExceeded, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }

  // "IOError: disk full while committing to /data/n1" (or "OK").
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    TROLLEY_ASSERT(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    TROLLEY_ASSERT(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    TROLLEY_ASSERT(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    TROLLEY_ASSERT(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace trolley
