# The stored form of one shopping cart (cart/cart_state.h): the opaque value
# the store keeps in each sibling of a cart key. cart/cart_codec.cc wraps it
# in a 4-byte header ("TK" + u16 format version) and is the only code that
# reads or writes it. Format version 1 is a CartRecord; version 2 (written
# since 2026-11) is a CartColumns: the same state in about 40% of the bytes.
# Version 3 (written since 2026-12) is a CartColumns whose removedTags and
# applied are null and whose contextSessions / contextDots hold the cart's
# causal context (cart/cart_context.h): no tombstones.
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

# Format version 1. Canonical order, which the decoder checks: lines by
# sku, contributions by tag, removed tags ascending, applied by id, no
# duplicates anywhere.
struct CartRecord {
  semantics @0 :Semantics;
  lines @1 :List(Line);
  removedTags @2 :List(UInt64);       # OR-Set tombstones; always null for union-max
  applied @3 :List(AppliedMutation);  # the idempotence window
  mergedInto @4 :Text;                # null unless this guest cart was merged
}

# Format version 2: the state of a CartRecord in columns. A cart is mostly
# one-contribution lines, and a struct per line and per contribution (with
# pointers and padding) made version 1 about 70 bytes a line plus 16 an
# applied id. Here a line costs its sku's bytes plus 8, a contribution 20.
#
# Lines are in sku order; contributions are listed line by line, each line's
# by tag. Canonical as version 1: empty lists, data and texts left null.
struct CartColumns {
  semantics @0 :Semantics;
  skus @1 :Data;             # the lines' skus, concatenated
  lines @2 :List(UInt32);    # two per line: its sku's length (>= 1), then its
                             # number of contributions (>= 1; union-max: 1)
  contributions @3 :List(UInt64);  # two per contribution: its tag (the
                                   # mutation id, nonzero), then its atMs
  quantities @4 :List(UInt32);     # one per contribution: bit 31 set for a
                                   # "set", clear for an "add"; bits 0-30 the
                                   # quantity, >= 1 (union-max: all "set")
  attributes @5 :List(ContributionAttributes);  # only contributions with some
  removedTags @6 :List(UInt64);        # as CartRecord; version 3: null
  applied @7 :List(AppliedMutation);   # as CartRecord; version 3: null
  mergedInto @8 :Text;                 # as CartRecord
  # Version 3: the causal context. One id per session, its largest counter
  # (the session's ids 1..counter are covered), ascending by session; then
  # the other covered ids, ascending. Canonical as cart_context.h says.
  contextSessions @9 :List(UInt64);
  contextDots @10 :List(UInt64);
}

struct ContributionAttributes {
  contribution @0 :UInt32;         # its index (0-based, in listed order); ascending, unique
  attributes @1 :List(Attribute);  # non-empty, sorted by key, unique
}

# An OR-Set cart stored as a head and one record per line (cart/cart_lines.h;
# docs/design.md, 'Size-independent writes'). Each record is framed like a
# cart value, with magic "TH" (a head) or "TL" (a line) and its own format
# version (1). A line's sku is its key, not in the record.
struct CartHeadRecord {
  contextSessions @0 :List(UInt64);  # as CartColumns
  contextDots @1 :List(UInt64);      # as CartColumns
  mergedInto @2 :Text;               # null unless the cart was merged at login
  lineSizes @3 :List(UInt64);        # exactly 5, CartLineSizes: lines, sku bytes,
                                     # contributions, contributions with attributes,
                                     # their attributes' words
}

struct CartLineRecord {
  contributions @0 :List(UInt64);  # two per contribution, ascending by tag: tag, atMs
  quantities @1 :List(UInt32);     # one per contribution, as CartColumns
  attributes @2 :List(ContributionAttributes);  # as CartColumns, indexes into this line
}
