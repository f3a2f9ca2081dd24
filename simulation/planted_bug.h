// PlantedBug: known bugs the simulator can plant, so a test can show that
// its checkers fail when they should: a checker that cannot fail proves
// nothing.
//
// Every bug is planted in simulator-owned code (the simulated engine or the
// simulated delivery of messages); node/, storage/ and cart/ stay as they
// ship. Where each one lives and why it is a faithful model:
//
//   lww               SimEngine keeps only the newest sibling (by timestamp,
//                     then dot) after every write and merge: last writer wins
//                     instead of siblings. Concurrent adds are lost.
//   plain-vc          SimEngine issues a write's counter as context[actor] + 1
//                     (a per-coordinator vector clock without dots), so two
//                     clients that read the same context and write through
//                     the same coordinator get the same dot, and one write
//                     silently replaces the other (docs/design.md,
//                     'Versions: dotted version vector sets').
//   drop-hints        SimEngine's HintStore acknowledges a hint and drops it:
//                     writes taken by fallbacks never reach their owners.
//   overwrite-repair  The simulator marks read-repair merges (a ReplicaWrite
//                     sent while a node finishes a get, or a coordinator's
//                     merge into its own engine after a get) and SimEngine
//                     replaces the stored state with the repair's state
//                     instead of merging: writes that reached the replica
//                     after it answered the read are lost.
//   aae-overwrite     The simulator marks the ReplicaWrites a node sends
//                     while it handles an AaeKeysReply (anti-entropy's
//                     pushes of keys that differ) and SimEngine replaces the
//                     receiver's state with the pushed one instead of
//                     merging: siblings only the receiver held are lost.
//   reuse-actor       SimEngine's actor epoch is the rule before epochs
//                     existed: a counter on the disk, new after an unclean
//                     stop, kept after a clean one, and 1 again on an empty
//                     disk. After a disk loss, or a restore from an older
//                     copy, the node issues again dots the other replicas
//                     already saw, and they drop its new writes as old
//                     (Riak's kv679).
//   stale-remove      An OR-Set removal delivered to a node has its observed
//                     tags replaced by those of the node's own copy of the
//                     cart: the coordinator removes what it holds, not what
//                     the shopper saw. A stale copy leaves seen adds in the
//                     cart; a newer one removes adds the shopper never saw.
//   remove-forgets-context  SimEngine wraps every cart update's transform: the
//                     OR-Set value it computes loses, from its causal context,
//                     the ids of what it removed (and the ids a removal named
//                     that the copy had not seen). A sibling or replica that
//                     still holds a removed contribution then brings it back
//                     on merge (an observed remove undone), and a late add a
//                     stale copy was told to remove survives.
//   merge-sets        SimEngine rewrites the computed write of a guest merge
//                     with the max strategy (the simulator marks its delivery)
//                     as the merge was before it moved to the node: a line the
//                     user cart has gets a SetQuantity, which removes every
//                     contribution of the line in the coordinator's copy, not
//                     an add of the difference. Adds no device's merge saw
//                     (the device never reads the user cart) are lost.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"

namespace trolley::sim {

enum class PlantedBug {
  kNone,
  kLww,
  kPlainVc,
  kDropHints,
  kOverwriteRepair,
  kReuseActor,
  kStaleRemove,
  kAaeOverwrite,
  kRemoveForgetsContext,
  kMergeSets
};

std::string_view PlantedBugName(PlantedBug bug);
// "none", "lww", ...; InvalidArgument listing the names otherwise.
Result<PlantedBug> ParsePlantedBug(std::string_view name);
// Every bug but kNone.
std::vector<PlantedBug> AllPlantedBugs();

}  // namespace trolley::sim
