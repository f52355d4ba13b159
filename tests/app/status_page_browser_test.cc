// The status page in a real browser: the daemon on the mock cluster with the generator's traffic,
// headless Chromium (Debian's `chromium`, installed by scripts/bootstrap.sh --browser) loading
// GET / and dumping the DOM it built, then a screenshot saved under the build directory
// (status_page.png) for a person to look at. Without chromium the test fails, saying so.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "app/api.h"
#include "app/daemon.h"
#include "gen/generator.h"
#include "rules/format.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"

namespace smetsmon::app {
namespace {

// The browser's path, or "" when none is installed.
std::string FindChromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/lib/chromium/chromium"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

// Runs `command` (a shell line), returning its exit status and standard output.
std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string out;
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) return {-1, ""};
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int status = ::pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string ChromiumCommand(const std::string& chromium, const std::string& profile,
                            const std::string& args, const std::string& url) {
  // Headless, as root (no sandbox), with nothing reaching the network but the page itself.
  return absl::StrCat("timeout 60 ", chromium,
                      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                      "--disable-background-networking --disable-component-update --disable-sync "
                      "--disable-dev-shm-usage --user-data-dir=",
                      profile, " ", args, " ", url, " 2>", profile, "/stderr.txt");
}

TEST(StatusPageBrowserTest, ChromiumRendersTheStatusPageFromTheLiveDaemon) {
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty())
      << "chromium is not installed: run scripts/bootstrap.sh --browser (apt install chromium)";

  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string inventory = testing::TempPath("status-page-inventory.csv");
  // Eight hours from the generator's default start (00:00 UTC): its floods, and 06:00 London
  // (05:00 UTC) for a daily decision. The clock stands just past the traffic's end, so the stream
  // time (which advances with it once the partitions are read) stays on the traffic's day.
  gen::GeneratorConfig traffic;
  traffic.premises = 1500;
  traffic.duration_ms = 8 * kMsPerHour;
  const testing::ProducedTraffic produced =
      testing::ProduceGenerated(kafka, ref, traffic, "smets.alerts", 4, inventory);

  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = "status-page-test";
  settings->http_listen = "127.0.0.1:0";
  settings->engine.dedup_horizon_ms = 7 * kMsPerDay;
  settings->http_bearer_token = "";  // the browser sends no token
  settings->inventory_path = inventory;
  settings->checkpoint_path = "";
  ManualClock clock(ProcessingTime{traffic.start_ms + traffic.duration_ms + kMsPerMinute});
  DaemonHooks hooks;
  hooks.clock = &clock;

  const std::filesystem::path profile =
      std::filesystem::temp_directory_path() / "smetsmon-status-page-chromium";
  std::filesystem::remove_all(profile);
  std::filesystem::create_directories(profile);
  const std::filesystem::path screenshot =
      std::filesystem::path(SMETSMON_BINARY_DIR) / "status_page.png";
  std::filesystem::remove(screenshot);

