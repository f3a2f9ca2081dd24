#include "common/status.h"

#include "common/enum_names.h"

namespace trolley {

namespace {

constexpr EnumName<StatusCode> kStatusCodeNames[] = {
    {StatusCode::kOk, "OK"},
    {StatusCode::kNotFound, "NotFound"},
    {StatusCode::kUnavailable, "Unavailable"},
    {StatusCode::kTimeout, "Timeout"},
    {StatusCode::kBusy, "Busy"},
    {StatusCode::kCorruption, "Corruption"},
    {StatusCode::kIOError, "IOError"},
    {StatusCode::kInvalidArgument, "InvalidArgument"},
    {StatusCode::kLimitExceeded, "LimitExceeded"},
    {StatusCode::kFailedPrecondition, "FailedPrecondition"}};

}  // namespace

std::string_view StatusCodeName(StatusCode code) { return NameOf(kStatusCodeNames, code); }

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace trolley
