// Fuzzes the inventory CSV parser (catalog/inventory.h LoadCsv) through its file entry point:
// any file either loads (bad rows counted and skipped) or is refused with a Status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "catalog/inventory.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smetsmon;
  const catalog::ReferenceData& ref = fuzz::Reference();
  // Fresh symbol tables per input: what one input names does not change the next one's parse.
  catalog::SymbolTable dmcs("dmc", 254), cohorts("cohort", 30);
  catalog::Inventory inventory(*ref.areas, dmcs, cohorts);
  const std::string& path =
      fuzz::WriteScratch(std::string_view(reinterpret_cast<const char*>(data), size), ".csv");
  if (inventory.LoadCsv(path).ok()) inventory.RecountPremises();
  return 0;
}
