// LmdbEngine's reads: each runs on the caller's thread in its own read
// transaction, which holds the map-resize lock shared (lmdb_engine_impl.h).
#include <spdlog/spdlog.h>

#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine_impl.h"
#include "storage/record_codec.h"

namespace trolley {

Result<Hint> DecodeHint(std::string_view raw_key, std::string_view raw_value) {
  auto key = key_layout::DecodeHintKey(raw_key);
  if (!key.ok()) return key.status();
  auto created_ms = key_layout::HintValueCreatedMs(raw_value);
  if (!created_ms.ok()) return created_ms.status();
  auto state = DecodeSiblingSet(key_layout::HintValueRecord(raw_value));
  if (!state.ok()) return state.status();
  Hint hint;
  hint.target = std::move(key->target);
  hint.key = std::move(key->key);
  hint.state = std::move(state).value();
  hint.created_ms = *created_ms;
  return hint;
}

LmdbEngine::Impl::ReadTxn::ReadTxn(Impl& impl) : lock_(impl.resize_mu_) {
  rc_ = mdb_txn_begin(impl.env_, nullptr, MDB_RDONLY, &txn_);
  if (rc_ != 0) txn_ = nullptr;
}

Status LmdbEngine::Impl::ReadTxn::status(const Impl& impl) const {
  if (rc_ == 0) return Status::Ok();
  if (rc_ == MDB_READERS_FULL) {
    return Status::Busy("LMDB readers table full in " + impl.options_.path +
                        " (storage.max_readers = " + std::to_string(impl.options_.max_readers) +
                        "): raise max_readers");
  }
  return Status::IOError("cannot start a read in " + impl.options_.path + ": " + LmdbError(rc_));
}

LmdbEngine::Impl::ReadCursor::ReadCursor(Impl& impl, MDB_dbi dbi, std::string_view what)
    : txn_(impl) {
  status_ = txn_.status(impl);
  if (!status_.ok()) return;
  cursor_.emplace(txn_.get(), dbi);
  if (cursor_->rc() != 0) {
    status_ = Status::IOError("cannot " + std::string(what) + ": " + LmdbError(cursor_->rc()));
  }
}

Result<SiblingSet> LmdbEngine::Impl::Get(const ObjectKey& key) {
  if (Status s = ValidateObjectKey(key); !s.ok()) return s;
  const std::string raw_key = key_layout::EncodeObjectKey(key);
  Result<SiblingSet> out = Status::NotFound(key.ns + "/" + key.key);
  bool expired = false;
  {
    ReadTxn txn(*this);
    if (Status s = txn.status(*this); !s.ok()) return s;
    MDB_val k = Val(raw_key), v;
    const int rc = mdb_get(txn.get(), objects_, &k, &v);
    if (rc == MDB_NOTFOUND) return out;
    if (rc != 0) {
      return Status::IOError("read of " + key.ns + "/" + key.key + " failed: " + LmdbError(rc));
    }
    auto decoded = DecodeSiblingSet(View(v));
    if (!decoded.ok()) {
      return Status::Corruption("stored state of " + key.ns + "/" + key.key +
                                " does not decode: " + decoded.status().message());
    }
    expired = decoded->FullyExpiredAt(NowMs());
    if (!expired) out = std::move(decoded).value();
  }
  if (expired) Submit(Op{EngineOp::Expire(key)});
  return out;
}

Result<ScanPage> LmdbEngine::Impl::Scan(uint64_t first_hash, uint64_t last_hash,
                                        const ObjectKey* resume_after, size_t limit) {
  ScanPage page;
  ReadCursor cursor(*this, objects_, "scan " + options_.path);
  if (Status s = cursor.status(); !s.ok()) return s;
  int rc = 0;
  const std::string seek = resume_after != nullptr ? key_layout::ObjectKeySeekAfter(*resume_after)
                                                   : key_layout::ObjectKeySeek(first_hash);
  MDB_val k = Val(seek), v;
  const uint64_t now = NowMs();
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    const Result<uint64_t> hash = key_layout::ObjectKeyHash(View(k));
    if (!hash.ok() || *hash < first_hash) continue;
    if (*hash > last_hash) break;
    if (page.entries.size() >= limit) {
      page.more = true;
      break;
    }
    auto key = key_layout::DecodeObjectKey(View(k));
    auto state = DecodeSiblingSet(View(v));
    if (!key.ok() || !state.ok()) {
      spdlog::error("storage.undecodable_record path={} skipped during scan", options_.path);
      continue;
    }
    if (state->FullyExpiredAt(now)) continue;
    page.entries.push_back(KeyState{std::move(key).value(), std::move(state).value()});
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return Status::IOError("scan failed: " + LmdbError(rc));
  return page;
}

Result<std::vector<Hint>> LmdbEngine::Impl::ListHints(std::string_view target, size_t limit) {
  std::vector<Hint> out;
  ReadCursor cursor(*this, hints_, "read hints");
  if (Status s = cursor.status(); !s.ok()) return s;
  int rc = 0;
  const std::string prefix = key_layout::HintKeyPrefix(target);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE); rc == 0 && out.size() < limit;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    if (!View(k).starts_with(prefix)) break;
    auto hint = DecodeHint(View(k), View(v));
    if (!hint.ok()) {
      spdlog::error("storage.undecodable_hint target={} error={}", target,
                    hint.status().ToString());
      continue;
    }
    out.push_back(std::move(hint).value());
  }
  return out;
}

Result<std::vector<std::string>> LmdbEngine::Impl::HintTargets() {
  std::vector<std::string> out;
  ReadCursor cursor(*this, hints_, "read hints");
  if (Status s = cursor.status(); !s.ok()) return s;
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST);
  while (rc == 0) {
    Result<std::string> target = key_layout::HintKeyTarget(View(k));
    if (!target.ok()) break;
    out.push_back(std::move(target).value());
    // Jump past every hint of this target.
    const std::string next = key_layout::PrefixSuccessor(key_layout::HintKeyPrefix(out.back()));
    if (next.empty()) break;
    k = Val(next);
    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
  }
  return out;
}

Result<HintStats> LmdbEngine::Impl::HintStatsNow() {
  HintStats stats;
  ReadCursor cursor(*this, hints_, "read hints");
  if (Status s = cursor.status(); !s.ok()) return s;
  int rc = 0;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    ++stats.count;
    const Result<uint64_t> created = key_layout::HintValueCreatedMs(View(v));
    if (!created.ok()) continue;
    if (stats.oldest_created_ms == 0 || *created < stats.oldest_created_ms) {
      stats.oldest_created_ms = *created;
    }
  }
  return stats;
}

}  // namespace trolley
