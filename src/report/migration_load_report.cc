#include "report/migration_load_report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rules/format.h"

namespace smetsmon::report {

using rules::FormatCount;
using rules::MigrationLoad;
using rules::MigrationLoadRow;
using rules::MigrationProjection;

namespace {

constexpr const char* kFormula =
    "projected(D) = current SMETS1 alerts in 24 h + planned_installations_per_day x D x recent "
    "alerts per installation per day; share(D) = projected(D) / capacity.smets1_alerts_per_day";

void NumberOrNull(JsonWriter& w, double v) {
  if (std::isfinite(v)) {
    w.Double(v);
  } else {
    w.Null();
  }
}

void WriteClass(JsonWriter& w, uint64_t installations, uint64_t alerts) {
  w.BeginObject();
  w.Field("installations", installations);
  w.Field("alerts_24h", alerts);
  w.Key("alerts_per_installation_per_day");
  NumberOrNull(w, installations > 0
                      ? static_cast<double>(alerts) / static_cast<double>(installations)
                      : NAN);
  w.EndObject();
}

std::string Rate(double v) { return std::isfinite(v) ? absl::StrFormat("%.2f", v) : "n/a"; }
std::string Count(double v) {
  return std::isfinite(v) ? FormatCount(static_cast<uint64_t>(std::llround(std::max(v, 0.0))))
                          : "n/a";
}
std::string Share(double v) {
  return std::isfinite(v) ? absl::StrFormat("%.1f%%", v * 100) : "n/a";
}

// Columns padded to their widest cell; numbers (all but the first `text_columns`) right-aligned.
std::string Table(const std::vector<std::vector<std::string>>& rows, size_t text_columns) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      absl::StrAppend(&line, " ", i < text_columns ? row[i] + pad : pad + row[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

void WriteMigrationLoadJson(JsonWriter& w, const MigrationLoad& m) {
  w.BeginObject();
  w.Key("available").Bool(m.available);
  w.Field("reason", m.reason);
  w.Field("formula", kFormula);
  w.Field("recent_days", static_cast<uint64_t>(std::max(m.recent_days, 0)));
  w.Field("planned_installations_per_day", m.planned_installations_per_day);
  w.Field("capacity_per_day", m.capacity_per_day);
  w.Field("current_smets1_alerts_24h", m.current_smets1_alerts_24h);
  w.Key("recent");
  WriteClass(w, m.recent_installations, m.recent_alerts_24h);
  w.Key("established");
  WriteClass(w, m.established_installations, m.established_alerts_24h);
  w.Field("undated_installations", m.undated_installations);
  w.Key("projections").BeginArray();
  for (const MigrationProjection& p : m.projections) {
    w.BeginObject();
    w.Field("days", static_cast<uint64_t>(std::max(p.days, 0)));
    w.Field("new_installations", p.new_installations);
    w.Key("alerts_per_day");
    NumberOrNull(w, p.alerts_per_day);
    w.Key("share_of_capacity");
    NumberOrNull(w, p.share_of_capacity);
    w.EndObject();
  }
  w.EndArray();
  w.Key("days_to_capacity");
  NumberOrNull(w, m.days_to_capacity);
  w.Key("by_dmc_cohort").BeginArray();
  for (const MigrationLoadRow& r : m.rows) {
    w.BeginObject();
    w.Field("dmc", r.dmc);
    w.Field("cohort", r.cohort);
    w.Key("recent");
    WriteClass(w, r.recent_installations, r.recent_alerts_24h);
    w.Key("established");
    WriteClass(w, r.established_installations, r.established_alerts_24h);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string MigrationLoadToText(const MigrationLoad& m) {
  std::string out = absl::StrCat("Migration load (SMETS1 installations of the last ", m.recent_days,
                                 " days vs the established estate, last 24 h)\n");
  if (m.available) {
    absl::StrAppend(&out, "  At the recent installations' ", Rate(m.recent_rate),
                    " alerts per installation per day (established: ", Rate(m.established_rate),
                    "), ", FormatCount(m.planned_installations_per_day),
                    " installations a day take SMETS1 alerts from ",
                    FormatCount(m.current_smets1_alerts_24h), " a day now to");
    for (size_t i = 0; i < m.projections.size(); ++i) {
      const MigrationProjection& p = m.projections[i];
      absl::StrAppend(&out, i == 0 ? " " : (i + 1 == m.projections.size() ? " and " : ", "),
                      Count(p.alerts_per_day), " after ", p.days, " days");
      if (std::isfinite(p.share_of_capacity)) {
        absl::StrAppend(&out, " (", Share(p.share_of_capacity), " of capacity)");
      }
    }
    absl::StrAppend(&out, ".");
    if (m.capacity_per_day > 0) {
      if (std::isfinite(m.days_to_capacity)) {
        absl::StrAppend(&out, " Capacity (", FormatCount(m.capacity_per_day),
                        " a day) is reached after ",
                        m.days_to_capacity == 0 ? std::string("0")
                                                : absl::StrFormat("%.1f", m.days_to_capacity),
                        " days of this volume.");
      } else {
        absl::StrAppend(&out, " At this rate the migration never reaches capacity (",
                        FormatCount(m.capacity_per_day), " a day).");
      }
    }
    absl::StrAppend(&out, "\n");
  } else {
    absl::StrAppend(&out, "  No projection: ", m.reason, ".\n");
  }
  absl::StrAppend(&out, "  Formula: ", kFormula, ".\n");
  if (m.rows.empty()) {
    absl::StrAppend(&out, "  (no dated SMETS1 installations)\n");
    return out;
  }
  std::vector<std::vector<std::string>> rows = {{"DMC", "cohort", "recent inst.", "recent alerts",
                                                 "recent/inst./day", "established inst.",
                                                 "established alerts", "established/inst./day"}};
  const auto add = [&](const std::string& dmc, const std::string& cohort, uint64_t ri, uint64_t ra,
                       uint64_t ei, uint64_t ea) {
    const auto rate = [](uint64_t a, uint64_t i) {
      return i > 0 ? Rate(static_cast<double>(a) / static_cast<double>(i)) : std::string("n/a");
    };
    rows.push_back({dmc, cohort, FormatCount(ri), FormatCount(ra), rate(ra, ri), FormatCount(ei),
                    FormatCount(ea), rate(ea, ei)});
  };
  for (const MigrationLoadRow& r : m.rows) {
    add(r.dmc, r.cohort, r.recent_installations, r.recent_alerts_24h, r.established_installations,
        r.established_alerts_24h);
  }
  add("all", "", m.recent_installations, m.recent_alerts_24h, m.established_installations,
      m.established_alerts_24h);
  out += Table(rows, 2);
  if (m.undated_installations > 0) {
    absl::StrAppend(&out, "  ", FormatCount(m.undated_installations),
                    " SMETS1 installations have no installed_on date and are in neither class.\n");
  }
  return out;
}

}  // namespace smetsmon::report
