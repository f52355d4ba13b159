// The status page (GET /) and the pieces the daily Go/No-Go's HTML report shares with it: one
// self-contained HTML5 document rendered on the server from snapshots (the rules' last evaluation,
// the fleet's windows, the consumer's counters), so that a browser, `curl` and a screen reader all
// get the content in the HTML itself.
//
// Self-contained: inline CSS (with a print style), inline SVG charts, no JavaScript, no external
// URL of any kind (nothing to fetch from another host). Accessible: RAG is always a word next to
// its colour, tables have captions and header scopes, charts have a text alternative. Everything
// that comes from configuration or data is HTML-escaped.
//
// Pure functions of their inputs; thread-safe. Cost: proportional to the snapshot's rows (areas,
// delivery rows, findings, decisions), never to the number of devices.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "rules/evaluator.h"
#include "rules/gonogo.h"
#include "smetsmon/types.h"

namespace smetsmon::report {

// One DNO area's row: its alerts (SMETS1 and SMETS2, every code) in the last hour and 24 h of
// stream time, and per hour for the sparkline.
struct StatusAreaRow {
  std::string name, dno_group, region;
  uint64_t alerts_1h = 0, alerts_24h = 0;
  // Alerts per hour of stream time, oldest first; the last is the hour holding the stream time.
  std::array<uint64_t, 24> hourly{};
};

// The Kafka consumer as the status page shows it (ingest::KafkaIngest's stats() and Lag()).
struct StatusConsumer {
  bool present = false;  // false: no ingestion running (the section says so)
  size_t assigned_partitions = 0;
  int64_t lag_messages = 0;  // summed over assigned partitions whose lag is known
  double lag_seconds = 0;    // the largest of the assigned partitions'
  uint64_t consumed = 0, applied = 0, dead_lettered = 0;
  bool ready = false;
};

struct StatusPageInput {
  std::string version;                          // "0.9.0 (revision abc123)"
  EventTime stream_time = EventTime::Min();     // Min(): nothing consumed yet
  int64_t generated_at_ms = 0;                  // processing time of the rendering
  const rules::RulesSnapshot* rules = nullptr;  // null when rules are off
  // In area-table order (a finding's AreaId indexes it for the area's name).
  std::vector<StatusAreaRow> areas;
  StatusConsumer consumer;
  int refresh_seconds = 30;     // the page's meta refresh; 0: none
  size_t decisions_shown = 14;  // recent daily decisions, newest first
};

// The whole page: header (version, stream time, generated at), the Go/No-Go (overall in force,
// recommendation, each criterion with its chart) and the recent daily decisions, open findings,
// areas with their 24 h sparklines, delivery per priority x region and per CSP (24 h window),
// consumer health. Sections have ids: gonogo, decisions, findings, areas, delivery, consumer.
std::string RenderStatusPage(const StatusPageInput& in);

// ---- Building blocks (the Go/No-Go's HTML report uses them too) ----

// &, <, >, " and ' as character references.
std::string HtmlEscape(absl::string_view s);
// "<!DOCTYPE html>...<body>": the head with the embedded style sheet; `refresh_seconds` > 0 adds
// a meta refresh.
std::string HtmlDocumentStart(absl::string_view title, int refresh_seconds);
inline constexpr char kHtmlDocumentEnd[] = "</body>\n</html>\n";
// A RAG as a word in a coloured badge: <span class="rag rag-red">RED</span> (plus " (override)").
std::string RagBadge(rules::Rag r, bool overridden = false);
// An inline SVG sparkline of `values` (a polyline of values.size() points), with a text
// alternative naming the minimum, maximum and latest value.
std::string Sparkline(std::span<const uint64_t> values, absl::string_view label);
// An inline SVG horizontal bar of `value` on a 0..`max` scale, with optional marker lines (a
// threshold, a target) drawn across it; `label` is its text alternative.
struct BarMarker {
  double at = 0;
  const char* css_class = "mark";  // "mark-amber", "mark-red", "mark-target", "mark-min"
};
std::string BarChart(double value, double max, std::span<const BarMarker> markers,
                     absl::string_view css_class, absl::string_view label);
// The criteria of a Go/No-Go as a table: criterion, RAG in force (and computed when overridden),
// value with its chart against the amber and red thresholds, the thresholds, why (value against
// the threshold and the detail) and the explanation.
std::string GoNoGoCriteriaTable(const rules::GoNoGoResult& r, absl::string_view caption);
// A number for people: integral values with thousands separators, others with 2 decimals (3
// significant digits below 1); "n/a" when not finite.
std::string HtmlNumber(double v);

}  // namespace smetsmon::report
