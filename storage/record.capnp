# The stored and transmitted form of one key's SiblingSet, and of a causal
# context handed to clients as an opaque token. storage/record_codec.h wraps
# each message in a 4-byte header (magic + format version); the wire protocol
# (wire/protocol.capnp) embeds these structs. storage/record_capnp.h holds
# the only code that reads or writes them.
#
# Evolving this schema (read before changing anything):
#
#  * Adding a field (a new ordinal at the end, with a default that means "the
#    old behaviour") needs no format-version bump. Old builds ignore it; new
#    builds read old records as if the field held its default. But an old
#    build decodes into C++ structs and re-encodes on every read-modify-write,
#    so it DROPS fields it does not know. Only add a field this way if losing
#    it on a rewrite by an old node (during a rolling upgrade) is harmless,
#    e.g. a hint or a cache.
#
#  * Bump kRecordFormatVersion (record_codec.h) when an old build must not
#    read the data: a field whose loss on rewrite would lose writes or move
#    causality backwards, a changed meaning or unit of an existing field,
#    or a different encoding after the header. Old builds then refuse the
#    record with FailedPrecondition instead of silently misreading it. A new
#    build must keep decoding every older version, and must keep writing the
#    old version until every node in the cluster can read the new one.
#
#  * Never renumber, retype or delete a field; never reuse an ordinal. Rename
#    freely (names are not on disk).

@0xbc8eab65f1328def;

$import "/capnp/c++.capnp".namespace("trolley::record");

# One entry of a version vector: every dot (actor, j <= counter) was seen.
struct VvEntry {
  actor @0 :UInt64;
  counter @1 :UInt64;  # >= 1
}

# One sibling: a value written concurrently with the others, and its dot.
struct SiblingRecord {
  actor @0 :UInt64;        # the dot
  counter @1 :UInt64;      # >= 1
  value @2 :Data;          # opaque bytes; empty (null) for a tombstone
  tombstone @3 :Bool;      # a delete
  writeId @4 :UInt64;      # the client's id for this logical write; 0 = none
  timestampMs @5 :UInt64;  # coordinator's wall clock when written, Unix ms
  expiryMs @6 :UInt64;     # wall-clock expiry, Unix ms; 0 = never
}

# A key's state on one replica. Encoded by the writer in canonical order:
# context sorted by actor without duplicates or zero counters, siblings
# sorted by dot; the decoder rejects anything else as corruption.
struct SiblingSetRecord {
  context @0 :List(VvEntry);
  siblings @1 :List(SiblingRecord);
}

# A causal context alone: the token a client gets on read and passes back
# on write.
struct ContextRecord {
  entries @0 :List(VvEntry);
}
