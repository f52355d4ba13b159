// Every PromQL expression of the Grafana dashboards (deploy/grafana/dashboards/*.json), panels'
// targets and variables' queries alike, run against a real Prometheus (Debian package
// `prometheus`) that scrapes the daemon fed a day of generated traffic with its scenarios (the
// SMETS1 floods, a power cut, a comms incident) on the mock Kafka cluster and that loads the
// recording rules of deploy/prometheus/smetsmon.rules.yml. The dashboard's variables are set to
// values present in the data (the area of the power cut, the daemon's instance, ...). Each
// expression must answer `success` with at least one series, and every metric or recording rule
// it names must exist in Prometheus: a misspelt name fails the test even where an expression
// falls back on another series (`... or sum(...{area="all"}) * 0`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "app/daemon.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"
#include "webhook/mini_json.h"
#include "webhook/test_receiver.h"

namespace smetsmon::app {
namespace {

using webhook::testing::Json;
using webhook::testing::JsonParser;

constexpr char kSecretEnv[] = "SMETSMON_DASHBOARDS_TEST_SECRET";

std::string UrlEncode(const std::string& s) {
  std::string q;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      q.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      q += buf;
    }
  }
  return q;
}

struct QueryAnswer {
  bool ok = false;    // HTTP 200 and status "success"
  std::string error;  // Prometheus' error, or the HTTP status
  std::vector<Json> result;
};

QueryAnswer Query(uint16_t port, const std::string& promql) {
  QueryAnswer a;
  const auto [status, body] = testing::HttpGet(port, "/api/v1/query?query=" + UrlEncode(promql));
  auto json = JsonParser::Parse(body);
  if (!json) {
    a.error = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
    return a;
  }
  if ((*json)["status"].string != "success") {
    a.error = (*json)["errorType"].string + ": " + (*json)["error"].string;
    return a;
  }
  a.ok = true;
  const Json& data = (*json)["data"];
  if (data["resultType"].string == "scalar" || data["resultType"].string == "string") {
    a.result.push_back(data["result"]);
  } else {
    a.result = data["result"].array;
  }
  return a;
}

// One expression of a dashboard, with where it comes from.
struct Expression {
  std::string dashboard;
  std::string where;  // panel title and refId, or "variable NAME"
  std::string expr;   // as written in the dashboard
};

struct Variable {
  std::string name;
  std::string type;   // datasource, query, custom, ...
  std::string query;  // query: label_values(...); custom: comma-separated values
  std::string current;
};

struct Dashboard {
  std::string file;
  std::string title;
  std::vector<Variable> variables;
  std::vector<Expression> targets;
};

void CollectPanels(const Json& panels, Dashboard* d) {
  for (const Json& p : panels.array) {
    for (const Json& t : p["targets"].array) {
      if (t["expr"].is_string()) {
        d->targets.push_back({d->file, "panel \"" + p["title"].string + "\" " + t["refId"].string,
                              t["expr"].string});
      }
    }
    CollectPanels(p["panels"], d);  // a row's panels (collapsed rows keep them inside)
  }
}

Dashboard LoadDashboard(const std::filesystem::path& path) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  Dashboard d;
  d.file = path.filename().string();
  auto json = JsonParser::Parse(text);
  EXPECT_TRUE(json.has_value()) << path << " is not valid JSON";
  if (!json) return d;
  d.title = (*json)["title"].string;
  EXPECT_FALSE((*json)["uid"].string.empty()) << d.file;
  for (const Json& v : (*json)["templating"]["list"].array) {
    Variable var{v["name"].string, v["type"].string, "", ""};
    const Json& q = v["query"];
    var.query = q.is_string() ? q.string : q["query"].string;
    const Json& cur = v["current"]["value"];
    if (cur.is_string()) var.current = cur.string;
    d.variables.push_back(var);
  }
  CollectPanels((*json)["panels"], &d);
  return d;
}

