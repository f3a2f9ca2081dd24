# The replication protocol on the wire: one Envelope per frame (wire/frame.h).
# wire/message_codec.h owns the only code that reads or writes these structs
# and converts them to and from the C++ messages of wire/messages.h, whose
# header says who sends what.
#
# Sibling sets and version vectors reuse the structs of storage/record.capnp
# (SiblingSetRecord, VvEntry), so a key's state has one schema on disk and on
# the wire. A change to those structs is therefore a wire change too.
#
# Evolving this schema:
#  * A new message is a new union member with the next ordinal. A peer that
#    does not know it decodes the envelope, sees an unknown member and
#    refuses it with "unknown message type N" (InvalidArgument); so a sender
#    only sends a new message to peers whose Hello announced a
#    protocol_version that knows it.
#  * A new field goes at the end of its struct with a default meaning "the
#    old behaviour"; old peers ignore it.
#  * Bump kProtocolVersion (wire/messages.h) when a field's meaning changes.
#  * Never renumber, retype or delete a field or union member; never reuse
#    an ordinal. Names may change freely.
#
# Conventions: byte strings that name data (namespaces, keys, values) are
# Data (any bytes); node ids, addresses and status messages are Text.
# Request ids are UInt64 chosen by the sender of the request.

@0xe244cd173e22ade4;

$import "/capnp/c++.capnp".namespace("trolley::wire");

using Record = import "/storage/record.capnp";

# trolley::StatusCode, value for value (message_codec.cc static_asserts it).
enum StatusCode {
  ok @0;
  notFound @1;
  unavailable @2;
  timeout @3;
  busy @4;
  corruption @5;
  ioError @6;
  invalidArgument @7;
  limitExceeded @8;
  failedPrecondition @9;
}

struct Hello {
  protocolVersion @0 :UInt32;
  nodeId @1 :Text;  # empty for clients
}

struct HelloReply {
  protocolVersion @0 :UInt32;
  nodeId @1 :Text;
}

struct ClientGet {
  id @0 :UInt64;
  ns @1 :Data;
  key @2 :Data;
  r @3 :UInt32;          # 0 = the namespace default
  timeoutMs @4 :UInt32;  # 0 = the node's default
  forwarded @5 :Bool;
}

struct ClientGetReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  state @3 :Record.SiblingSetRecord;
}

struct ClientPut {
  id @0 :UInt64;
  ns @1 :Data;
  key @2 :Data;
  context @3 :List(Record.VvEntry);  # sorted by actor, counters >= 1
  value @4 :Data;
  tombstone @5 :Bool;
  writeId @6 :UInt64;
  w @7 :UInt32;          # 0 = the namespace default
  timeoutMs @8 :UInt32;  # 0 = the node's default
  ttlMs @9 :UInt64;      # 0 = the namespace default
  forwarded @10 :Bool;
}

struct ClientPutReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  state @3 :Record.SiblingSetRecord;
}

# A cart mutation coordinated on the node (docs/design.md, 'The Cart API').
enum CartMutationKind {
  add @0;
  setQuantity @1;
  remove @2;
  clear @3;
  mergeGuest @4;   # merge `guest` into this cart (a guest-cart merge at login)
  markMerged @5;   # mark this (guest) cart merged into `mergedInto`
}

enum CartMergeStrategy {
  sum @0;
  max @1;
  keepUser @2;
}

struct CartAttribute {
  key @0 :Data;
  value @1 :Data;
}

struct CartUpdate {
  id @0 :UInt64;
  ns @1 :Data;
  cartId @2 :Data;
  kind @3 :CartMutationKind;
  sku @4 :Data;
  quantity @5 :UInt32;
  attributes @6 :List(CartAttribute);
  nowMs @7 :UInt64;       # the client's wall clock, Unix ms
  mutationId @8 :UInt64;  # nonzero; the same on every retry
  observed @9 :List(UInt64);  # or-set remove/set/clear: the tags of the view acted on
  w @10 :UInt32;          # 0 = the namespace default
  timeoutMs @11 :UInt32;  # 0 = the node's default
  forwarded @12 :Bool;
  ttlMs @13 :UInt64;      # 0 = the namespace default; every update refreshes it
  guest @14 :Data;        # mergeGuest: the guest cart's state (cart format, untrusted)
  strategy @15 :CartMergeStrategy;  # mergeGuest
  mergedInto @16 :Data;   # markMerged: the user cart, "ns/cart_id"
}

struct CartUpdateReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  state @3 :Record.SiblingSetRecord;
}

struct ReplicaGet {
  id @0 :UInt64;
  ns @1 :Data;
  key @2 :Data;
}

struct ReplicaGetReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  state @3 :Record.SiblingSetRecord;
  found @4 :Bool;
}

struct ReplicaWrite {
  id @0 :UInt64;
  ns @1 :Data;
  key @2 :Data;
  state @3 :Record.SiblingSetRecord;
  hintFor @4 :Text;  # non-empty: store as a hint for that node
  # Reply only once the write is durable (fsynced, even under `flush`), not
  # when it is committed: set by hint delivery, whose sender deletes its
  # hint on the reply. Old peers ignore it and reply on commit.
  durable @5 :Bool;
}

struct ReplicaWriteReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
}

struct Ping {
  nonce @0 :UInt64;
}

struct Pong {
  nonce @0 :UInt64;
}

struct RingInfoRequest {
  id @0 :UInt64;
}

