#include "report/status_html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "rules/finding.h"
#include "rules/format.h"

namespace smetsmon::report {

using rules::CriterionResult;
using rules::GoNoGoResult;
using rules::Rag;

namespace {

// The one style sheet, embedded. Colours are backed by the RAG word everywhere; print keeps the
// colours (the OPSG prints the report) and drops the refresh-only furniture.
constexpr char kCss[] = R"css(
:root{--green:#1b7f3a;--amber:#b36b00;--red:#b3261e;--unknown:#5f6368;--ink:#1f1f1f;
--muted:#5f6368;--line:#d0d4d9;--bar:#3b6fb6;--bg:#ffffff}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg);margin:0 auto;padding:1rem 1.5rem;max-width:78rem;
font-size:15px;line-height:1.4}
header{border-bottom:2px solid var(--ink);margin-bottom:1rem}
h1{font-size:1.6rem;margin:.2rem 0}
h2{font-size:1.25rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);margin:.2rem 0 .6rem}
.meta span{margin-right:1.2rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.3rem 0;color:var(--ink)}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f1f3f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.rag{display:inline-block;padding:.05rem .45rem;border-radius:.25rem;color:#fff;font-weight:700;
font-size:.85rem;letter-spacing:.03em;white-space:nowrap}
.rag-green{background:var(--green)}.rag-amber{background:var(--amber)}
.rag-red{background:var(--red)}.rag-unknown{background:var(--unknown)}
.overall{font-size:1.15rem;margin:.4rem 0}
.overall .rag{font-size:1.05rem}
.sev-critical{color:var(--red);font-weight:700}.sev-warning{color:var(--amber);font-weight:700}
.sev-info{color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
svg{vertical-align:middle}
svg.spark polyline{fill:none;stroke:var(--bar);stroke-width:1.5}
svg.spark circle{fill:var(--bar)}
svg.bar rect.track{fill:#eceff1}
svg.bar rect.fill{fill:var(--bar)}
svg.bar.rag-green rect.fill{fill:var(--green)}svg.bar.rag-amber rect.fill{fill:var(--amber)}
svg.bar.rag-red rect.fill{fill:var(--red)}svg.bar.rag-unknown rect.fill{fill:var(--unknown)}
svg.bar line{stroke-width:2}
svg.bar line.mark-amber{stroke:var(--amber)}svg.bar line.mark-red{stroke:var(--red)}
svg.bar line.mark-target{stroke:var(--green)}svg.bar line.mark-min{stroke:var(--red)}
svg.bar line.mark{stroke:var(--ink)}
.legend{color:var(--muted);font-size:.85rem}
td.nowrap{white-space:nowrap}
table.kv{width:auto;min-width:28rem}
pre{font-size:.8rem;overflow-x:auto;background:#f8f9fa;padding:.5rem;border:1px solid var(--line)}
footer{color:var(--muted);font-size:.85rem;margin-top:2rem;border-top:1px solid var(--line)}
@media print{
body{max-width:none;padding:0;font-size:11pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2{break-after:avoid}
tr,svg{break-inside:avoid}
thead{display:table-header-group}
a{color:inherit;text-decoration:none}
.noprint{display:none}
pre{white-space:pre-wrap;overflow:visible}
}
)css";

std::string RagUpper(Rag r) {
  std::string s = rules::RagName(r);
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", fraction * 100);
  return buf;
}

std::string Fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string TimeOrNone(EventTime t) {
  return t == EventTime::Min() ? std::string("none yet") : FormatRfc3339Utc(t.ms);
}

// Seconds for a delivery target given in ms: "30 s", "0.5 s", "2 h".
std::string Duration(int64_t ms) {
  if (ms % kMsPerHour == 0 && ms >= kMsPerHour) return absl::StrCat(ms / kMsPerHour, " h");
  if (ms % kMsPerMinute == 0 && ms >= kMsPerMinute) return absl::StrCat(ms / kMsPerMinute, " min");
  if (ms % kMsPerSecond == 0) return absl::StrCat(ms / kMsPerSecond, " s");
  return absl::StrCat(HtmlNumber(static_cast<double>(ms) / 1000.0), " s");
}

void Th(std::string* out, absl::string_view text, bool num = false) {
  absl::StrAppend(out, "<th scope=\"col\"", num ? " class=\"num\"" : "", ">", text, "</th>");
}

std::string Reason(const CriterionResult& c) {
  if (!c.available) return c.detail.empty() ? "no data" : c.detail;
  const std::string v = HtmlNumber(c.value);
  std::string why;
  const char* cmp = c.lower_is_worse ? " &le; " : " &ge; ";
  switch (c.rag) {
    case Rag::kRed:
      why = absl::StrCat(v, cmp, "red ", HtmlNumber(c.red));
      break;
    case Rag::kAmber:
      why = absl::StrCat(v, cmp, "amber ", HtmlNumber(c.amber));
      break;
    default:
      why = absl::StrCat(v, c.lower_is_worse ? " above amber " : " below amber ",
                         HtmlNumber(c.amber));
      break;
  }
  return c.detail.empty() ? why : absl::StrCat(why, ": ", HtmlEscape(c.detail));
}

std::string CriterionChart(const CriterionResult& c) {
  if (!c.available || !std::isfinite(c.value)) return "";
  double max = std::max({c.value, c.amber, c.red});
  if (!(max > 0)) max = 1;
  max *= 1.15;
  const BarMarker markers[] = {{c.amber, "mark-amber"}, {c.red, "mark-red"}};
  return BarChart(c.value, max, markers, absl::StrCat("rag-", rules::RagName(c.rag)),
                  absl::StrCat(c.id, ": ", HtmlNumber(c.value), ", amber at ", HtmlNumber(c.amber),
                               ", red at ", HtmlNumber(c.red)));
}

// ---- Page sections ----

void AppendGoNoGo(std::string* out, const rules::RulesSnapshot* rules) {
  absl::StrAppend(out, "<section id=\"gonogo\" aria-labelledby=\"gonogo-h\">\n",
                  "<h2 id=\"gonogo-h\">SMETS1 migration Go/No-Go</h2>\n");
  if (rules == nullptr) {
    absl::StrAppend(out, "<p class=\"empty\">Rules are off (no rules.yaml): no Go/No-Go.</p>\n",
                    "</section>\n");
    return;
  }
  const GoNoGoResult& g = rules->gonogo;
  if (g.at.ms == 0 && g.criteria.empty()) {
    absl::StrAppend(out, "<p class=\"empty\">Not evaluated yet.</p>\n</section>\n");
    return;
  }
  absl::StrAppend(
      out, "<p class=\"overall\">Overall: ", RagBadge(g.effective_overall, g.overall_overridden),
      " &mdash; <strong>", HtmlEscape(g.effective_recommendation), "</strong>");
  if (g.effective_overall != g.overall) {
    absl::StrAppend(out, " (computed ", RagUpper(g.overall), ")");
  }
  absl::StrAppend(
      out, "</p>\n<p class=\"meta\">Continuous evaluation at ", HtmlEscape(g.local_date), " ",
      HtmlEscape(g.local_time),
      " (stream time); the daily decision is taken at the configured local time.</p>\n");
  absl::StrAppend(out, GoNoGoCriteriaTable(g, "Criteria, current evaluation"));
  if (!g.notes.empty()) {
    absl::StrAppend(out, "<ul class=\"notes\">\n");
    for (const std::string& n : g.notes) absl::StrAppend(out, "<li>", HtmlEscape(n), "</li>\n");
    absl::StrAppend(out, "</ul>\n");
  }
  absl::StrAppend(out, "</section>\n");
}

void AppendDecisions(std::string* out, const rules::RulesSnapshot* rules, size_t shown) {
  absl::StrAppend(out, "<section id=\"decisions\" aria-labelledby=\"decisions-h\">\n",
                  "<h2 id=\"decisions-h\">Recent daily decisions</h2>\n");
  if (rules == nullptr || rules->gonogo_history.empty()) {
    absl::StrAppend(out, "<p class=\"empty\">No daily decision yet.</p>\n</section>\n");
    return;
  }
  absl::StrAppend(out, "<table>\n<caption>Daily Go/No-Go decisions, newest first</caption>\n",
                  "<thead><tr>");
  Th(out, "Date");
  Th(out, "Decided at");
  Th(out, "Overall");
  Th(out, "Recommendation");
  Th(out, "Criteria");
  Th(out, "Report");
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
  const auto& h = rules->gonogo_history;
  size_t n = 0;
  for (auto it = h.rbegin(); it != h.rend() && n < shown; ++it, ++n) {
    const GoNoGoResult& d = *it;
    size_t red = 0, amber = 0, green = 0, unknown = 0;
    for (const CriterionResult& c : d.criteria) {
      switch (c.effective) {
        case Rag::kRed:
          ++red;
          break;
        case Rag::kAmber:
          ++amber;
          break;
        case Rag::kGreen:
          ++green;
          break;
        default:
          ++unknown;
          break;
      }
    }
    const std::string date = HtmlEscape(d.local_date);
    absl::StrAppend(out, "<tr><th scope=\"row\">", date, "</th><td>", HtmlEscape(d.local_time),
                    "</td><td>", RagBadge(d.effective_overall, d.overall_overridden), "</td><td>",
                    HtmlEscape(d.effective_recommendation), "</td><td>", red, " red, ", amber,
                    " amber, ", green, " green, ", unknown,
                    " unknown</td><td><a href=\"/reports/gonogo/", date, ".html\">", date,
                    ".html</a></td></tr>\n");
  }
  absl::StrAppend(out, "</tbody>\n</table>\n</section>\n");
}

void AppendFindings(std::string* out, const StatusPageInput& in) {
  absl::StrAppend(out, "<section id=\"findings\" aria-labelledby=\"findings-h\">\n",
                  "<h2 id=\"findings-h\">Open findings</h2>\n");
  if (in.rules == nullptr) {
    absl::StrAppend(out, "<p class=\"empty\">Rules are off: no findings.</p>\n</section>\n");
    return;
  }
  const std::vector<rules::Finding>& open = in.rules->open_findings;
  if (open.empty()) {
    absl::StrAppend(out, "<p class=\"empty\">No open findings.</p>\n</section>\n");
    return;
  }
  absl::StrAppend(out, "<table>\n<caption>", open.size(),
                  " open findings, oldest first</caption>\n<thead><tr>");
  Th(out, "Kind");
  Th(out, "Severity");
  Th(out, "Area or scope");
  Th(out, "Since");
  Th(out, "Explanation");
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
  for (const rules::Finding& f : open) {
    std::string where;
    if (f.area != kUnknownArea && f.area.value < in.areas.size()) {
      where = absl::StrCat("<strong>", HtmlEscape(in.areas[f.area.value].name), "</strong><br>");
    } else if (!f.region.empty()) {
      where = absl::StrCat("<strong>", HtmlEscape(f.region), "</strong><br>");
    }
    const char* sev = rules::SeverityName(f.severity);
    absl::StrAppend(out, "<tr><th scope=\"row\">", rules::FindingKindName(f.kind),
                    "</th><td class=\"sev-", sev, "\">", sev, "</td><td>", where,
                    HtmlEscape(f.scope), "</td><td>", FormatRfc3339Utc(f.start.ms), "</td><td>",
                    HtmlEscape(f.explanation), "</td></tr>\n");
  }
  absl::StrAppend(out, "</tbody>\n</table>\n</section>\n");
}

void AppendAreas(std::string* out, const StatusPageInput& in) {
  absl::StrAppend(out, "<section id=\"areas\" aria-labelledby=\"areas-h\">\n",
                  "<h2 id=\"areas-h\">DNO areas</h2>\n");
  if (in.areas.empty()) {
    absl::StrAppend(out, "<p class=\"empty\">No areas.</p>\n</section>\n");
    return;
  }
  std::vector<uint64_t> open(in.areas.size(), 0);
  if (in.rules != nullptr) {
    for (const rules::Finding& f : in.rules->open_findings) {
      if (f.area != kUnknownArea && f.area.value < open.size()) ++open[f.area.value];
    }
  }
  absl::StrAppend(out,
                  "<table>\n<caption>Alerts per DNO area (SMETS1 and SMETS2) by stream time; "
                  "the sparkline shows each of the last 24 hours</caption>\n<thead><tr>");
  Th(out, "Area");
  Th(out, "DNO group");
  Th(out, "Comms region");
  Th(out, "Alerts 1 h", true);
  Th(out, "Alerts 24 h", true);
  Th(out, "Last 24 h, hourly");
  Th(out, "Open findings", true);
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
  for (size_t a = 0; a < in.areas.size(); ++a) {
    const StatusAreaRow& r = in.areas[a];
    const std::string name = HtmlEscape(r.name);
    absl::StrAppend(out, "<tr><th scope=\"row\">", name, "</th><td>", HtmlEscape(r.dno_group),
                    "</td><td>", HtmlEscape(r.region), "</td><td class=\"num\">",
                    rules::FormatCount(r.alerts_1h), "</td><td class=\"num\">",
                    rules::FormatCount(r.alerts_24h), "</td><td>",
                    Sparkline(r.hourly, absl::StrCat(r.name, ", alerts per hour")),
                    "</td><td class=\"num\">", open[a], "</td></tr>\n");
  }
  absl::StrAppend(out, "</tbody>\n</table>\n</section>\n");
}

void AppendDeliveryRow(std::string* out, absl::string_view first, absl::string_view second,
                       const rules::DeliveryRow& d) {
  const BarMarker markers[] = {{d.target_service_level * 100, "mark-target"},
                               {d.minimum_service_level * 100, "mark-min"}};
  const std::string chart =
      d.delivered == 0
          ? std::string()
          : BarChart(d.share * 100, 100, markers, absl::StrCat("rag-", rules::RagName(d.rag)),
                     absl::StrCat(Percent(d.share), " within target; target ",
                                  Percent(d.target_service_level), ", minimum ",
                                  Percent(d.minimum_service_level)));
  absl::StrAppend(out, "<tr><th scope=\"row\">", HtmlEscape(first), "</th><td>", HtmlEscape(second),
                  "</td><td class=\"num\">", rules::FormatCount(d.delivered),
                  "</td><td class=\"num\">", rules::FormatCount(d.within_target),
                  "</td><td class=\"num\">", d.delivered == 0 ? "n/a" : Percent(d.share),
                  "</td><td>", chart, "</td><td class=\"num\">", Duration(d.target_ms),
                  "</td><td class=\"num\">", Percent(d.target_service_level), " / ",
                  Percent(d.minimum_service_level), "</td><td>", RagBadge(d.rag), "</td></tr>\n");
}

void DeliveryHead(std::string* out, absl::string_view caption, absl::string_view first,
                  absl::string_view second) {
  absl::StrAppend(out, "<table>\n<caption>", caption, "</caption>\n<thead><tr>");
  Th(out, first);
  Th(out, second);
  Th(out, "Delivered", true);
  Th(out, "Within target", true);
  Th(out, "Share", true);
  Th(out, "Share vs levels");
  Th(out, "Target", true);
  Th(out, "Target / minimum level", true);
  Th(out, "RAG");
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
}

void AppendDelivery(std::string* out, const rules::RulesSnapshot* rules) {
  absl::StrAppend(out, "<section id=\"delivery\" aria-labelledby=\"delivery-h\">\n",
                  "<h2 id=\"delivery-h\">Alert delivery (last 24 h)</h2>\n");
  if (rules == nullptr) {
    absl::StrAppend(out, "<p class=\"empty\">Rules are off: no delivery figures.</p>\n",
                    "</section>\n");
    return;
  }
  absl::StrAppend(out,
                  "<p class=\"legend\">Share of alerts delivered within their priority class's "
                  "target; the green line marks the Target Service Level, the red line the "
                  "Minimum. No RAG under 20 alerts.</p>\n");
  DeliveryHead(out, "Per priority class and comms region", "Priority", "Region");
  size_t rows = 0;
  for (const rules::DeliveryRow& d : rules->delivery) {
    if (d.window != "24h") continue;
    AppendDeliveryRow(out, d.priority, d.region, d);
    ++rows;
  }
  if (rows == 0) absl::StrAppend(out, "<tr><td colspan=\"9\" class=\"empty\">none</td></tr>\n");
  absl::StrAppend(out, "</tbody>\n</table>\n");
  DeliveryHead(out, "Per Communication Service Provider (as the PMR reports it)", "CSP",
               "Priority");
  rows = 0;
  for (const rules::CspDeliveryRow& c : rules->delivery_csp) {
    if (c.delivery.window != "24h") continue;
    AppendDeliveryRow(out, c.csp, c.delivery.priority, c.delivery);
    ++rows;
  }
  if (rows == 0) absl::StrAppend(out, "<tr><td colspan=\"9\" class=\"empty\">none</td></tr>\n");
  absl::StrAppend(out, "</tbody>\n</table>\n</section>\n");
}

void AppendConsumer(std::string* out, const StatusPageInput& in) {
  absl::StrAppend(out, "<section id=\"consumer\" aria-labelledby=\"consumer-h\">\n",
                  "<h2 id=\"consumer-h\">Consumer health</h2>\n");
  const StatusConsumer& c = in.consumer;
  if (!c.present) {
    absl::StrAppend(out, "<p class=\"empty\">No ingestion running.</p>\n</section>\n");
    return;
  }
  absl::StrAppend(out, "<table class=\"kv\">\n<caption>The Kafka consumer</caption>\n<tbody>\n");
  auto row = [out](absl::string_view name, absl::string_view value) {
    absl::StrAppend(out, "<tr><th scope=\"row\">", name, "</th><td class=\"num\">", value,
                    "</td></tr>\n");
  };
  row("Ready", c.ready ? "<span class=\"rag rag-green\">YES</span>"
                       : "<span class=\"rag rag-red\">NO</span>");
  row("Assigned partitions", absl::StrCat(c.assigned_partitions));
  row("Lag (messages)",
      rules::FormatCount(static_cast<uint64_t>(std::max<int64_t>(0, c.lag_messages))));
  row("Lag (seconds, largest partition)", Fixed(c.lag_seconds, 1));
  row("Messages consumed", rules::FormatCount(c.consumed));
  row("Messages applied", rules::FormatCount(c.applied));
  row("Dead-lettered", rules::FormatCount(c.dead_lettered));
  row("Stream time", TimeOrNone(in.stream_time));
  absl::StrAppend(out, "</tbody>\n</table>\n</section>\n");
}

}  // namespace

std::string HtmlEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
        break;
    }
  }
  return out;
}