// `label_values(SELECTOR, LABEL)` as PromQL (`group by (LABEL) (SELECTOR)`) and the label.
bool LabelValuesQuery(const std::string& q, std::string* promql, std::string* label) {
  static const std::regex re(
      R"(^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$)");
  std::smatch m;
  if (!std::regex_match(q, m, re)) return false;
  *promql = "group by (" + m[2].str() + ") (" + m[1].str() + ")";
  *label = m[2].str();
  return true;
}

// Grafana's interpolation of `vars` (and the built-in intervals) into `expr`: $name, ${name} and
// ${name:format} (single values, so every format gives the value itself).
std::string Interpolate(std::string expr, const std::map<std::string, std::string>& vars) {
  std::map<std::string, std::string> all = vars;
  all["__rate_interval"] = "1m";
  all["__interval"] = "15s";
  all["__interval_ms"] = "15000";
  all["__range"] = "5m";
  all["__range_s"] = "300";
  all["__range_ms"] = "300000";
  std::vector<std::string> names;
  for (const auto& [name, value] : all) names.push_back(name);
  // Longest first, so that $area is not taken for the start of $area_group.
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& name : names) {
    const std::string& value = all[name];
    const std::regex braced("\\$\\{" + name + "(:[a-z]+)?\\}");
    expr = std::regex_replace(expr, braced, value);
    for (size_t at = expr.find("$" + name); at != std::string::npos;
         at = expr.find("$" + name, at + value.size())) {
      expr.replace(at, name.size() + 1, value);
    }
  }
  return expr;
}

// The metric and recording-rule names an expression reads.
std::set<std::string> NamesIn(const std::string& expr) {
  static const std::regex re(R"(\b(smetsmon[_:][a-zA-Z0-9_:]*|process_[a-z_]+)\b)");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), re); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