struct Member {
  nodeId @0 :Text;
  address @1 :Text;  # "host:port"
}

struct NamespaceInfo {
  name @0 :Data;
  n @1 :UInt32;
  r @2 :UInt32;
  w @3 :UInt32;
  ttlMs @4 :UInt64;
  merge @5 :Text;  # "union-max" | "or-set"
}

struct RingInfoReply {
  id @0 :UInt64;
  ringVersion @1 :UInt64;
  owners @2 :List(Text);  # owners[p] owns partition p
  members @3 :List(Member);
  namespaces @4 :List(NamespaceInfo);
}

struct ErrorReply {
  id @0 :UInt64;  # 0 when the bad input had no readable request id
  code @1 :StatusCode;
  message @2 :Text;
}

struct StatusRequest {
  id @0 :UInt64;
}

struct PeerStatus {
  nodeId @0 :Text;
  up @1 :Bool;
  hintsPending @2 :UInt64;  # may be a lower bound (wire/messages.h)
}

struct StatusReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  nodeId @3 :Text;
  incarnation @4 :UInt64;
  actor @5 :UInt64;
  partitions @6 :UInt32;
  partitionsOwned @7 :UInt32;
  partitionsReplicated @8 :UInt32;
  hintsPending @9 :UInt64;
  hintsOldestMs @10 :UInt64;  # 0 if none
  pendingRequests @11 :UInt64;
  peers @12 :List(PeerStatus);
  # Obsolete since the node's counters moved to one registry (common/metrics.h):
  # never written, never read; kept so that their ordinals are never reused.
  putsOk @13 :UInt64;
  putsFailed @14 :UInt64;
  getsOk @15 :UInt64;
  getsFailed @16 :UInt64;
  forwarded @17 :UInt64;
  hintsStored @18 :UInt64;
  hintsDelivered @19 :UInt64;
  hintsDropped @20 :UInt64;
  readRepairs @21 :UInt64;
  fallbackWrites @22 :UInt64;
  # Every counter of the node's metric registry, in its registration order.
  counters @23 :List(NamedCounter);
  # Anti-entropy per (partition, peer), by partition; at most
  # kStatusAaePairsMax (wire/messages.h) of aaePairsTotal.
  aaePairs @24 :List(AaePairStatus);
  aaePairsTotal @25 :UInt32;
}

# What a node knows of its anti-entropy with one peer over one partition.
struct AaePairStatus {
  partition @0 :UInt32;
  peer @1 :Text;
  lastExchangeMs @2 :UInt64;       # 0 = never
  lastCleanExchangeMs @3 :UInt64;  # 0 = never
  exchanges @4 :UInt64;
  differingSegments @5 :UInt64;    # found by the last exchange
  keysRepaired @6 :UInt64;
}

# One counter of a node's metric registry (StatusReply.counters).
struct NamedCounter {
  name @0 :Text;   # [a-z0-9_]+, at most kCounterNameBytesMax bytes
  value @1 :UInt64;
}

# The root of every frame's payload.
# Anti-entropy (docs/design.md, 'Active anti-entropy'): node to node only.
# A partition of a ring of 2^log2Partitions is a run of C tree segments;
# a group is min(64, C) of them.
enum AaeLevel {
  root @0;      # one hash: the partition's
  groups @1;    # every group's hash, in order
  segments @2;  # the segments of the groups named, group after group
}

struct AaeHashRequest {
  id @0 :UInt64;
  partition @1 :UInt32;
  log2Partitions @2 :UInt32;
  level @3 :AaeLevel;
  groups @4 :List(UInt32);  # level segments: group indices within the partition
}

struct AaeHashReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  hashes @3 :List(UInt64);
}

struct AaeKeysRequest {
  id @0 :UInt64;
  partition @1 :UInt32;
  log2Partitions @2 :UInt32;
  segments @3 :List(UInt32);  # indices within the partition
}

struct AaeKeyVersion {
  ns @0 :Data;
  key @1 :Data;
  version @2 :UInt64;  # nonzero: the key's live version (storage/aae_tree.h)
}

struct AaeKeysReply {
  id @0 :UInt64;
  code @1 :StatusCode;
  message @2 :Text;
  keys @3 :List(AaeKeyVersion);
}

struct Envelope {
  union {
    hello @0 :Hello;
    helloReply @1 :HelloReply;
    clientGet @2 :ClientGet;
    clientGetReply @3 :ClientGetReply;
    clientPut @4 :ClientPut;
    clientPutReply @5 :ClientPutReply;
    replicaGet @6 :ReplicaGet;
    replicaGetReply @7 :ReplicaGetReply;
    replicaWrite @8 :ReplicaWrite;
    replicaWriteReply @9 :ReplicaWriteReply;
    ping @10 :Ping;
    pong @11 :Pong;
    ringInfoRequest @12 :RingInfoRequest;
    ringInfoReply @13 :RingInfoReply;
    errorReply @14 :ErrorReply;
    statusRequest @15 :StatusRequest;  # admin tools to a node; never node to node
    statusReply @16 :StatusReply;
    cartUpdate @17 :CartUpdate;  # clients to a node; forwarded once like clientPut
    cartUpdateReply @18 :CartUpdateReply;
    aaeHashRequest @19 :AaeHashRequest;  # node to node only (anti-entropy)
    aaeHashReply @20 :AaeHashReply;
    aaeKeysRequest @21 :AaeKeysRequest;  # node to node only (anti-entropy)
    aaeKeysReply @22 :AaeKeysReply;
  }
}
