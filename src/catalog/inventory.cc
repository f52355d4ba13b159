#include "catalog/inventory.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/fields.h"

namespace smetsmon::catalog {
namespace {

constexpr char kHeader[] = "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on";

// Splits `line` on commas into exactly 7 fields.
bool SplitFields(std::string_view line, std::array<std::string_view, 7>& out) {
  size_t field = 0;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      if (field == out.size()) return false;
      out[field++] = line.substr(start, i - start);
      start = i + 1;
    }
  }
  return field == out.size();
}

}  // namespace

Inventory::Inventory(const AreaTable& areas, SymbolTable& dmcs, SymbolTable& cohorts)
    : areas_(&areas),
      dmcs_(&dmcs),
      cohorts_(&cohorts),
      dmc_cache_(dmcs),
      cohort_cache_(cohorts),
      by_area_(areas.size() + 1, 0),
      by_dmc_(dmcs.id_limit(), 0),
      by_cohort_(cohorts.id_limit(), 0) {}

bool Inventory::ParseRow(std::string_view line, DeviceId* id, InventoryRecord* rec) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::array<std::string_view, 7> f;
  if (!SplitFields(line, f)) return false;
  const auto dev = ParseDeviceId(f[0]);
  if (!dev) return false;
  *id = *dev;
  *rec = InventoryRecord{};
  if (!f[1].empty()) {
    const auto m = ParseMpxn(f[1]);
    if (!m) return false;
    rec->mpxn = *m;
    rec->area = areas_->ByDistributorId(MpanDistributorId(*m));
  }
  if (!f[2].empty()) {
    const auto g = ParseGspGroup(f[2]);
    if (!g) return false;
    rec->area = areas_->ByGspGroup(*g);  // gsp_group overrides the MPAN, as in events
  }
  if (f[3] == "1") {
    rec->generation = Generation::kSmets1;
  } else if (f[3] == "2") {
    rec->generation = Generation::kSmets2;
  } else if (!f[3].empty()) {
    return false;
  }
  if (f[4].size() > 64 || f[5].size() > 16) return false;
  rec->dmc = DmcId{dmc_cache_.Intern(f[4])};
  rec->cohort = CohortId{cohort_cache_.Intern(f[5])};
  if (!f[6].empty()) {
    const auto day = ParseIsoDate(f[6]);
    if (!day) return false;
    rec->installed_day = *day;
  }
  return true;
}

void Inventory::Count(const InventoryRecord& rec, int64_t sign) {
  const auto add = [sign](uint64_t& c) {
    c = static_cast<uint64_t>(static_cast<int64_t>(c) + sign);
  };
  add(by_area_[areas_->Slot(rec.area)]);
  add(by_generation_[static_cast<int>(rec.generation)]);
  add(by_dmc_[rec.dmc.value]);
  add(by_cohort_[rec.cohort.value]);
}

void Inventory::Add(DeviceId id, const InventoryRecord& record) {
  bool inserted = false;
  InventoryRecord& slot = devices_.FindOrInsert(id.value, &inserted);
  if (!inserted) {
    ++stats_.duplicate_rows;
    Count(slot, -1);
  }
  slot = record;
  Count(record, +1);
}

absl::Status Inventory::LoadCsv(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  struct stat st {};
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: empty inventory, expected header '", kHeader, "'"));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return absl::InternalError(absl::StrCat(path, ": mmap failed"));
  ::madvise(map, size, MADV_SEQUENTIAL);
  const std::string_view text(static_cast<const char*>(map), size);
  // Estimate rows from the first line lengths so the table is sized once.
  devices_.Reserve(size / 60 + 16);
  size_t pos = 0;
  uint64_t line_no = 0;
  absl::Status status;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line != std::string_view(kHeader)) {
        status = absl::InvalidArgumentError(
            absl::StrCat(path, ":1: inventory header must be '", kHeader, "'"));
        break;
      }
      continue;
    }
    if (line.empty()) continue;
    DeviceId id;
    InventoryRecord rec;
    if (!ParseRow(line, &id, &rec)) {
      ++stats_.bad_rows;
      if (stats_.first_bad_line == 0) stats_.first_bad_line = line_no;
      continue;
    }
    ++stats_.rows;
    Add(id, rec);
  }
  ::munmap(map, size);
  RecountPremises();
  return status;
}

uint64_t Smets1InstallDays::CountBetween(int32_t first_day, int32_t last_day) const {
  if (first_day > last_day) return 0;
  // Clamped into the u16 range so the comparisons below are exact.
  const auto clamp = [](int32_t d) { return static_cast<uint16_t>(std::clamp(d, 0, 0xFFFF)); };
  if (last_day < 0 || first_day > 0xFFFF) return 0;
  const auto lo = std::lower_bound(days.begin(), days.end(), clamp(first_day));
  const auto hi = std::upper_bound(lo, days.end(), clamp(last_day));
  return static_cast<uint64_t>(hi - lo);
}

void Inventory::RecountPremises() {
  premises_by_area_.assign(by_area_.size(), 0);
  premises_by_dmc_.assign(by_dmc_.size(), 0);
  for (uint64_t& g : premises_by_generation_) g = 0;
  smets1_days_.clear();
  smets1_undated_ = 0;
  absl::flat_hash_map<uint32_t, size_t> pair_index;  // dmc << 16 | cohort -> smets1_days_
  // A transient set of MPANs seen (freed on return): counted once, with the first device's
  // attributes (a hub and its meters agree on area and, for SMETS1, on DMC).
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(devices_.size() / 2);
  devices_.ForEach([&](uint64_t, const InventoryRecord& rec) {
    if (rec.mpxn != 0 && !seen.insert(rec.mpxn).second) return;
    ++premises_by_area_[areas_->Slot(rec.area)];
    ++premises_by_generation_[static_cast<int>(rec.generation)];
    if (rec.dmc.value < premises_by_dmc_.size()) ++premises_by_dmc_[rec.dmc.value];
    if (rec.generation != Generation::kSmets1) return;
    const uint16_t day = InstalledDay16(rec.installed_day);
    if (day == 0) {
      ++smets1_undated_;
      return;
    }
    const uint32_t key = uint32_t{rec.dmc.value} << 16 | rec.cohort.value;
    const auto [it, inserted] = pair_index.try_emplace(key, smets1_days_.size());
    if (inserted) smets1_days_.push_back(Smets1InstallDays{rec.dmc, rec.cohort, {}});
    smets1_days_[it->second].days.push_back(day);
  });
  for (Smets1InstallDays& d : smets1_days_) std::sort(d.days.begin(), d.days.end());
  std::sort(smets1_days_.begin(), smets1_days_.end(),
            [](const Smets1InstallDays& a, const Smets1InstallDays& b) {
              return std::tie(a.dmc, a.cohort) < std::tie(b.dmc, b.cohort);
            });
}

}  // namespace smetsmon::catalog