std::string HtmlNumber(double v) {
  if (!std::isfinite(v)) return "n/a";
  const bool negative = v < 0;
  const double a = std::fabs(v);
  std::string body;
  if (a == std::floor(a) && a < 1e15) {
    body = rules::FormatCount(static_cast<uint64_t>(a));
  } else if (a >= 1) {
    std::string s = Fixed(a, 2);
    const size_t dot = s.find('.');
    std::string frac = s.substr(dot + 1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    body = rules::GroupDigits(s.substr(0, dot));
    if (!frac.empty()) absl::StrAppend(&body, ".", frac);
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", a);
    body = buf;
  }
  return negative && body != "0" ? absl::StrCat("-", body) : body;
}

std::string HtmlDocumentStart(absl::string_view title, int refresh_seconds) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  absl::StrAppend(&out,
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  if (refresh_seconds > 0) {
    absl::StrAppend(&out, "<meta http-equiv=\"refresh\" content=\"", refresh_seconds, "\">\n");
  }
  absl::StrAppend(&out, "<title>", HtmlEscape(title), "</title>\n<style>", kCss,
                  "</style>\n</head>\n<body>\n");
  return out;
}

std::string RagBadge(Rag r, bool overridden) {
  return absl::StrCat("<span class=\"rag rag-", rules::RagName(r), "\">", RagUpper(r),
                      overridden ? " (override)" : "", "</span>");
}

std::string Sparkline(std::span<const uint64_t> values, absl::string_view label) {
  constexpr int kWidth = 144, kHeight = 28, kPad = 2;
  uint64_t max = 0, min = values.empty() ? 0 : values[0];
  for (uint64_t v : values) {
    max = std::max(max, v);
    min = std::min(min, v);
  }
  const double step =
      values.size() > 1 ? static_cast<double>(kWidth - 2 * kPad) / (values.size() - 1) : 0;
  auto y = [&](uint64_t v) {
    const double frac = max == 0 ? 0 : static_cast<double>(v) / static_cast<double>(max);
    return kHeight - kPad - frac * (kHeight - 2 * kPad);
  };
  std::string points;
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StrAppend(&points, i == 0 ? "" : " ", Fixed(kPad + step * i, 1), ",",
                    Fixed(y(values[i]), 1));
  }
  const std::string alt =
      HtmlEscape(absl::StrCat(label, ": ", values.size(), " hours, min ", rules::FormatCount(min),
                              ", max ", rules::FormatCount(max), ", latest ",
                              rules::FormatCount(values.empty() ? 0 : values.back())));
  std::string out =
      absl::StrCat("<svg class=\"spark\" width=\"", kWidth, "\" height=\"", kHeight,
                   "\" viewBox=\"0 0 ", kWidth, " ", kHeight, "\" role=\"img\" aria-label=\"", alt,
                   "\"><title>", alt, "</title><polyline points=\"", points, "\"/>");
  if (!values.empty()) {
    absl::StrAppend(&out, "<circle cx=\"", Fixed(kPad + step * (values.size() - 1), 1), "\" cy=\"",
                    Fixed(y(values.back()), 1), "\" r=\"2\"/>");
  }
  absl::StrAppend(&out, "</svg>");
  return out;
}

