#include "report/gonogo_report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "report/migration_load_report.h"
#include "report/status_html.h"
#include "rules/format.h"

namespace smetsmon::report {

using rules::AreaRow;
using rules::CriterionResult;
using rules::DmcRow;
using rules::FormatCount;
using rules::GoNoGoOverride;
using rules::GoNoGoResult;
using rules::GroupDigits;
using rules::PreviousRag;
using rules::Rag;
using rules::RagName;

namespace {

std::string RagUpper(Rag r) {
  std::string s = RagName(r);
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// ---- Number formatting for the text report ----

// Integral values exactly with separators; others with 2 decimals (trailing zeros trimmed), or 3
// significant digits below 1 so that small ratios (0.0123) stay visible.
std::string FormatNumber(double v) {
  if (!std::isfinite(v)) return "n/a";
  const bool negative = v < 0;
  const double a = std::fabs(v);
  std::string body;
  if (a == std::floor(a) && a < 1e15) {
    body = GroupDigits(std::to_string(static_cast<uint64_t>(a)));
  } else if (a >= 1) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.2f", a);
    std::string s = buf;
    const size_t dot = s.find('.');
    std::string frac = s.substr(dot + 1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    body = GroupDigits(s.substr(0, dot));
    if (!frac.empty()) body += "." + frac;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", a);
    body = buf;
  }
  return negative && body != "0" ? "-" + body : body;
}

std::string Threshold(double t, bool lower_is_worse) {
  return absl::StrCat(lower_is_worse ? "<= " : ">= ", FormatNumber(t));
}

// A fixed-width text table: columns padded to their widest cell, two spaces apart; numeric
// columns right-aligned; the last column is not padded (it holds free text).
class TextTable {
 public:
  TextTable(std::vector<std::string> headers, std::vector<bool> right_aligned)
      : headers_(std::move(headers)), right_(std::move(right_aligned)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    const size_t cols = headers_.size();
    std::vector<size_t> width(cols, 0);
    for (size_t c = 0; c < cols; ++c) width[c] = headers_[c].size();
    for (const auto& row : rows_) {
      for (size_t c = 0; c < cols && c < row.size(); ++c) {
        width[c] = std::max(width[c], row[c].size());
      }
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s = "  ";
      for (size_t c = 0; c < cols; ++c) {
        const std::string cell = c < cells.size() ? cells[c] : "";
        const size_t pad = width[c] - cell.size();
        if (c > 0) s += "  ";
        if (right_[c]) {
          s.append(pad, ' ');
          s += cell;
        } else {
          s += cell;
          if (c + 1 < cols) s.append(pad, ' ');
        }
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out += s;
      out += '\n';
    };
    line(headers_);
    std::vector<std::string> rule;
    for (size_t c = 0; c < cols; ++c) rule.emplace_back(width[c], '-');
    line(rule);
    for (const auto& row : rows_) line(row);
    return out;
  }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// ---- JSON ----

// Integral values exactly (counts above 999,999 would lose digits in "%.6g"), non-finite as null.
void WriteNumber(JsonWriter& w, double v) {
  if (!std::isfinite(v)) {
    w.Null();
  } else if (v == std::floor(v) && std::fabs(v) <= 9007199254740992.0) {
    w.Int(static_cast<int64_t>(v));
  } else {
    w.Double(v);
  }
}

// {"rag","overridden","available","value"} of the previous decision, or null (none, or new).
void WritePrevious(JsonWriter& w, const PreviousRag& p) {
  if (!p.present) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Field("rag", RagName(p.rag));
  w.Key("overridden").Bool(p.overridden);
  w.Key("available").Bool(p.available);
  w.Key("value");
  if (p.available) {
    WriteNumber(w, p.value);
  } else {
    w.Null();
  }
  w.EndObject();
}

// The computed RAG of a criterion id or "overall" in `r`.
Rag ComputedRag(const GoNoGoResult& r, const std::string& criterion) {
  if (criterion == rules::kOverallCriterion) return r.overall;
  for (const CriterionResult& c : r.criteria) {
    if (c.id == criterion) return c.rag;
  }
  return Rag::kUnknown;
}

// ---- The LSC table's cells ----

std::string RagCell(Rag effective, bool overridden) {
  return overridden ? absl::StrCat(RagUpper(effective), " (override)") : RagUpper(effective);
}

// Why a criterion has its computed RAG: the value against the threshold it crossed (or stayed
// under), then the detail.
std::string ComputedReason(const CriterionResult& c) {
  if (!c.available) return c.detail.empty() ? "no data" : c.detail;
  const std::string v = FormatNumber(c.value);
  std::string why;
  switch (c.rag) {
    case Rag::kRed:
      why = absl::StrCat(v, c.lower_is_worse ? " <= red " : " >= red ", FormatNumber(c.red));
      break;
    case Rag::kAmber:
      why = absl::StrCat(v, c.lower_is_worse ? " <= amber " : " >= amber ", FormatNumber(c.amber));
      break;
    default:
      why = absl::StrCat(v, c.lower_is_worse ? " above amber " : " below amber ",
                         FormatNumber(c.amber));
      break;
  }
  return c.detail.empty() ? why : absl::StrCat(why, ": ", c.detail);
}

std::string OverrideReason(const GoNoGoOverride& o, Rag computed) {
  return absl::StrCat("override by ", o.by, ": ", o.reason, " (computed ", RagUpper(computed), ")");
}

// "AMBER -> RED (worse)", "unchanged", "new criterion", with the value's move when both have one.
std::string ChangeCell(rules::RagChange change, const PreviousRag& p, Rag now, bool value_known,
                       double value) {
  std::string out;
  switch (change) {
    case rules::RagChange::kNoPrevious:
      return "first decision";
    case rules::RagChange::kNew:
      return "new criterion";
    case rules::RagChange::kUnchanged:
      out = absl::StrCat("unchanged (", RagUpper(now), ")");
      break;
    default:
      out = absl::StrCat(RagUpper(p.rag), p.overridden ? " (override)" : "", " -> ", RagUpper(now),
                         " (", rules::RagChangeName(change), ")");
      break;
  }
  if (value_known && p.available) {
    const double delta = value - p.value;
    absl::StrAppend(&out, "; ", FormatNumber(p.value), " -> ", FormatNumber(value), " (",
                    delta > 0 ? "+" : "", delta == 0 ? "0" : FormatNumber(delta), ")");
  } else if (value_known != p.available) {
    absl::StrAppend(&out, value_known ? "; data again" : "; no data now");
  }
  return out;
}

// ---- Files ----

absl::Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::UnavailableError(absl::StrCat("cannot create ", tmp.string()));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp.string(), " to ", path.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

bool IsDateLike(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

std::string GoNoGoToJson(const GoNoGoResult& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("at_ms").Int(r.at.ms);
  w.Field("local_date", r.local_date);
  w.Field("local_time", r.local_time);
  w.Key("daily").Bool(r.daily);
  w.Field("overall", RagName(r.overall));
  w.Field("recommendation", r.recommendation);
  w.Key("notes").BeginArray();
  for (const std::string& n : r.notes) w.String(n);
  w.EndArray();
  w.Key("criteria").BeginArray();
  for (const CriterionResult& c : r.criteria) {
    w.BeginObject();
    w.Field("id", c.id);
    w.Field("metric", c.metric);
    w.Key("value");
    if (c.available) {
      WriteNumber(w, c.value);
    } else {
      w.Null();
    }
    w.Key("amber");
    WriteNumber(w, c.amber);
    w.Key("red");
    WriteNumber(w, c.red);
    w.Field("direction", c.lower_is_worse ? "lower_is_worse" : "higher_is_worse");
    w.Key("available").Bool(c.available);
    w.Field("rag", RagName(c.rag));
    w.Field("detail", c.detail);
    w.Field("explanation", c.explanation);
    w.Field("effective_rag", RagName(c.effective));
    w.Key("overridden").Bool(c.overridden);
    if (r.daily) {
      w.Key("previous");
      WritePrevious(w, c.previous);
      w.Field("change", rules::RagChangeName(rules::ChangeSincePrevious(r, c)));
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("dmcs").BeginArray();
  for (const DmcRow& d : r.dmcs) {
    w.BeginObject();
    w.Field("dmc", d.dmc);
    w.Field("installations", d.installations);
    w.Field("alerts_24h", d.alerts_24h);
    w.Key("alerts_per_installation");
    if (d.installations > 0) {
      WriteNumber(w, static_cast<double>(d.alerts_24h) / static_cast<double>(d.installations));
    } else {
      w.Null();
    }
    w.Field("noisy_devices", d.noisy_devices);
    w.EndObject();
  }
  w.EndArray();
  w.Key("areas").BeginArray();
  for (const AreaRow& a : r.areas) {
    w.BeginObject();
    w.Field("area", a.area);
    w.Field("dno_group", a.dno_group);
    w.Field("region", a.region);
    w.Field("smets1_alerts_24h", a.smets1_alerts_24h);
    w.Field("dno_flood_alerts_24h", a.dno_flood_alerts_24h);
    w.Field("dno_flood_threshold", a.dno_flood_threshold);
    w.Field("open_findings", a.open_findings);
    w.EndObject();
  }
  w.EndArray();
  w.Key("migration_load");
  WriteMigrationLoadJson(w, r.migration);
  w.Field("effective_overall", RagName(r.effective_overall));
  w.Field("effective_recommendation", r.effective_recommendation);
  w.Key("overall_overridden").Bool(r.overall_overridden);
  if (r.daily) {
    w.Key("previous_decision");
    if (r.previous_date.empty()) {
      w.Null();
    } else {
      w.BeginObject();
      w.Field("local_date", r.previous_date);
      w.Field("overall", RagName(r.previous_overall.rag));
      w.Key("overall_overridden").Bool(r.previous_overall.overridden);
      w.EndObject();
    }
    w.Field("overall_change", rules::RagChangeName(rules::OverallChangeSincePrevious(r)));
  }
  w.Key("overrides").BeginArray();
  for (const GoNoGoOverride& o : r.overrides) {
    w.BeginObject();
    w.Field("criterion", o.criterion);
    w.Field("rag", RagName(o.rag));
    w.Field("computed_rag", RagName(ComputedRag(r, o.criterion)));
    w.Field("reason", o.reason);
    w.Field("by", o.by);
    w.Key("recorded_at_ms").Int(o.recorded_at_ms);
    w.Field("recorded_at", FormatRfc3339Utc(o.recorded_at_ms));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

std::string GoNoGoToText(const GoNoGoResult& r) {
  std::string out;
  const std::string title =
      absl::StrCat("SMETS1 migration Go/No-Go, ", r.local_date, " ", r.local_time,
                   r.daily ? " (daily decision)" : " (continuous evaluation)");
  absl::StrAppend(&out, title, "\n", std::string(title.size(), '='), "\n\n");
  const bool overall_changed = r.effective_overall != r.overall || r.overall_overridden;
  absl::StrAppend(&out, "Overall: ", RagUpper(r.effective_overall),
                  r.overall_overridden ? " (operator override"
                  : overall_changed    ? " (after the operators' overrides"
                                       : "",
                  overall_changed ? absl::StrCat("; computed ", RagUpper(r.overall), ")") : "",
                  "\n");
  absl::StrAppend(&out, "Recommendation: ", r.effective_recommendation, "\n");
  if (r.effective_recommendation != r.recommendation) {
    absl::StrAppend(&out, "Computed recommendation: ", r.recommendation, "\n");
  }
  if (r.daily && !r.previous_date.empty()) {
    absl::StrAppend(&out, "Since ", r.previous_date, ": ",
                    ChangeCell(rules::OverallChangeSincePrevious(r), r.previous_overall,
                               r.effective_overall, false, 0),
                    "\n");
  }
  out += "\n";

  // The decision as the LSC table records it: criterion, RAG, why, what changed since the
  // previous decision (daily decisions), the overall last.
  if (!r.criteria.empty()) {
    absl::StrAppend(&out, "Decision\n");
    std::vector<std::string> headers = {"criterion", "RAG", "reason"};
    if (r.daily) {
      headers.push_back(r.previous_date.empty() ? "since the previous decision"
                                                : absl::StrCat("since ", r.previous_date));
    }
    // The change column is the last (free text); the reason is padded before it.
    TextTable t(headers, std::vector<bool>(headers.size(), false));
    for (const CriterionResult& c : r.criteria) {
      const GoNoGoOverride* o = rules::LatestOverride(r, c.id);
      std::vector<std::string> row = {c.id, RagCell(c.effective, c.overridden),
                                      o != nullptr ? OverrideReason(*o, c.rag) : ComputedReason(c)};
      if (r.daily) {
        row.push_back(ChangeCell(rules::ChangeSincePrevious(r, c), c.previous, c.effective,
                                 c.available, c.value));
      }
      t.Add(std::move(row));
    }
    const GoNoGoOverride* o = rules::LatestOverride(r, rules::kOverallCriterion);
    std::vector<std::string> row = {
        "overall", RagCell(r.effective_overall, r.overall_overridden),
        o != nullptr ? OverrideReason(*o, r.overall)
        : overall_changed
            ? absl::StrCat(r.effective_recommendation, " (criteria overridden; computed ",
                           RagUpper(r.overall), ")")
            : r.recommendation};
    if (r.daily) {
      row.push_back(ChangeCell(rules::OverallChangeSincePrevious(r), r.previous_overall,
                               r.effective_overall, false, 0));
    }
    t.Add(std::move(row));
    out += t.Render();
    out += "\n";
  }
  if (!r.overrides.empty()) {
    absl::StrAppend(&out, "Overrides (oldest first; the latest of each criterion is in force)\n");
    TextTable t({"recorded at", "criterion", "RAG", "by", "reason"},
                {false, false, false, false, false});
    for (const GoNoGoOverride& ov : r.overrides) {
      t.Add({FormatRfc3339Utc(ov.recorded_at_ms), ov.criterion,
             absl::StrCat(RagUpper(ComputedRag(r, ov.criterion)), " -> ", RagUpper(ov.rag)), ov.by,
             ov.reason});
    }
    out += t.Render();
    out += "\n";
  }

  absl::StrAppend(&out, "Criteria\n");
  if (r.criteria.empty()) {
    absl::StrAppend(&out, "  (none configured)\n");
  } else {
    TextTable t({"criterion", "value", "amber", "red", "RAG", "detail"},
                {false, true, true, true, false, false});
    for (const CriterionResult& c : r.criteria) {
      t.Add({c.id, c.available ? FormatNumber(c.value) : "no data",
             Threshold(c.amber, c.lower_is_worse), Threshold(c.red, c.lower_is_worse),
             RagUpper(c.rag), c.detail});
    }
    out += t.Render();
    bool any_explained = false;
    for (const CriterionResult& c : r.criteria) {
      if (c.explanation.empty()) continue;
      if (!any_explained) absl::StrAppend(&out, "\nWhy these criteria\n");
      any_explained = true;
      absl::StrAppend(&out, "  ", c.id, " (metric ", c.metric, "): ", c.explanation, "\n");
    }
  }

  absl::StrAppend(&out, "\nSMETS1 by DMC (last 24 h)\n");
  if (r.dmcs.empty()) {
    absl::StrAppend(&out, "  (no DMC figures)\n");
  } else {
    TextTable t({"DMC", "installations", "alerts 24h", "alerts/installation", "noisy devices"},
                {false, true, true, true, true});
    for (const DmcRow& d : r.dmcs) {
      const std::string per =
          d.installations > 0 ? FormatNumber(std::round(static_cast<double>(d.alerts_24h) * 100 /
                                                        static_cast<double>(d.installations)) /
                                             100)
                              : "n/a";
      t.Add({d.dmc, FormatCount(d.installations), FormatCount(d.alerts_24h), per,
             FormatCount(d.noisy_devices)});
    }
    out += t.Render();
  }

  absl::StrAppend(&out, "\nBy DNO area (last 24 h)\n");
  if (r.areas.empty()) {
    absl::StrAppend(&out, "  (no area figures)\n");
  } else {
    TextTable t({"area", "DNO group", "region", "SMETS1 alerts", "DNO flood alerts",
                 "flood threshold", "% of threshold", "open findings"},
                {false, false, false, true, true, true, true, true});
    for (const AreaRow& a : r.areas) {
      const std::string pct =
          a.dno_flood_threshold > 0
              ? absl::StrCat(
                    FormatNumber(std::round(static_cast<double>(a.dno_flood_alerts_24h) * 100 /
                                            static_cast<double>(a.dno_flood_threshold))),
                    "%")
              : "n/a";
      t.Add({a.area, a.dno_group, a.region, FormatCount(a.smets1_alerts_24h),
             FormatCount(a.dno_flood_alerts_24h), FormatCount(a.dno_flood_threshold), pct,
             FormatCount(a.open_findings)});
    }
    out += t.Render();
  }

  absl::StrAppend(&out, "\n", MigrationLoadToText(r.migration));

  absl::StrAppend(&out, "\nNotes\n");
  if (r.notes.empty()) {
    absl::StrAppend(&out, "  (none)\n");
  } else {
    for (const std::string& n : r.notes) absl::StrAppend(&out, "  - ", n, "\n");
  }
  return out;
}

std::string GoNoGoToHtml(const GoNoGoResult& r) {
  const std::string title =
      absl::StrCat("SMETS1 migration Go/No-Go, ", r.local_date, " ", r.local_time,
                   r.daily ? " (daily decision)" : " (continuous evaluation)");
  std::string out = HtmlDocumentStart(title, 0);
  absl::StrAppend(&out, "<header>\n<h1>", HtmlEscape(title), "</h1>\n</header>\n<main>\n");
  // The decision.
  absl::StrAppend(&out, "<section id=\"decision\" aria-labelledby=\"decision-h\">\n",
                  "<h2 id=\"decision-h\">Decision</h2>\n<p class=\"overall\">Overall: ",
                  RagBadge(r.effective_overall, r.overall_overridden), " &mdash; <strong>",
                  HtmlEscape(r.effective_recommendation), "</strong>");
  if (r.effective_overall != r.overall || r.overall_overridden) {
    absl::StrAppend(&out, " (computed ", RagBadge(r.overall), ": ", HtmlEscape(r.recommendation),
                    ")");
  }
  absl::StrAppend(&out, "</p>\n");
  if (r.daily) {
    absl::StrAppend(&out, "<p>Since the previous decision",
                    r.previous_date.empty() ? std::string()
                                            : absl::StrCat(" (", HtmlEscape(r.previous_date), ")"),
                    ": ",
                    HtmlEscape(ChangeCell(rules::OverallChangeSincePrevious(r), r.previous_overall,
                                          r.effective_overall, false, 0)),
                    "</p>\n");
  }
  absl::StrAppend(&out, GoNoGoCriteriaTable(r, "Criteria as the LSC table records them"));
  if (r.daily && !r.criteria.empty()) {
    absl::StrAppend(&out, "<table>\n<caption>Since the previous decision</caption>\n<thead><tr>",
                    "<th scope=\"col\">Criterion</th><th scope=\"col\">Change</th></tr></thead>\n",
                    "<tbody>\n");
    for (const CriterionResult& c : r.criteria) {
      absl::StrAppend(&out, "<tr><th scope=\"row\">", HtmlEscape(c.id), "</th><td>",
                      HtmlEscape(ChangeCell(rules::ChangeSincePrevious(r, c), c.previous,
                                            c.effective, c.available, c.value)),
                      "</td></tr>\n");
    }
    absl::StrAppend(&out, "</tbody>\n</table>\n");
  }
  absl::StrAppend(&out, "</section>\n");
  // Overrides.
  if (!r.overrides.empty()) {
    absl::StrAppend(
        &out, "<section id=\"overrides\" aria-labelledby=\"overrides-h\">\n",
        "<h2 id=\"overrides-h\">Overrides</h2>\n<table>\n<caption>Oldest first; the "
        "latest of each criterion is in force</caption>\n<thead><tr>",
        "<th scope=\"col\">Recorded at</th><th scope=\"col\">Criterion</th>",
        "<th scope=\"col\">Computed</th><th scope=\"col\">Override</th>",
        "<th scope=\"col\">By</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n");
    for (const GoNoGoOverride& o : r.overrides) {
      absl::StrAppend(&out, "<tr><td>", FormatRfc3339Utc(o.recorded_at_ms),
                      "</td><th scope=\"row\">", HtmlEscape(o.criterion), "</th><td>",
                      RagBadge(ComputedRag(r, o.criterion)), "</td><td>", RagBadge(o.rag),
                      "</td><td>", HtmlEscape(o.by), "</td><td>", HtmlEscape(o.reason),
                      "</td></tr>\n");
    }
    absl::StrAppend(&out, "</tbody>\n</table>\n</section>\n");
  }
  // Per DMC.
  absl::StrAppend(&out, "<section id=\"dmcs\" aria-labelledby=\"dmcs-h\">\n",
                  "<h2 id=\"dmcs-h\">SMETS1 by DMC (last 24 h)</h2>\n");
  if (r.dmcs.empty()) {
    absl::StrAppend(&out, "<p class=\"empty\">No DMC figures.</p>\n");
  } else {
    double max_rate = 0;
    for (const DmcRow& d : r.dmcs) {
      if (d.installations > 0) {
        max_rate = std::max(
            max_rate, static_cast<double>(d.alerts_24h) / static_cast<double>(d.installations));
      }
    }
    absl::StrAppend(&out, "<table>\n<caption>Alerts per SMETS1 DMC</caption>\n<thead><tr>",
                    "<th scope=\"col\">DMC</th><th scope=\"col\" class=\"num\">Installations</th>",
                    "<th scope=\"col\" class=\"num\">Alerts 24 h</th>",
                    "<th scope=\"col\" class=\"num\">Alerts per installation</th>",
                    "<th scope=\"col\">Chart</th>",
                    "<th scope=\"col\" class=\"num\">Noisy devices</th></tr></thead>\n<tbody>\n");
    for (const DmcRow& d : r.dmcs) {
      const bool known = d.installations > 0;
      const double rate =
          known ? static_cast<double>(d.alerts_24h) / static_cast<double>(d.installations) : 0;
      absl::StrAppend(
          &out, "<tr><th scope=\"row\">", HtmlEscape(d.dmc), "</th><td class=\"num\">",
          FormatCount(d.installations), "</td><td class=\"num\">", FormatCount(d.alerts_24h),
          "</td><td class=\"num\">", known ? HtmlNumber(std::round(rate * 100) / 100) : "n/a",
          "</td><td>",
          known ? BarChart(rate, max_rate, {}, "",
                           absl::StrCat(d.dmc, ": ", HtmlNumber(std::round(rate * 100) / 100),
                                        " alerts per installation"))
                : std::string(),
          "</td><td class=\"num\">", FormatCount(d.noisy_devices), "</td></tr>\n");
    }
    absl::StrAppend(&out, "</tbody>\n</table>\n");
  }
  absl::StrAppend(&out, "</section>\n");
  // Per area.
  absl::StrAppend(&out, "<section id=\"areas\" aria-labelledby=\"areas-h\">\n",
                  "<h2 id=\"areas-h\">By DNO area (last 24 h)</h2>\n");
  if (r.areas.empty()) {
    absl::StrAppend(&out, "<p class=\"empty\">No area figures.</p>\n");
  } else {
    absl::StrAppend(
        &out,
        "<table>\n<caption>SMETS1 alerts and DNO flood alerts per area; the "
        "bar is the flood alerts against the agreed threshold</caption>\n<thead><tr>",
        "<th scope=\"col\">Area</th><th scope=\"col\">DNO group</th>",
        "<th scope=\"col\">Region</th><th scope=\"col\" class=\"num\">SMETS1 alerts</th>",
        "<th scope=\"col\" class=\"num\">DNO flood alerts</th>",
        "<th scope=\"col\" class=\"num\">Flood threshold</th>",
        "<th scope=\"col\">Of threshold</th>",
        "<th scope=\"col\" class=\"num\">Open findings</th></tr></thead>\n<tbody>\n");
    for (const AreaRow& a : r.areas) {
      std::string chart = "n/a";
      if (a.dno_flood_threshold > 0) {
        const double pct = static_cast<double>(a.dno_flood_alerts_24h) * 100 /
                           static_cast<double>(a.dno_flood_threshold);
        const BarMarker at_threshold[] = {{100, "mark-red"}};
        chart = absl::StrCat(
            BarChart(pct, std::max(pct, 100.0) * 1.1, at_threshold, pct >= 100 ? "rag-red" : "",
                     absl::StrCat(a.area, ": ", HtmlNumber(std::round(pct)), " % of threshold")),
            " ", HtmlNumber(std::round(pct)), " %");
      }
      absl::StrAppend(&out, "<tr><th scope=\"row\">", HtmlEscape(a.area), "</th><td>",
                      HtmlEscape(a.dno_group), "</td><td>", HtmlEscape(a.region),
                      "</td><td class=\"num\">", FormatCount(a.smets1_alerts_24h),
                      "</td><td class=\"num\">", FormatCount(a.dno_flood_alerts_24h),
                      "</td><td class=\"num\">", FormatCount(a.dno_flood_threshold),
                      "</td><td class=\"nowrap\">", chart, "</td><td class=\"num\">",
                      FormatCount(a.open_findings), "</td></tr>\n");
    }
    absl::StrAppend(&out, "</tbody>\n</table>\n");
  }
  absl::StrAppend(&out, "</section>\n");
  absl::StrAppend(&out, "<section id=\"migration\" aria-labelledby=\"migration-h\">\n",
                  "<h2 id=\"migration-h\">Migration load</h2>\n<pre>",
                  HtmlEscape(MigrationLoadToText(r.migration)), "</pre>\n</section>\n");
  absl::StrAppend(&out, "<section id=\"notes\" aria-labelledby=\"notes-h\">\n",
                  "<h2 id=\"notes-h\">Notes</h2>\n");
  if (r.notes.empty()) {
    absl::StrAppend(&out, "<p class=\"empty\">None.</p>\n");
  } else {
    absl::StrAppend(&out, "<ul>\n");
    for (const std::string& n : r.notes) absl::StrAppend(&out, "<li>", HtmlEscape(n), "</li>\n");
    absl::StrAppend(&out, "</ul>\n");
  }
  absl::StrAppend(&out, "</section>\n</main>\n", kHtmlDocumentEnd);
  return out;
}

absl::Status WriteGoNoGoHistory(const std::string& history_dir, const GoNoGoResult& r) {
  if (history_dir.empty()) return absl::OkStatus();
  if (!IsDateLike(r.local_date)) {
    return absl::InvalidArgumentError(absl::StrCat("gonogo decision has no usable local date (\"",
                                                   r.local_date, "\") for its file name"));
  }
  const std::filesystem::path dir(history_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create gonogo history directory ", dir.string(), ": ", ec.message()));
  }
  const std::string base = "gonogo-" + r.local_date;
  absl::Status json = WriteFileAtomically(dir / (base + ".json"), GoNoGoToJson(r) + "\n");
  absl::Status text = WriteFileAtomically(dir / (base + ".txt"), GoNoGoToText(r));
  absl::Status html = WriteFileAtomically(dir / (base + ".html"), GoNoGoToHtml(r));
  if (!json.ok()) return json;
  return text.ok() ? html : text;
}

}  // namespace smetsmon::report
