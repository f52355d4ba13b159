#include "rules/migration_load.h"

#include <algorithm>
#include <cstdio>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rules/format.h"
#include "rules/gonogo.h"
#include "rules/state_io.h"

namespace smetsmon::rules {
namespace {

double Rate(uint64_t alerts, uint64_t installations) {
  return installations == 0 ? NAN
                            : static_cast<double>(alerts) / static_cast<double>(installations);
}

std::string Label(const catalog::SymbolTable& t, uint16_t id) {
  const std::string_view name = t.Name(id);
  return name.empty() ? std::string("none") : std::string(name);
}

std::string Figure(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// A NaN-tolerant double for the state: NaN is written as its bits and read back as NaN.
double GetRateOrNan(BinaryReader& r) {
  const auto v = r.Pod<double>();
  if (std::isnan(v)) return NAN;
  if (!(v >= 0) || !std::isfinite(v)) r.Fail();
  return v;
}

constexpr uint64_t kMaxStateRows = 1 << 16;

}  // namespace

double MigrationLoadRow::recent_rate() const {
  return Rate(recent_alerts_24h, recent_installations);
}
double MigrationLoadRow::established_rate() const {
  return Rate(established_alerts_24h, established_installations);
}

MigrationLoad ComputeMigrationLoad(const aggregate::MigrationLayout& layout,
                                   const catalog::Inventory* inventory,
                                   const catalog::SymbolTable& dmcs,
                                   const catalog::SymbolTable& cohorts,
                                   std::span<const uint64_t> cells_24h,
                                   uint64_t current_smets1_alerts_24h,
                                   const MigrationLoadParams& params, EventTime now) {
  MigrationLoad m;
  m.recent_days = layout.recent_days;
  m.planned_installations_per_day = params.planned_installations_per_day;
  m.capacity_per_day = params.capacity_per_day;
  m.current_smets1_alerts_24h = current_smets1_alerts_24h;
  const int64_t now_day = now.ms >= 0 ? now.ms / kMsPerDay : (now.ms - kMsPerDay + 1) / kMsPerDay;
  // Recent: installed on a day in [now_day - recent_days + 1, now_day]; established: before.
  const auto first_recent = static_cast<int32_t>(
      std::clamp<int64_t>(now_day - layout.recent_days + 1, INT32_MIN / 2, INT32_MAX / 2));
  const auto today =
      static_cast<int32_t>(std::clamp<int64_t>(now_day, INT32_MIN / 2, INT32_MAX / 2));

  // Rows by (DMC id, cohort column): the inventory's installations, the workers' alerts.
  std::map<std::pair<uint16_t, uint16_t>, MigrationLoadRow> by_id;
  if (inventory != nullptr) {
    m.undated_installations = inventory->smets1_undated_premises();
    for (const catalog::Smets1InstallDays& d : inventory->smets1_install_days()) {
      const uint16_t column = layout.cohorts_folded() ? 0 : d.cohort.value;
      MigrationLoadRow& row = by_id[{d.dmc.value, column}];
      row.recent_installations += d.CountBetween(first_recent, today);
      row.established_installations += d.CountBetween(1, first_recent - 1);
    }
  }
  const size_t dmc_rows =
      std::min(layout.dmc_limit, cells_24h.size() / (layout.cohort_columns * 2));
  for (size_t dmc = 0; dmc < dmc_rows; ++dmc) {
    for (size_t column = 0; column < layout.cohort_columns; ++column) {
      const size_t cell = (dmc * layout.cohort_columns + column) * 2;
      const uint64_t recent = cells_24h[cell], established = cells_24h[cell + 1];
      if (recent == 0 && established == 0) continue;
      MigrationLoadRow& row = by_id[{static_cast<uint16_t>(dmc), static_cast<uint16_t>(column)}];
      row.recent_alerts_24h += recent;
      row.established_alerts_24h += established;
    }
  }
  for (auto& [id, row] : by_id) {
    if (row.recent_installations + row.established_installations + row.recent_alerts_24h +
            row.established_alerts_24h ==
        0) {
      continue;
    }
    row.dmc = Label(dmcs, id.first);
    row.cohort = layout.cohorts_folded() ? std::string("all") : Label(cohorts, id.second);
    m.recent_installations += row.recent_installations;
    m.established_installations += row.established_installations;
    m.recent_alerts_24h += row.recent_alerts_24h;
    m.established_alerts_24h += row.established_alerts_24h;
    m.rows.push_back(std::move(row));
  }
  // By name: ids depend on which thread saw a label first.
  std::sort(m.rows.begin(), m.rows.end(), [](const MigrationLoadRow& a, const MigrationLoadRow& b) {
    return std::tie(a.dmc, a.cohort) < std::tie(b.dmc, b.cohort);
  });
  m.recent_rate = Rate(m.recent_alerts_24h, m.recent_installations);
  m.established_rate = Rate(m.established_alerts_24h, m.established_installations);

  if (inventory == nullptr) {
    m.reason = "no inventory loaded (installation dates come from its installed_on)";
  } else if (m.recent_installations + m.established_installations == 0) {
    m.reason = "the inventory gives no SMETS1 installation dates (installed_on)";
  } else if (m.recent_installations == 0) {
    m.reason = absl::StrCat("no SMETS1 installations in the last ", m.recent_days,
                            " days to take a rate from");
  } else if (m.planned_installations_per_day == 0) {
    m.reason = "no planned migration volume (gonogo.planned_installations_per_day)";
  } else {
    m.available = true;
  }
  if (!m.available) return m;

  const double current = static_cast<double>(m.current_smets1_alerts_24h);
  const double planned = static_cast<double>(m.planned_installations_per_day);
  for (const int32_t days : kMigrationProjectionDays) {
    MigrationProjection p;
    p.days = days;
    p.new_installations = m.planned_installations_per_day * static_cast<uint64_t>(days);
    p.alerts_per_day = current + planned * days * m.recent_rate;
    if (m.capacity_per_day > 0) {
      p.share_of_capacity = p.alerts_per_day / static_cast<double>(m.capacity_per_day);
    }
    m.projections.push_back(p);
  }
  if (m.capacity_per_day > 0) {
    const double capacity = static_cast<double>(m.capacity_per_day);
    if (current >= capacity) {
      m.days_to_capacity = 0;
    } else if (m.recent_rate > 0) {
      m.days_to_capacity = (capacity - current) / (planned * m.recent_rate);
    }
  }
  return m;
}

void AddMigrationLoadMetrics(const MigrationLoad& m, std::map<std::string, MetricValue>* metrics) {
  const auto rate_metric = [&](double rate, uint64_t alerts, uint64_t installations,
                               const char* which) {
    MetricValue v;
    if (installations > 0) {
      v = {rate, true,
           absl::StrCat(FormatCount(alerts), " SMETS1 alerts in 24 h / ",
                        FormatCount(installations), " ", which, " installations")};
    } else {
      v.detail = m.reason.empty() ? absl::StrCat("no ", which, " SMETS1 installations") : m.reason;
    }
    return v;
  };
  (*metrics)["smets1_recent_alerts_per_installation_per_day"] =
      rate_metric(m.recent_rate, m.recent_alerts_24h, m.recent_installations, "recent");
  (*metrics)["smets1_established_alerts_per_installation_per_day"] = rate_metric(
      m.established_rate, m.established_alerts_24h, m.established_installations, "established");

  for (const int32_t days : kMigrationProjectionDays) {
    MetricValue per_day, share;
    const MigrationProjection* p = nullptr;
    for (const MigrationProjection& q : m.projections) {
      if (q.days == days) p = &q;
    }
    if (p == nullptr) {
      per_day.detail = m.reason;
      share.detail = m.reason;
    } else {
      const std::string formula = absl::StrCat(
          FormatCount(m.current_smets1_alerts_24h), " now + ", FormatCount(p->new_installations),
          " new installations (", FormatCount(m.planned_installations_per_day), "/day x ", days,
          " days) x ", Figure(m.recent_rate), " alerts per recent installation per day");
      per_day = {p->alerts_per_day, true,
                 absl::StrCat(FormatCount(static_cast<uint64_t>(std::llround(p->alerts_per_day))),
                              " SMETS1 alerts/day = ", formula)};
      if (m.capacity_per_day > 0) {
        share = {p->share_of_capacity, true,
                 absl::StrCat(FormatCount(static_cast<uint64_t>(std::llround(p->alerts_per_day))),
                              " of ", FormatCount(m.capacity_per_day), " a day = ", formula)};
      } else {
        share.detail = "no capacity configured (capacity.smets1_alerts_per_day)";
      }
    }
    (*metrics)[absl::StrCat("projected_smets1_alerts_per_day_", days, "d")] = per_day;
    (*metrics)[absl::StrCat("projected_smets1_alerts_", days, "d_share_of_capacity")] = share;
  }
}

void SaveMigrationLoad(BinaryWriter& w, const MigrationLoad& m) {
  state_io::PutBool(w, m.available);
  w.String(m.reason);
  w.Pod<int32_t>(m.recent_days);
  w.Pod<uint64_t>(m.planned_installations_per_day);
  w.Pod<uint64_t>(m.capacity_per_day);
  w.Pod<uint64_t>(m.current_smets1_alerts_24h);
  w.Pod<uint64_t>(m.recent_installations);
  w.Pod<uint64_t>(m.established_installations);
  w.Pod<uint64_t>(m.undated_installations);
  w.Pod<uint64_t>(m.recent_alerts_24h);
  w.Pod<uint64_t>(m.established_alerts_24h);
  w.Pod<double>(m.recent_rate);
  w.Pod<double>(m.established_rate);
  w.Pod<double>(m.days_to_capacity);
  state_io::PutCount(w, m.projections.size());
  for (const MigrationProjection& p : m.projections) {
    w.Pod<int32_t>(p.days);
    w.Pod<uint64_t>(p.new_installations);
    w.Pod<double>(p.alerts_per_day);
    w.Pod<double>(p.share_of_capacity);
  }
  state_io::PutCount(w, m.rows.size());
  for (const MigrationLoadRow& row : m.rows) {
    w.String(row.dmc);
    w.String(row.cohort);
    w.Pod<uint64_t>(row.recent_installations);
    w.Pod<uint64_t>(row.established_installations);
    w.Pod<uint64_t>(row.recent_alerts_24h);
    w.Pod<uint64_t>(row.established_alerts_24h);
  }
}

MigrationLoad LoadMigrationLoad(BinaryReader& r) {
  MigrationLoad m;
  m.available = state_io::GetBool(r);
  m.reason = r.String(state_io::kMaxText);
  m.recent_days = r.Pod<int32_t>();
  m.planned_installations_per_day = r.Pod<uint64_t>();
  m.capacity_per_day = r.Pod<uint64_t>();
  m.current_smets1_alerts_24h = r.Pod<uint64_t>();
  m.recent_installations = r.Pod<uint64_t>();
  m.established_installations = r.Pod<uint64_t>();
  m.undated_installations = r.Pod<uint64_t>();
  m.recent_alerts_24h = r.Pod<uint64_t>();
  m.established_alerts_24h = r.Pod<uint64_t>();
  m.recent_rate = GetRateOrNan(r);
  m.established_rate = GetRateOrNan(r);
  m.days_to_capacity = GetRateOrNan(r);
  const uint64_t n_projections = state_io::GetCount(r, std::size(kMigrationProjectionDays));
  for (uint64_t i = 0; i < n_projections && r.ok(); ++i) {
    MigrationProjection& p = m.projections.emplace_back();
    p.days = r.Pod<int32_t>();
    p.new_installations = r.Pod<uint64_t>();
    p.alerts_per_day = GetRateOrNan(r);
    p.share_of_capacity = GetRateOrNan(r);
  }
  const uint64_t n_rows = state_io::GetCount(r, kMaxStateRows);
  for (uint64_t i = 0; i < n_rows && r.ok(); ++i) {
    MigrationLoadRow& row = m.rows.emplace_back();
    row.dmc = r.String(state_io::kMaxText);
    row.cohort = r.String(state_io::kMaxText);
    row.recent_installations = r.Pod<uint64_t>();
    row.established_installations = r.Pod<uint64_t>();
    row.recent_alerts_24h = r.Pod<uint64_t>();
    row.established_alerts_24h = r.Pod<uint64_t>();
  }
  if (m.recent_days < 1) r.Fail();
  return m;
}

}  // namespace smetsmon::rules