std::string BarChart(double value, double max, std::span<const BarMarker> markers,
                     absl::string_view css_class, absl::string_view label) {
  constexpr int kWidth = 160, kHeight = 14;
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  auto x = [&](double v) {
    const double frac = std::isfinite(v) ? std::clamp(v / max, 0.0, 1.0) : 0;
    return frac * kWidth;
  };
  const std::string alt = HtmlEscape(label);
  std::string out = absl::StrCat(
      "<svg class=\"bar ", HtmlEscape(css_class), "\" width=\"", kWidth, "\" height=\"", kHeight,
      "\" viewBox=\"0 0 ", kWidth, " ", kHeight, "\" role=\"img\" aria-label=\"", alt, "\"><title>",
      alt, "</title><rect class=\"track\" x=\"0\" y=\"2\" width=\"", kWidth, "\" height=\"",
      kHeight - 4, "\"/><rect class=\"fill\" x=\"0\" y=\"2\" width=\"", Fixed(x(value), 1),
      "\" height=\"", kHeight - 4, "\"/>");
  for (const BarMarker& m : markers) {
    const std::string at = Fixed(std::min(x(m.at), kWidth - 1.0), 1);
    absl::StrAppend(&out, "<line class=\"", m.css_class, "\" x1=\"", at, "\" x2=\"", at,
                    "\" y1=\"0\" y2=\"", kHeight, "\"/>");
  }
  absl::StrAppend(&out, "</svg>");
  return out;
}

