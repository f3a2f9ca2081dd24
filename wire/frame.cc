#include "wire/frame.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/assert.h"

namespace trolley {

void AppendFrameHeader(std::string& out, uint32_t payload_bytes) {
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) {
    out.push_back(static_cast<char>((payload_bytes >> (8 * i)) & 0xff));
  }
}

void AppendFrame(std::string& out, std::string_view payload) {
  TROLLEY_ASSERT(payload.size() <= std::numeric_limits<uint32_t>::max());
  AppendFrameHeader(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
}

FrameDecoder::FrameDecoder(uint32_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}

Status FrameDecoder::Feed(std::string_view bytes) {
  if (!error_.ok()) return error_;
  while (!bytes.empty()) {
    if (header_bytes_ < kFrameHeaderBytes) {
      Status s = TakeHeader(bytes);
      if (!s.ok()) return s;
    } else {
      TakePayload(bytes);
    }
  }
  return Status::Ok();
}

Status FrameDecoder::TakeHeader(std::string_view& bytes) {
  const size_t take = std::min(kFrameHeaderBytes - header_bytes_, bytes.size());
  std::copy_n(bytes.data(), take, header_ + header_bytes_);
  header_bytes_ += take;
  bytes.remove_prefix(take);
  if (header_bytes_ < kFrameHeaderBytes) return Status::Ok();

  uint32_t length = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) {
    length |= static_cast<uint32_t>(static_cast<uint8_t>(header_[i])) << (8 * i);
  }
  if (length > frame_bytes_max_) {
    error_ =
        Status::InvalidArgument("frame of " + std::to_string(length) +
                                " bytes exceeds the limit of " + std::to_string(frame_bytes_max_));
    return error_;
  }
  payload_bytes_ = length;
  TROLLEY_ASSERT(payload_.empty());
  if (length == 0) CompleteFrame();
  return Status::Ok();
}

void FrameDecoder::TakePayload(std::string_view& bytes) {
  TROLLEY_ASSERT(payload_.size() < payload_bytes_);
  const size_t take = std::min<size_t>(payload_bytes_ - payload_.size(), bytes.size());
  if (payload_.size() + take > payload_reserved_) Grow(payload_.size() + take);
  payload_.append(bytes.data(), take);
  bytes.remove_prefix(take);
  if (payload_.size() == payload_bytes_) CompleteFrame();
}

// Geometric growth that never passes the announced length. std::string's
// own growth may round a reserve() up to twice the old capacity, so each
// step reserves a fresh string (whose capacity is then what was asked for)
// and moves the bytes over: the same copy a reallocation makes.
void FrameDecoder::Grow(size_t need) {
  const size_t target =
      std::min<size_t>(payload_bytes_, std::max({need, 2 * payload_reserved_, kFrameInitialBytes}));
  TROLLEY_ASSERT(target >= need);
  std::string bigger;
  bigger.reserve(target);
  bigger.append(payload_);
  payload_.swap(bigger);
  payload_reserved_ = target;
}

void FrameDecoder::CompleteFrame() {
  TROLLEY_ASSERT(header_bytes_ == kFrameHeaderBytes);
  TROLLEY_ASSERT(payload_.size() == payload_bytes_);
  ready_bytes_ += payload_.size();
  ready_.push_back(std::exchange(payload_, std::string()));
  payload_reserved_ = 0;
  header_bytes_ = 0;
  payload_bytes_ = 0;
}

Result<std::optional<std::string>> FrameDecoder::Next() {
  if (ready_.empty()) {
    if (!error_.ok()) return error_;
    return std::optional<std::string>();
  }
  std::string frame = std::move(ready_.front());
  ready_.pop_front();
  TROLLEY_ASSERT(ready_bytes_ >= frame.size());
  ready_bytes_ -= frame.size();
  return std::optional<std::string>(std::move(frame));
}

size_t FrameDecoder::buffered_bytes() const {
  return header_bytes_ + payload_reserved_ + ready_bytes_;
}

}  // namespace trolley
