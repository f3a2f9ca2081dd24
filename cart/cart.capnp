# The stored form of one shopping cart (cart/cart_state.h): the opaque value
# the store keeps in each sibling of a cart key. cart/cart_codec.cc wraps it
# in a 4-byte header ("TK" + u16 format version) and is the only code that
# reads or writes it.
#
# Evolving this schema follows the rules at the top of storage/record.capnp:
# a new field at a new ordinal whose loss on a rewrite by an old client is
# harmless needs no version bump; anything whose loss would lose a cart
# mutation or resurrect a removed line (a new kind of contribution, a change
# of meaning or unit) bumps kCartFormatVersion (cart_state.h) so old clients
# refuse the value instead of silently misreading it. Never renumber, retype
# or delete a field; never reuse an ordinal.

@0xa243e15b309ba349;

$import "/capnp/c++.capnp".namespace("trolley::cart_record");

enum Semantics {
  unionMax @0;  # Dynamo §6.1: union of lines, largest quantity
  orSet @1;     # observed-remove, add-wins
}

enum ContributionKind {
  add @0;  # "+n"
  set @1;  # "quantity is n"
}

struct Attribute {
  key @0 :Text;    # non-empty
  value @1 :Text;  # null when empty
}

# One contribution to a line's quantity, named by the mutation that made it.
struct Contribution {
  tag @0 :UInt64;        # the mutation id; nonzero
  kind @1 :ContributionKind;
  quantity @2 :UInt32;   # >= 1
  atMs @3 :UInt64;       # the mutation's now_ms
  attributes @4 :List(Attribute);  # sorted by key, unique; null when empty
}

struct Line {
  sku @0 :Text;                          # non-empty
  contributions @1 :List(Contribution);  # sorted by tag; union-max: exactly one
}

struct AppliedMutation {
  id @0 :UInt64;    # nonzero
  atMs @1 :UInt64;  # the mutation's now_ms
}

# Canonical order, which the decoder checks: lines by sku, contributions by
# tag, removed tags ascending, applied by id, no duplicates anywhere.
struct CartRecord {
  semantics @0 :Semantics;
  lines @1 :List(Line);
  removedTags @2 :List(UInt64);       # OR-Set tombstones; always null for union-max
  applied @3 :List(AppliedMutation);  # the idempotence window
  mergedInto @4 :Text;                # null unless this guest cart was merged
}