std::string GoNoGoCriteriaTable(const GoNoGoResult& r, absl::string_view caption) {
  std::string out = absl::StrCat("<table class=\"criteria\">\n<caption>", HtmlEscape(caption),
                                 "</caption>\n<thead><tr>");
  Th(&out, "Criterion");
  Th(&out, "RAG");
  Th(&out, "Value", true);
  Th(&out, "Against thresholds");
  Th(&out, "Amber / red", true);
  Th(&out, "Why");
  Th(&out, "What it measures");
  absl::StrAppend(&out, "</tr></thead>\n<tbody>\n");
  if (r.criteria.empty()) {
    absl::StrAppend(&out,
                    "<tr><td colspan=\"7\" class=\"empty\">no criteria configured</td></tr>\n");
  }
  for (const CriterionResult& c : r.criteria) {
    std::string rag = RagBadge(c.effective, c.overridden);
    if (c.overridden) absl::StrAppend(&rag, "<br><small>computed ", RagUpper(c.rag), "</small>");
    std::string why = Reason(c);
    if (c.overridden) {
      const rules::GoNoGoOverride* o = rules::LatestOverride(r, c.id);
      if (o != nullptr) {
        absl::StrAppend(&why, "<br>override by ", HtmlEscape(o->by), ": ", HtmlEscape(o->reason));
      }
    }
    const char* dir = c.lower_is_worse ? "&le;" : "&ge;";
    absl::StrAppend(&out, "<tr><th scope=\"row\">", HtmlEscape(c.id), "</th><td>", rag,
                    "</td><td class=\"num\">", c.available ? HtmlNumber(c.value) : "no data",
                    "</td><td>", CriterionChart(c), "</td><td class=\"num\">", dir, " ",
                    HtmlNumber(c.amber), " / ", dir, " ", HtmlNumber(c.red), "</td><td>", why,
                    "</td><td>", HtmlEscape(c.explanation), "</td></tr>\n");
  }
  absl::StrAppend(&out, "</tbody>\n</table>\n");
  return out;
}

