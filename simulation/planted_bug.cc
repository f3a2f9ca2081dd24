#include "simulation/planted_bug.h"

#include <string>

namespace trolley::sim {

std::string_view PlantedBugName(PlantedBug bug) {
  switch (bug) {
    case PlantedBug::kNone:
      return "none";
    case PlantedBug::kLww:
      return "lww";
    case PlantedBug::kPlainVc:
      return "plain-vc";
    case PlantedBug::kDropHints:
      return "drop-hints";
    case PlantedBug::kOverwriteRepair:
      return "overwrite-repair";
    case PlantedBug::kReuseActor:
      return "reuse-actor";
    case PlantedBug::kStaleRemove:
      return "stale-remove";
    case PlantedBug::kRemoveForgetsContext:
      return "remove-forgets-context";
  }
  return "unknown";
}

std::vector<PlantedBug> AllPlantedBugs() {
  return {PlantedBug::kLww,
          PlantedBug::kPlainVc,
          PlantedBug::kDropHints,
          PlantedBug::kOverwriteRepair,
          PlantedBug::kReuseActor,
          PlantedBug::kStaleRemove,
          PlantedBug::kRemoveForgetsContext};
}

Result<PlantedBug> ParsePlantedBug(std::string_view name) {
  if (name == "none") return PlantedBug::kNone;
  std::string names = "none";
  for (PlantedBug bug : AllPlantedBugs()) {
    if (name == PlantedBugName(bug)) return bug;
    names += ", " + std::string(PlantedBugName(bug));
  }
  return Status::InvalidArgument("unknown bug '" + std::string(name) + "': use one of " + names);
}

}  // namespace trolley::sim