  std::string curl_page, dom, metrics_text, latest_report, areas_json;
  int dom_rc = -1, shot_rc = -1, latest_status = 0;
  bool history_empty = true;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t port) {
    client =
        std::thread([&, port, engine = d.engine, ingest = d.ingest.get(), evaluator = d.evaluator] {
          const bool applied = ingest->WaitForApplied(produced.lines.size(), 60'000);
          EXPECT_TRUE(applied);
          // The rules evaluate on the minute grid of stream time: wait for the last whole minute's.
          for (int i = 0; i < 400; ++i) {
            const int64_t grid = engine->StreamTime().ms / kMsPerMinute * kMsPerMinute;
            if (evaluator->Snapshot().evaluated_at.ms == grid) break;
            ingest->WaitForApplied(~uint64_t{0}, 50);
          }
          metrics_text = testing::HttpGet(port, "/metrics", "").second;
          areas_json = testing::HttpGet(port, "/api/v1/areas", "").second;
          curl_page = testing::HttpGet(port, "/", "").second;
          const rules::RulesSnapshot snap = evaluator->Snapshot();
          history_empty = snap.gonogo_history.empty();
          latest_status = testing::HttpGet(port, "/reports/gonogo/latest.html", "").first;
          latest_report = testing::HttpGet(port, "/reports/gonogo/latest.html", "").second;
          const std::string url = absl::StrCat("http://127.0.0.1:", port, "/");
          std::tie(dom_rc, dom) =
              RunCommand(ChromiumCommand(chromium, profile.string(), "--dump-dom", url));
          shot_rc =
              RunCommand(ChromiumCommand(chromium, profile.string(),
                                         absl::StrCat("--screenshot=", screenshot.string(),
                                                      " --window-size=1280,2000 --hide-scrollbars"),
                                         url))
                  .first;
          ingest->Stop();
        });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;

  std::string chromium_stderr;
  {
    std::ifstream err(profile / "stderr.txt");
    chromium_stderr.assign(std::istreambuf_iterator<char>(err), {});
  }
  ASSERT_EQ(dom_rc, 0) << "chromium --dump-dom failed: " << chromium_stderr;
  // The DOM the browser built holds every section and the daemon's real figures.
  for (const char* id : {"gonogo", "decisions", "findings", "areas", "delivery", "consumer"}) {
    EXPECT_NE(dom.find(absl::StrCat("<section id=\"", id, "\"")), std::string::npos) << id;
  }
  EXPECT_NE(dom.find("<h1>smetsmon status</h1>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("SMETS1 migration Go/No-Go"), std::string::npos);
  EXPECT_NE(dom.find("<th scope=\"row\">smets1_alerts_per_installation</th>"), std::string::npos)
      << dom;
  EXPECT_NE(dom.find("<th scope=\"row\">Eastern</th>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<svg class=\"spark\""), std::string::npos);
  // The consumed count is the one the daemon's metrics give (every line produced).
  const double consumed =
      testing::MetricValue(metrics_text, "smetsmon_kafka_consumed_messages_total");
  EXPECT_EQ(consumed, static_cast<double>(produced.truth.lines));
  const std::string consumed_cell =
      absl::StrCat("<th scope=\"row\">Messages consumed</th><td class=\"num\">",
                   rules::FormatCount(static_cast<uint64_t>(consumed)), "</td>");
  EXPECT_NE(dom.find(consumed_cell), std::string::npos) << consumed_cell << "\n" << dom;
  // Eastern's alerts in 24 h as /api/v1/areas gives them, in its row, and its sparkline's.
  const size_t eastern = areas_json.find("\"name\":\"Eastern\"");
  ASSERT_NE(eastern, std::string::npos) << areas_json;
  const size_t day_at = areas_json.find("\"alerts_24h\":", eastern);
  ASSERT_NE(day_at, std::string::npos) << areas_json;
  const uint64_t eastern_24h = std::stoull(areas_json.substr(day_at + 13));
  EXPECT_GT(eastern_24h, 0u) << areas_json;
  const size_t row = dom.find("<th scope=\"row\">Eastern</th>");
  ASSERT_NE(row, std::string::npos) << dom;
  const std::string eastern_row = dom.substr(row, dom.find("</tr>", row) - row);
  EXPECT_NE(eastern_row.find(
                absl::StrCat("<td class=\"num\">", rules::FormatCount(eastern_24h), "</td>")),
            std::string::npos)
      << eastern_row;
  EXPECT_NE(eastern_row.find("Eastern, alerts per hour: 24 hours, min "), std::string::npos)
      << eastern_row;
  EXPECT_EQ(eastern_row.find(", max 0,"), std::string::npos) << eastern_row;
  EXPECT_EQ(dom.find("Stream time none yet"), std::string::npos);
  // The page is rendered on the server: curl sees the same content.
  EXPECT_NE(curl_page.find("<th scope=\"row\">Eastern</th>"), std::string::npos);
  EXPECT_NE(curl_page.find(consumed_cell), std::string::npos);
  EXPECT_EQ(curl_page.find("http://"), std::string::npos);
  EXPECT_EQ(curl_page.find("https://"), std::string::npos);
  // Nor does the browser's DOM reference another host.
  for (const char* attr : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "<script"}) {
    EXPECT_EQ(dom.find(attr), std::string::npos) << attr;
  }
  // Beside the screenshot, the page and the latest report as served, for a person to open.
  std::ofstream(std::filesystem::path(SMETSMON_BINARY_DIR) / "status_page.html") << curl_page;
  std::ofstream(std::filesystem::path(SMETSMON_BINARY_DIR) / "gonogo_report.html") << latest_report;
  // The traffic passed 06:00 London: a daily decision, listed and served as HTML.
  EXPECT_FALSE(history_empty);
  EXPECT_EQ(latest_status, 200);
  EXPECT_NE(latest_report.find("(daily decision)</title>"), std::string::npos) << latest_report;
  EXPECT_NE(dom.find("<a href=\"/reports/gonogo/2023-06-26.html\">"), std::string::npos) << dom;

  ASSERT_EQ(shot_rc, 0) << "chromium --screenshot failed: " << chromium_stderr;
  ASSERT_TRUE(std::filesystem::exists(screenshot)) << chromium_stderr;
  EXPECT_GT(std::filesystem::file_size(screenshot), 10u * 1024) << screenshot;
  std::filesystem::remove_all(profile);
}

// The page and the reports show fleet-level data: with a bearer token configured they need it,
// as /api/v1 does (answered before anything is read, so no pipeline is needed here).
TEST(StatusPageBrowserTest, PageAndReportsNeedTheBearerTokenWhenOneIsConfigured) {
  Daemon d;
  d.bearer_token = "s3cret";
  auto get = [&d](const std::string& target, const std::string& authorization) {
    http::Response answer;
    HandleHttp(d, {"GET", target, authorization, ""},
               [&answer](http::Response r) { answer = std::move(r); });
    return answer;
  };
  EXPECT_EQ(get("/", "").status, 401);
  EXPECT_EQ(get("/", "Bearer guess").status, 401);
  EXPECT_EQ(get("/reports/gonogo/latest.html", "").status, 401);
  EXPECT_EQ(get("/reports/gonogo/2023-06-26.html", "Bearer guess").status, 401);
  // With the token, and rules off (no evaluator): no report to give.
  EXPECT_EQ(get("/reports/gonogo/latest.html", "Bearer s3cret").status, 404);
  EXPECT_EQ(get("/reports/gonogo/2023-06-26", "Bearer s3cret").status, 404);
  EXPECT_EQ(get("/reports/other", "Bearer s3cret").status, 404);
}

}  // namespace
}  // namespace smetsmon::app