std::string RenderStatusPage(const StatusPageInput& in) {
  std::string out = HtmlDocumentStart("smetsmon status", in.refresh_seconds);
  absl::StrAppend(&out, "<header>\n<h1>smetsmon status</h1>\n<p class=\"meta\">", "<span>Version ",
                  HtmlEscape(in.version), "</span> <span>Stream time ", TimeOrNone(in.stream_time),
                  "</span> <span>Generated at ", FormatRfc3339Utc(in.generated_at_ms),
                  "</span></p>\n</header>\n<main>\n");
  AppendGoNoGo(&out, in.rules);
  AppendDecisions(&out, in.rules, in.decisions_shown);
  AppendFindings(&out, in);
  AppendAreas(&out, in);
  AppendDelivery(&out, in.rules);
  AppendConsumer(&out, in);
  absl::StrAppend(&out, "</main>\n<footer><p>Rendered by the daemon from its last evaluation",
                  in.refresh_seconds > 0
                      ? absl::StrCat("; this page reloads every ", in.refresh_seconds, " s")
                      : std::string(),
                  ". The same figures as JSON: /api/v1/gonogo, /api/v1/findings, /api/v1/areas, "
                  "/api/v1/delivery.</p></footer>\n",
                  kHtmlDocumentEnd);
  return out;
}

}  // namespace smetsmon::report
