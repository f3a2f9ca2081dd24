// LmdbEngine's anti-entropy index and tree (lmdb_engine_impl.h;
// docs/design.md, 'Active anti-entropy'). The aae_index database holds each
// object's version (storage/key_layout.h); tree_ is the XOR of their
// contributions, kept in memory and moved by each commit's deltas.
#include <spdlog/spdlog.h>

#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine_impl.h"
#include "storage/record_codec.h"

namespace trolley {

Status LmdbEngine::Impl::InitAaeIndex(MDB_txn* txn) {
  int rc = mdb_dbi_open(txn, "aae_index", MDB_CREATE, &aae_index_);
  uint64_t built = 0;
  if (rc == 0 && !GetMetaU64(txn, key_layout::kMetaAaeIndexBuilt, &built)) {
    uint64_t keys = 0;
    rc = BuildAaeIndex(txn, &keys);
    if (rc == 0) rc = PutMetaU64(txn, key_layout::kMetaAaeIndexBuilt, 1);
    if (rc == 0) spdlog::info("storage.aae_index_built path={} keys={}", options_.path, keys);
  }
  if (rc == 0) rc = LoadAaeTree(txn);
  if (rc != 0) return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  return Status::Ok();
}

int LmdbEngine::Impl::BuildAaeIndex(MDB_txn* txn, uint64_t* keys) {
  if (const int rc = mdb_drop(txn, aae_index_, 0); rc != 0) return rc;
  LmdbCursor cursor(txn, objects_);
  if (cursor.rc() != 0) return cursor.rc();
  MDB_val k, v;
  int rc = 0;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    auto state = DecodeSiblingSet(View(v));
    if (!state.ok()) continue;  // a merge will replace it, and index it
    const uint64_t version = VersionHash(*state, 0);
    if (version == 0) continue;
    const std::string bytes = key_layout::EncodeU64Be(version);
    MDB_val value = Val(bytes);
    if ((rc = mdb_put(txn, aae_index_, &k, &value, 0)) != 0) return rc;
    ++*keys;
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int LmdbEngine::Impl::LoadAaeTree(MDB_txn* txn) {
  LmdbCursor cursor(txn, aae_index_);
  if (cursor.rc() != 0) return cursor.rc();
  AaeTree tree;
  uint64_t keys = 0;
  MDB_val k, v;
  int rc = 0;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    const Result<uint64_t> hash = key_layout::ObjectKeyHash(View(k));
    const Result<uint64_t> version = key_layout::DecodeU64Be(View(v), "aae_index version");
    if (!hash.ok() || !version.ok()) continue;  // the next sweep rewrites it
    tree.Apply(*hash, KeyContribution(View(k), *version));
    ++keys;
  }
  if (rc != MDB_NOTFOUND) return rc;
  std::lock_guard lk(tree_mu_);
  tree_ = std::move(tree);
  aae_rebuilt_keys_ += keys;
  spdlog::info("storage.aae_tree_loaded path={} keys={}", options_.path, keys);
  return 0;
}

int LmdbEngine::Impl::IndexedVersion(MDB_txn* txn, std::string_view raw_key, uint64_t* version) {
  MDB_val k = Val(raw_key), v;
  const int rc = mdb_get(txn, aae_index_, &k, &v);
  *version = 0;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  const Result<uint64_t> decoded = key_layout::DecodeU64Be(View(v), "aae_index version");
  if (decoded.ok()) *version = *decoded;
  return 0;
}

int LmdbEngine::Impl::SetIndexedVersion(MDB_txn* txn, const std::string& raw_key,
                                        uint64_t version) {
  uint64_t old = 0;
  if (const int rc = IndexedVersion(txn, raw_key, &old); rc != 0) return rc;
  if (old == version) return 0;
  MDB_val k = Val(raw_key);
  int rc = 0;
  if (version == 0) {
    rc = mdb_del(txn, aae_index_, &k, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;
  } else {
    const std::string bytes = key_layout::EncodeU64Be(version);
    MDB_val v = Val(bytes);
    rc = mdb_put(txn, aae_index_, &k, &v, 0);
  }
  if (rc != 0) return rc;
  const Result<uint64_t> hash = key_layout::ObjectKeyHash(raw_key);
  TROLLEY_ASSERT(hash.ok());  // encoded by this engine
  tree_deltas_.emplace_back(*hash,
                            KeyContribution(raw_key, old) ^ KeyContribution(raw_key, version));
  return 0;
}

int LmdbEngine::Impl::VerifyIndexed(MDB_txn* txn, std::string_view raw_key, const SiblingSet& state,
                                    uint64_t now, SweepReport* report) {
  uint64_t indexed = 0;
  if (const int rc = IndexedVersion(txn, raw_key, &indexed); rc != 0) return rc;
  const uint64_t live = VersionHash(state, now);
  if (indexed == live) return 0;
  // As written (expiry since then is drift the tree is allowed; rehashing
  // it here spares the exchange a repair), or wrong.
  if (indexed != VersionHash(state, 0)) ++report->aae_index_fixed;
  return SetIndexedVersion(txn, std::string(raw_key), live);
}

void LmdbEngine::Impl::ApplyTreeDeltas() {
  if (tree_deltas_.empty()) return;
  std::lock_guard lk(tree_mu_);
  for (const auto& [hash, delta] : tree_deltas_) tree_.Apply(hash, delta);
  tree_deltas_.clear();
}

std::vector<uint64_t> LmdbEngine::Impl::AaeSegments(uint32_t first, uint32_t count) {
  std::lock_guard lk(tree_mu_);
  return tree_.Segments(first, count);
}

std::vector<uint64_t> LmdbEngine::Impl::AaeBranches(uint32_t first, uint32_t count) {
  std::lock_guard lk(tree_mu_);
  return tree_.Branches(first, count);
}

Result<std::vector<AaeKeyVersion>> LmdbEngine::Impl::AaeSegmentKeys(uint32_t segment) {
  const uint64_t first = AaeTree::SegmentFirstHash(segment);
  const uint64_t last = AaeTree::SegmentLastHash(segment);
  std::vector<AaeKeyVersion> out;
  ReadTxn txn(*this);
  if (Status s = txn.status(*this); !s.ok()) return s;
  LmdbCursor cursor(txn.get(), objects_);
  if (cursor.rc() != 0)
    return Status::IOError("aae segment read failed: " + LmdbError(cursor.rc()));
  const std::string seek = key_layout::ObjectKeySeek(first);
  MDB_val k = Val(seek), v;
  const uint64_t now = NowMs();
  int rc = 0;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
    const Result<uint64_t> hash = key_layout::ObjectKeyHash(View(k));
    if (!hash.ok()) continue;
    if (*hash > last) break;
    auto key = key_layout::DecodeObjectKey(View(k));
    auto state = DecodeSiblingSet(View(v));
    if (!key.ok() || !state.ok()) continue;  // a merge from a peer replaces it
    AaeKeyVersion entry{std::move(key).value(), VersionHash(*state, now), 0};
    if ((rc = IndexedVersion(txn.get(), View(k), &entry.tree_version)) != 0) break;
    if (entry.version == 0 && entry.tree_version == 0) continue;
    out.push_back(std::move(entry));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return Status::IOError("aae segment read failed: " + LmdbError(rc));
  }
  return out;
}

AaeTreeStats LmdbEngine::Impl::AaeStats() const {
  AaeTreeStats stats;
  stats.rebuilds = 1;  // each open loads the tree once
  stats.rebuilt_keys = aae_rebuilt_keys_.load();
  stats.verify_fixed = aae_verify_fixed_.load();
  return stats;
}

}  // namespace trolley
