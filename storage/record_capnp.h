// Conversions between SiblingSet / VersionVector and their Cap'n Proto
// records (storage/record.capnp), for every codec that embeds them: the
// stored record (record_codec.h) and the wire protocol (wire/).
//
// Writers take canonical values (they assert the invariants). Readers take
// untrusted records and return Corruption, naming what is wrong, for
// anything our writers never produce: context entries unsorted, duplicated
// or zero; a tombstone with a value; siblings that break SiblingSet's
// invariants. Readers may throw kj::Exception on malformed messages: the
// caller owns the capnp::MessageReader and its limits, and catches.
#pragma once

#include "common/status.h"
#include "storage/record.capnp.h"
#include "storage/sibling_set.h"
#include "storage/version_vector.h"

namespace trolley {

// `list` must have been initialized with vv.size() elements.
void WriteContextRecord(const VersionVector& vv, capnp::List<record::VvEntry>::Builder list);
// Empty lists stay null pointers: they read back as empty and cost no tag word.
void WriteSiblingSetRecord(const SiblingSet& set, record::SiblingSetRecord::Builder out);

Result<VersionVector> ReadContextRecord(capnp::List<record::VvEntry>::Reader list);
Result<SiblingSet> ReadSiblingSetRecord(record::SiblingSetRecord::Reader in);

}  // namespace trolley
