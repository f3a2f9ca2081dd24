#include "simulation/planted_bug.h"

#include <string>

#include "common/enum_names.h"

namespace trolley::sim {

namespace {

// kNone first: the names a message lists start with "none".
constexpr EnumName<PlantedBug> kPlantedBugNames[] = {
    {PlantedBug::kNone, "none"},
    {PlantedBug::kLww, "lww"},
    {PlantedBug::kPlainVc, "plain-vc"},
    {PlantedBug::kDropHints, "drop-hints"},
    {PlantedBug::kOverwriteRepair, "overwrite-repair"},
    {PlantedBug::kReuseActor, "reuse-actor"},
    {PlantedBug::kStaleRemove, "stale-remove"},
    {PlantedBug::kAaeOverwrite, "aae-overwrite"},
    {PlantedBug::kRemoveForgetsContext, "remove-forgets-context"},
    {PlantedBug::kMergeSets, "merge-sets"}};

}  // namespace

std::string_view PlantedBugName(PlantedBug bug) { return NameOf(kPlantedBugNames, bug); }

std::vector<PlantedBug> AllPlantedBugs() {
  std::vector<PlantedBug> bugs;
  for (const EnumName<PlantedBug>& entry : kPlantedBugNames) {
    if (entry.value != PlantedBug::kNone) bugs.push_back(entry.value);
  }
  return bugs;
}

Result<PlantedBug> ParsePlantedBug(std::string_view name) {
  return ParseName(kPlantedBugNames, name, "bug");
}

}  // namespace trolley::sim