TEST(DashboardsTest, EveryPanelExpressionReturnsSeriesFromARealPrometheus) {
  // The dashboards first: a test that found none would prove nothing.
  std::vector<Dashboard> dashboards;
  const std::string dashboards_dir =
      std::string(SMETSMON_SOURCE_DIR) + "/deploy/grafana/dashboards";
  for (const auto& entry : std::filesystem::directory_iterator(dashboards_dir)) {
    if (entry.path().extension() == ".json") dashboards.push_back(LoadDashboard(entry.path()));
  }
  std::sort(dashboards.begin(), dashboards.end(),
            [](const Dashboard& a, const Dashboard& b) { return a.file < b.file; });
  ASSERT_GE(dashboards.size(), 4u);
  size_t target_count = 0;
  for (const Dashboard& d : dashboards) {
    EXPECT_FALSE(d.targets.empty()) << d.file;
    target_count += d.targets.size();
    // Every panel reads the data source the `datasource` variable selects.
    EXPECT_TRUE(std::any_of(d.variables.begin(), d.variables.end(), [](const Variable& v) {
      return v.type == "datasource";
    })) << d.file;
  }

  ::setenv(kSecretEnv, "dashboards-test-secret", 1);
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string dir = testing::TempPath("dashboards");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // A day of traffic ending now, on the system clock (the delivery windows, the outage history
  // and the migration projection are judged against it): the daily Go/No-Go decision (06:00
  // Europe/London) falls in it, the power cut (North West) and the other scenarios happen; the
  // inventory gives the migration-load families.
  // Four partitions, keyed by device as a real source is: the source merges them in event-time
  // order (catchup_test shows the answers do not depend on how they are fetched).
  gen::GeneratorConfig day;
  day.premises = 5000;
  day.start_ms = (SystemClock().Now().ms / kMsPerMinute) * kMsPerMinute - 24 * kMsPerHour;
  day.duration_ms = 24 * kMsPerHour;
  const testing::ProducedTraffic produced = testing::ProduceGenerated(
      kafka, ref, day, "smets.alerts", 4, dir + "/inventory.csv", testing::Partitioning::kByDevice);
  const std::vector<std::string>& lines = produced.lines;

  // A DNO's webhook receiver (the power cut's DNO group) and the Alertmanager sink, both answered
  // by a test receiver, so the output families are exported and move.
  webhook::testing::TestReceiver receiver;
  ASSERT_TRUE(receiver.Start());
  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = "dashboards-test";
  settings->http_listen = "127.0.0.1:0";
  settings->engine.dedup_horizon_ms = 7 * kMsPerDay;
  // No idle advance while the backlog is read (it would make the rest of the day late).
  settings->engine.idle_lag_ms = 48 * kMsPerHour;
  settings->inventory_path = dir + "/inventory.csv";
  settings->checkpoint_path = dir + "/checkpoint";
  settings->checkpoint_interval_ms = 1000;
  settings->webhooks = YAML::Load("spool_dir: " + dir +
                                  "/spool\n"
                                  "external_url: http://127.0.0.1:9477\n"
                                  "backoff: {initial: 100, max: 500}\n"
                                  "receivers:\n"
                                  "  - name: electricity-north-west\n"
                                  "    url: " +
                                  receiver.Url("/hook") +
                                  "\n"
                                  "    areas: [Electricity North West]\n"
                                  "    secret_env: " +
                                  kSecretEnv +
                                  "\n"
                                  "alertmanager: {url: 'http://127.0.0.1:" +
                                  std::to_string(receiver.port()) + "', resend_interval: 1s}\n");
  DaemonHooks hooks;
  hooks.outputs_interval_ms = 50;

  bool applied = false, prometheus_started = false, scraped = false, outage_area_found = false;
  std::string instance, prometheus_log;
  std::vector<std::string> failures;
  size_t checked = 0;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t port) {
    client = std::thread([&, port, daemon = &d] {
      applied = daemon->ingest->WaitForApplied(lines.size(), 120'000);
      // The rules have judged everything read and the outputs have sent what they had to.
      testing::WaitUntil(
          [&] {
            const pipeline::PipelineStats ps = daemon->pipeline->stats();
            return ps.messages_submitted > 0 && ps.evaluated_messages == ps.messages_submitted &&
                   (daemon->webhooks == nullptr || daemon->webhooks->pending() == 0);
          },
          60'000, 50);
      {
        testing::PrometheusServer prometheus(
            dir, port, std::string(SMETSMON_SOURCE_DIR) + "/deploy/prometheus/smetsmon.rules.yml");
        const uint16_t prom_port = prometheus.port();
        prometheus_started = prometheus.started();
        // Enough scrapes for rate() over the dashboards' intervals (two samples at least), and
        // the recording rules evaluated over them.
        scraped = testing::WaitUntil(
            [&] {
              const QueryAnswer a =
                  Query(prom_port,
                        "count_over_time(up{job=\"smetsmon\"}[1m]) >= 5 and on () "
                        "count(count_over_time(smetsmon:events_accepted:rate5m[1m]) >= 2)");
              return a.ok && !a.result.empty();
            },
            90'000, 200);
        if (scraped) {
          const QueryAnswer inst = Query(prom_port, "smetsmon_build_info");
          if (!inst.result.empty()) instance = inst.result[0]["metric"]["instance"].string;
          // The area to show: the one of the power cut (its series exist once it had one).
          const QueryAnswer outage =
              Query(prom_port, "group by (area) (smetsmon_power_outage_premises)");
          std::string outage_area, outage_dno_group;
          if (!outage.result.empty()) {
            outage_area = outage.result[0]["metric"]["area"].string;
            outage_area_found = true;
            for (size_t a = 0; a < ref.areas->size(); ++a) {
              const catalog::Area& area = ref.areas->area(AreaId{static_cast<uint8_t>(a)});
              if (area.name == outage_area) outage_dno_group = area.dno_group;
            }
          }

          // Each dashboard's variables, in order (later ones may use earlier ones).
          struct Pending {
            Expression e;
            std::string promql;
            std::string last_error;
            bool done = false;
          };
          std::vector<Pending> pending;
          for (const Dashboard& dash : dashboards) {
            std::map<std::string, std::string> values;
            for (const Variable& v : dash.variables) {
              if (v.type == "datasource") continue;  // ${datasource}: not in any expression
              if (v.name == "instance") {
                values[v.name] = instance;
              } else if (v.type == "custom") {
                // The option the dashboard selects, else the outage's area where it is an option
                // (area names), else the first option.
                const std::vector<std::string> options = absl::StrSplit(v.query, ',');
                if (std::find(options.begin(), options.end(), v.current) != options.end()) {
                  values[v.name] = v.current;
                } else if (std::find(options.begin(), options.end(), outage_area) !=
                           options.end()) {
                  values[v.name] = outage_area;
                } else {
                  values[v.name] = options.front();
                }
              } else if (v.type == "query") {
                std::string promql, label;
                if (!LabelValuesQuery(v.query, &promql, &label)) {
                  failures.push_back(dash.file + " variable " + v.name +
                                     ": not label_values(SELECTOR, LABEL): " + v.query);
                  continue;
                }
                promql = Interpolate(promql, values);
                pending.push_back({{dash.file, "variable " + v.name, v.query}, promql, "", false});
                const QueryAnswer a = Query(prom_port, promql);
                std::set<std::string> found;
                for (const Json& s : a.result) found.insert(s["metric"][label].string);
                if (found.count(outage_area) != 0) {
                  values[v.name] = outage_area;
                } else if (found.count(outage_dno_group) != 0) {
                  values[v.name] = outage_dno_group;  // the DNO view's group: the power cut's
                } else if (found.count(v.current) != 0) {
                  values[v.name] = v.current;  // the dashboard's default (e.g. window="24h")
                } else if (!found.empty()) {
                  values[v.name] = *found.begin();
                }
                // An empty answer is reported with the expressions below; the value stays
                // unset so the expressions using it fail too.
                if (found.empty()) values[v.name] = "no value of " + v.name;
              } else {
                failures.push_back(dash.file + " variable " + v.name + ": type " + v.type +
                                   " is not handled by this test");
              }
            }
            for (const Expression& e : dash.targets) {
              pending.push_back({e, Interpolate(e.expr, values), "", false});
            }
          }
          // Every expression, and every name each reads, until all answer with series or the
          // deadline (recording rules and rates fill in over the first evaluations).
          std::set<std::string> names;
          for (const Pending& p : pending) {
            for (const std::string& n : NamesIn(p.promql)) names.insert(n);
          }
          std::map<std::string, bool> name_found;
          testing::WaitUntil(
              [&] {
                bool all = true;
                for (Pending& p : pending) {
                  if (p.done) continue;
                  const QueryAnswer a = Query(prom_port, p.promql);
                  p.done = a.ok && !a.result.empty();
                  p.last_error = !a.ok ? a.error : "no series";
                  all = all && p.done;
                }
                for (const std::string& n : names) {
                  if (name_found[n]) continue;
                  name_found[n] =
                      !Query(prom_port, "count({__name__=\"" + n + "\"})").result.empty();
                  all = all && name_found[n];
                }
                return all;
              },
              60'000, 1000);
          for (const Pending& p : pending) {
            ++checked;
            if (!p.done) {
              failures.push_back(p.e.dashboard + " " + p.e.where + ": " + p.last_error + "\n    " +
                                 p.promql);
            }
          }
          for (const auto& [n, found] : name_found) {
            if (!found) failures.push_back("no series named " + n + " in Prometheus");
          }
        }
      }
      std::ifstream log(dir + "/prometheus.log");
      prometheus_log.assign(std::istreambuf_iterator<char>(log), {});
      daemon->ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_TRUE(applied);
  ASSERT_TRUE(prometheus_started);
  ASSERT_TRUE(scraped) << prometheus_log;
  EXPECT_FALSE(instance.empty());
  EXPECT_TRUE(outage_area_found) << "the power cut's area has no smetsmon_power_outage_premises";
  EXPECT_GE(checked, target_count);
  std::string report;
  for (const std::string& f : failures) report += "\n  " + f;
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << checked
                                << " dashboard expressions failed:" << report;
}

}  // namespace
}  // namespace smetsmon::app
