// The status page and the Go/No-Go's HTML report rendered from constructed snapshots: their
// content, escaping, charts, and that they reference nothing outside the document.
#include "report/status_html.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "report/gonogo_report.h"

namespace smetsmon::report {
namespace {

using rules::Rag;

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Every src= and href= value: none may name a scheme (http:, https:, data: from elsewhere...) or
// a host (//host/...).
void ExpectNoExternalReferences(const std::string& html) {
  const std::regex attr(R"re((src|href)\s*=\s*"([^"]*)")re", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attr); it != std::sregex_iterator();
       ++it) {
    const std::string v = (*it)[2];
    EXPECT_EQ(v.find("//"), std::string::npos) << v;
    EXPECT_EQ(v.find(':'), std::string::npos) << v;
  }
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

rules::GoNoGoResult Decision(const std::string& date, Rag overall) {
  rules::GoNoGoResult g;
  g.at = EventTime{1'700'000'000'000};
  g.local_date = date;
  g.local_time = "06:00:00 GMT";
  g.daily = true;
  rules::CriterionResult c;
  c.id = "smets1_alerts_per_installation";
  c.metric = "smets1_alerts_per_installation_per_day";
  c.explanation = "SMETS1 alerts per installed meter & day";
  c.detail = "412,311 alerts / 180,000 installations";
  c.value = 2.29;
  c.amber = 1.5;
  c.red = 3;
  c.available = true;
  c.rag = Rag::kAmber;
  c.effective = Rag::kAmber;
  g.criteria.push_back(c);
  rules::CriterionResult d;
  d.id = "delivery_critical_share";
  d.metric = "delivery_share_critical";
  d.lower_is_worse = true;
  d.amber = 0.99;
  d.red = 0.95;
  d.available = false;
  d.detail = "no alerts delivered";
  d.rag = Rag::kUnknown;
  d.effective = Rag::kUnknown;
  g.criteria.push_back(d);
  g.overall = overall;
  g.effective_overall = overall;
  g.recommendation = rules::RecommendationFor(overall);
  g.effective_recommendation = g.recommendation;
  g.notes.push_back("1 criterion had no data: delivery_critical_share");
  g.dmcs.push_back({"Honeywell <Elster>", 180000, 412311, 7});
  g.areas.push_back({"Eastern", "UKPN", "South", 1200, 900, 1000, 1});
  return g;
}

StatusPageInput Input(const rules::RulesSnapshot* snap) {
  StatusPageInput in;
  in.version = "1.2.3 (revision abc)";
  in.stream_time = EventTime{1'700'000'000'000};
  in.generated_at_ms = 1'700'000'100'000;
  in.rules = snap;
  StatusAreaRow eastern;
  eastern.name = "Eastern";
  eastern.dno_group = "UKPN";
  eastern.region = "South";
  eastern.alerts_1h = 4321;
  eastern.alerts_24h = 1234567;
  for (size_t h = 0; h < 24; ++h) eastern.hourly[h] = h * 10;
  in.areas.push_back(eastern);
  StatusAreaRow hostile;
  hostile.name = "<script>alert(1)</script>";
  hostile.dno_group = "A&B";
  hostile.region = "\"North\"";
  in.areas.push_back(hostile);
  in.consumer.present = true;
  in.consumer.assigned_partitions = 16;
  in.consumer.lag_messages = 42;
  in.consumer.lag_seconds = 3.5;
  in.consumer.consumed = 987654;
  in.consumer.applied = 987650;
  in.consumer.dead_lettered = 12;
  in.consumer.ready = true;
  return in;
}

rules::RulesSnapshot Snapshot() {
  rules::RulesSnapshot s;
  s.evaluated_at = EventTime{1'700'000'000'000};
  s.gonogo = Decision("2023-11-14", Rag::kAmber);
  s.gonogo.daily = false;
  s.gonogo_history.push_back(Decision("2023-11-13", Rag::kGreen));
  s.gonogo_history.push_back(Decision("2023-11-14", Rag::kRed));
  rules::Finding f;
  f.id = "storm:area=Eastern:1";
  f.kind = rules::FindingKind::kStorm;
  f.severity = rules::Severity::kCritical;
  f.area = AreaId{0};
  f.scope = "area=Eastern category=voltage";
  f.start = EventTime{1'699'990'000'000};
  f.explanation = "voltage alerts at 12x the usual rate <for this hour>";
  s.open_findings.push_back(f);
  rules::DeliveryRow row;
  row.priority = "critical";
  row.region = "South";
  row.window = "24h";
  row.delivered = 1000;
  row.within_target = 990;
  row.share = 0.99;
  row.rag = Rag::kGreen;
  row.target_ms = 30000;
  row.target_service_level = 0.985;
  row.minimum_service_level = 0.95;
  s.delivery.push_back(row);
  rules::DeliveryRow hour = row;
  hour.window = "1h";
  hour.region = "OnlyInTheHourWindow";
  s.delivery.push_back(hour);
  rules::CspDeliveryRow csp;
  csp.csp = "CSP South";
  csp.regions = {"South"};
  csp.delivery = row;
  csp.delivery.region = "CSP South";
  csp.delivery.rag = Rag::kRed;
  s.delivery_csp.push_back(csp);
  return s;
}

TEST(StatusHtmlTest, PageHasEverySectionWithItsFigures) {
  const rules::RulesSnapshot snap = Snapshot();
  const std::string html = RenderStatusPage(Input(&snap));
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"gonogo", "decisions", "findings", "areas", "delivery", "consumer"}) {
    EXPECT_NE(html.find(absl::StrCat("<section id=\"", id, "\"")), std::string::npos) << id;
  }
  // Header.
  EXPECT_NE(html.find("Version 1.2.3 (revision abc)"), std::string::npos);
  EXPECT_NE(html.find("Stream time 2023-11-14T22:13:20"), std::string::npos) << html;
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"30\">"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  // Go/No-Go: the overall in force as a word and a colour, the recommendation, each criterion.
  EXPECT_NE(html.find("Overall: <span class=\"rag rag-amber\">AMBER</span>"), std::string::npos);
  EXPECT_NE(html.find("go with caution: slow the migration"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">smets1_alerts_per_installation</th>"), std::string::npos);
  EXPECT_NE(html.find("2.29 &ge; amber 1.5: 412,311 alerts / 180,000 installations"),
            std::string::npos);
  EXPECT_NE(html.find("no alerts delivered"), std::string::npos);
  EXPECT_NE(html.find("SMETS1 alerts per installed meter &amp; day"), std::string::npos);
  // Decisions, newest first, each linking its report on this server.
  const size_t d14 = html.find("<th scope=\"row\">2023-11-14</th>");
  const size_t d13 = html.find("<th scope=\"row\">2023-11-13</th>");
  ASSERT_NE(d14, std::string::npos);
  ASSERT_NE(d13, std::string::npos);
  EXPECT_LT(d14, d13);
  EXPECT_NE(html.find("<a href=\"/reports/gonogo/2023-11-14.html\">"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"rag rag-red\">RED</span></td><td>pause the migration"),
            std::string::npos);
  // Findings, with the area's name and the explanation escaped.
  EXPECT_NE(html.find("<th scope=\"row\">storm</th><td class=\"sev-critical\">critical</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<strong>Eastern</strong><br>area=Eastern category=voltage"),
            std::string::npos);
  EXPECT_NE(html.find("usual rate &lt;for this hour&gt;"), std::string::npos);
  // Areas.
  EXPECT_NE(html.find("<td class=\"num\">4,321</td><td class=\"num\">1,234,567</td>"),
            std::string::npos);
  // Delivery: the 24 h window only, per region and per CSP.
  EXPECT_NE(html.find("<th scope=\"row\">critical</th><td>South</td><td class=\"num\">1,000</td>"),
            std::string::npos);
  EXPECT_NE(html.find("99.00 %"), std::string::npos);
  EXPECT_EQ(html.find("OnlyInTheHourWindow"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">CSP South</th><td>critical</td>"), std::string::npos);
  // Consumer.
  EXPECT_NE(html.find("<th scope=\"row\">Messages consumed</th><td class=\"num\">987,654</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">Assigned partitions</th><td class=\"num\">16</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">Dead-lettered</th><td class=\"num\">12</td>"),
            std::string::npos);
  // Accessible tables.
  EXPECT_GE(Count(html, "<caption>"), 6u);
  ExpectNoExternalReferences(html);
}

TEST(StatusHtmlTest, EscapesEverythingFromConfigAndData) {
  const rules::RulesSnapshot snap = Snapshot();
  const std::string html = RenderStatusPage(Input(&snap));
  EXPECT_EQ(html.find("<script>alert(1)</script>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">&lt;script&gt;alert(1)&lt;/script&gt;</th>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>A&amp;B</td><td>&quot;North&quot;</td>"), std::string::npos);
  EXPECT_EQ(HtmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
}

TEST(StatusHtmlTest, SparklineHasOnePointPerHour) {
  const rules::RulesSnapshot snap = Snapshot();
  const std::string html = RenderStatusPage(Input(&snap));
  // One sparkline per area, each a polyline of 24 points, the hourly counts scaled to its height
  // (the newest, 230, at the top; the oldest, 0, at the bottom).
  EXPECT_EQ(Count(html, "<svg class=\"spark\""), 2u);
  const std::regex poly("<polyline points=\"([^\"]*)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, poly));
  const std::string points = m[1];
  EXPECT_EQ(Count(points, ","), 24u) << points;
  EXPECT_EQ(points.rfind("2.0,26.0 ", 0), 0u) << points;
  EXPECT_NE(points.find(" 142.0,2.0"), std::string::npos) << points;
  EXPECT_NE(html.find("Eastern, alerts per hour: 24 hours, min 0, max 230, latest 230"),
            std::string::npos);
}

TEST(StatusHtmlTest, SaysWhatIsMissingWithoutRulesOrIngestion) {
  StatusPageInput in = Input(nullptr);
  in.consumer = {};
  in.stream_time = EventTime::Min();
  const std::string html = RenderStatusPage(in);
  EXPECT_NE(html.find("Rules are off (no rules.yaml): no Go/No-Go."), std::string::npos);
  EXPECT_NE(html.find("No daily decision yet."), std::string::npos);
  EXPECT_NE(html.find("Rules are off: no findings."), std::string::npos);
  EXPECT_NE(html.find("No ingestion running."), std::string::npos);
  EXPECT_NE(html.find("Stream time none yet"), std::string::npos);
  ExpectNoExternalReferences(html);
}

TEST(StatusHtmlTest, GoNoGoReportAsHtmlWithTheSameCharts) {
  rules::GoNoGoResult g = Decision("2023-11-14", Rag::kRed);
  g.overall = Rag::kAmber;
  g.overall_overridden = true;
  g.overrides.push_back({"overall", Rag::kRed, "known <DMC> fault", "ops & co", 1'700'000'000'000});
  const std::string html = GoNoGoToHtml(g);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>SMETS1 migration Go/No-Go, 2023-11-14 06:00:00 GMT (daily "
                      "decision)</title>"),
            std::string::npos);
  EXPECT_NE(html.find("Overall: <span class=\"rag rag-red\">RED (override)</span>"),
            std::string::npos);
  EXPECT_NE(html.find("(computed <span class=\"rag rag-amber\">AMBER</span>"), std::string::npos);
  EXPECT_NE(html.find("known &lt;DMC&gt; fault"), std::string::npos);
  EXPECT_NE(html.find("ops &amp; co"), std::string::npos);
  EXPECT_NE(html.find("Honeywell &lt;Elster&gt;"), std::string::npos);
  EXPECT_NE(html.find("first decision"), std::string::npos);
  // The criterion's chart (the status page's) and the DMC and area bars.
  EXPECT_NE(html.find("<svg class=\"bar rag-amber\""), std::string::npos);
  EXPECT_NE(html.find("<line class=\"mark-amber\""), std::string::npos);
  EXPECT_NE(html.find("Honeywell &lt;Elster&gt;: 2.29 alerts per installation"), std::string::npos);
  EXPECT_NE(html.find("Eastern: 90 % of threshold"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_EQ(html.find("http-equiv=\"refresh\""), std::string::npos);  // a report, not a page
  ExpectNoExternalReferences(html);
}

TEST(StatusHtmlTest, HistoryFilesIncludeTheHtmlReport) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "smetsmon-status-html-history";
  std::filesystem::remove_all(dir);
  const rules::GoNoGoResult g = Decision("2023-11-14", Rag::kAmber);
  ASSERT_TRUE(WriteGoNoGoHistory(dir.string(), g).ok());
  for (const char* ext : {".json", ".txt", ".html"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / absl::StrCat("gonogo-2023-11-14", ext))) << ext;
  }
  std::ifstream in(dir / "gonogo-2023-11-14.html");
  const std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(html, GoNoGoToHtml(g));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smetsmon::report
