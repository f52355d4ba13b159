// smetsmon run --config FILE, and smetsmon demo: the long-running daemon (see commands.h).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <boost/asio.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/api.h"
#include "app/commands.h"
#include "app/daemon.h"
#include "app/reload.h"
#include "app/sd_notify.h"
#include "app/settings.h"
#include "base/fields.h"
#include "base/log.h"
#include "gen/kafka_loadgen.h"
#include "http/server.h"
#include "ingest/kafka_source.h"
#include "metrics/daemon_metrics.h"
#include "report/rules_json.h"
#include "smetsmon/version.h"
#include "webhook/config.h"

namespace smetsmon::app {
namespace {

void NotifySystemd(std::string_view state) {
  if (absl::Status s = SdNotify(state); !s.ok()) {
    Log(LogLevel::kWarn, "systemd notification not sent", {{"error", std::string(s.message())}});
  }
}

// The findings' outputs from the `webhooks:` settings: the DNO webhook dispatcher (its own
// delivery thread) and the Alertmanager sink (on the io thread).
absl::Status StartOutputs(const Settings& settings, const catalog::AreaTable& areas,
                          const Clock& clock, boost::asio::io_context& io, Daemon* d) {
  auto config = webhook::LoadWebhookConfig(settings.webhooks, settings.settings_file, areas);
  if (!config.ok()) return config.status();
  if (config->receivers.empty() && !config->alertmanager) return absl::OkStatus();
  if (d->evaluator == nullptr) {
    Log(LogLevel::kWarn, "webhooks configured but rules are off: nothing will be sent");
    return absl::OkStatus();
  }
  if (config->alertmanager) {
    auto sink =
        webhook::AlertmanagerSink::Create(*config->alertmanager, config->external_url, areas, io);
    if (!sink.ok()) return sink.status();
    d->alertmanager = std::move(*sink);
    Log(LogLevel::kInfo, "alertmanager sink", {{"url", config->alertmanager->url.text}});
  }
  if (!config->receivers.empty()) {
    const size_t receivers = config->receivers.size();
    const std::string spool = config->spool_dir;
    auto dispatcher = webhook::Dispatcher::Create(*std::move(config), areas, clock);
    if (!dispatcher.ok()) return dispatcher.status();
    d->webhooks = std::move(*dispatcher);
    d->webhooks->Start();
    Log(LogLevel::kInfo, "webhooks",
        {{"receivers", std::to_string(receivers)},
         {"spool_dir", spool},
         {"pending", std::to_string(d->webhooks->pending())}});
  }
  d->webhook_metrics =
      std::make_unique<metrics::WebhookMetrics>(d->webhooks.get(), d->alertmanager.get());
  return absl::OkStatus();
}

// After an evaluation (on the rules thread): every open finding and the recently closed ones to
// the DNO webhook dispatcher, which spools and sends only what changed.
void PublishFindings(Daemon& d) {
  if (d.webhooks == nullptr) return;
  auto snap = std::make_shared<const rules::RulesSnapshot>(d.evaluator->Snapshot());
  // A spool write error is logged by the dispatcher; the notification stays queued in memory.
  for (const rules::Finding& f : snap->open_findings) (void)d.webhooks->Enqueue(f, false);
  for (const rules::Finding& f : snap->closed_findings) (void)d.webhooks->Enqueue(f, true);
}

}  // namespace

pipeline::PipelineConfig PipelineConfigOf(const Settings& settings) {
  pipeline::PipelineConfig c;
  c.reference = settings.reference;
  c.engine = settings.engine;
  c.inventory_path = settings.inventory_path;
  c.checkpoint_path = settings.checkpoint_path;
  c.max_inflight_batches = settings.kafka.max_inflight_batches;
  return c;
}

absl::Status RunDaemon(const Settings& settings, const DaemonHooks& hooks) {
  SystemClock system_clock;
  const Clock& clock = hooks.clock != nullptr ? *hooks.clock : system_clock;
  Daemon d;
  d.clock = &clock;
  d.bearer_token = settings.http_bearer_token;
  d.metrics_require_token = settings.http_metrics_require_token;
  // Again here: `demo --http` sets the listen address after the settings were loaded.
  if (auto s = CheckHttpExposure(settings); !s.ok()) return s;
  pipeline::PipelineConfig pipeline_config = PipelineConfigOf(settings);
  pipeline_config.log_findings = true;
  auto built = pipeline::Pipeline::Create(pipeline_config, clock);
  if (!built.ok()) return built.status();
  d.pipeline = std::move(*built);
  d.engine = &d.pipeline->engine();
  d.evaluator = d.pipeline->evaluator();
  const catalog::ReferenceData& ref = d.pipeline->ref();
  if (ref.inventory != nullptr) {
    Log(LogLevel::kInfo, "inventory loaded",
        {{"path", settings.inventory_path},
         {"devices", std::to_string(ref.inventory->size())},
         {"bad_rows", std::to_string(ref.inventory->stats().bad_rows)}});
  }
  {
    auto view = std::make_shared<Daemon::ConfigView>();
    view->catalogue = std::make_shared<const catalog::AlertCatalogue>(*ref.catalogue);
    if (d.evaluator != nullptr) {
      view->class_of_slot = d.evaluator->config().class_of_slot;
      for (const auto& c : d.evaluator->config().classes) view->class_names.push_back(c.name);
    }
    d.set_config_view(std::move(view));
  }
  d.config_metrics.MarkLoaded(clock.Now());
  ingest::KafkaConfig kafka = settings.kafka;
  kafka.checkpoint_interval_ms =
      settings.checkpoint_path.empty() ? 0 : settings.checkpoint_interval_ms;
  auto ingest = ingest::KafkaIngest::Create(*d.pipeline, kafka, clock);
  if (!ingest.ok()) return ingest.status();
  d.ingest = std::move(*ingest);
  d.metrics =
      std::make_unique<metrics::DaemonMetrics>(*d.engine, d.ingest.get(), clock, d.pipeline.get());
  if (d.evaluator) d.rules_metrics = std::make_unique<metrics::RulesMetrics>(*d.evaluator);

  boost::asio::io_context io;
  if (absl::Status s = StartOutputs(settings, *ref.areas, clock, io, &d); !s.ok()) return s;
  // After each evaluation (on the rules thread) the findings go to the outputs; the dispatcher
  // spools on this thread, the Alertmanager sink's sends run on the io thread.
  d.pipeline->set_on_evaluated([&d] { PublishFindings(d); });
  // The Alertmanager sink lives on the io thread and is told the rules' last state on a timer:
  // it re-sends firing findings each resend interval and retries a failed send at the next tick.
  boost::asio::steady_timer outputs_timer(io);
  std::function<void()> schedule_outputs = [&] {
    outputs_timer.expires_after(std::chrono::milliseconds(hooks.outputs_interval_ms));
    outputs_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const rules::RulesSnapshot snap = d.evaluator->Snapshot();
      d.alertmanager->Update(snap.open_findings, snap.closed_findings, clock.Now(),
                             clock.MonotonicNs() / 1'000'000);
      schedule_outputs();
    });
  };
  if (d.alertmanager != nullptr) schedule_outputs();
  auto server = http::Server::Start(
      io, settings.http_listen,
      [&d](const http::Request& r, http::Responder respond) {
        HandleHttp(d, r, std::move(respond));
      },
      settings.http_server);
  if (!server.ok()) return server.status();
  d.http_metrics = std::make_unique<metrics::HttpMetrics>((*server)->stats());
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&d](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    Log(LogLevel::kInfo, "stopping: draining, checkpointing, committing",
        {{"signal", std::to_string(sig)}});
    d.ingest->Stop();
  });
  // SIGHUP: reload alert_catalogue.yaml and rules.yaml (each validated first; see reload.h), on
  // the rules thread, so the io thread never waits for it; the rules then judge the last
  // readings at once with the new thresholds.
  boost::asio::signal_set hup(io, SIGHUP);
  const ConfigPaths config_paths{settings.reference.config_dir + "/alert_catalogue.yaml",
                                 settings.reference.config_dir + "/rules.yaml"};
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      const bool posted = d.pipeline->RunOnRules(
          [&d, &config_paths, &clock] { return ReloadConfig(d, config_paths, clock.Now()); });
      if (!posted) ReloadConfig(d, config_paths, clock.Now());  // rules off: the catalogue only
      wait_hup();
    });
  };
  wait_hup();
  std::thread io_thread([&io] { io.run(); });
  Log(LogLevel::kInfo, "listening",
      {{"url", "http://" + settings.http_listen.substr(0, settings.http_listen.rfind(':')) + ":" +
                   std::to_string((*server)->port())},
       {"paths",
        "/ /reports/gonogo/{latest,DATE}.html /healthz /readyz /metrics "
        "/api/v1/{findings,whatif,gonogo,delivery,top,storms,areas,catalogue,devices/ID}"}});
  if (hooks.on_started) hooks.on_started(d, (*server)->port());
  // Under systemd (Type=notify): ready once it serves; the watchdog is fed from the io thread
  // only while the poll loop turns, so a wedged consumer gets the unit restarted.
  NotifySystemd("READY=1\nSTATUS=consuming");
  boost::asio::steady_timer watchdog_timer(io);
  uint64_t watchdog_turns = 0;
  std::function<void()> feed_watchdog = [&, interval = WatchdogInterval()] {
    watchdog_timer.expires_after(*interval / 2);
    watchdog_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const uint64_t turns = d.ingest->loop_turns();
      if (turns != watchdog_turns) NotifySystemd("WATCHDOG=1");
      watchdog_turns = turns;
      feed_watchdog();
    });
  };
  if (WatchdogInterval().has_value()) boost::asio::post(io, feed_watchdog);
  d.ingest->Run();
  NotifySystemd(
      "STOPPING=1");  // until a signal or hooks stop it; everything it submitted is applied
  // The io thread stops first, so nothing hands the workers new tasks; then the workers finish
  // what is queued (a device query answers into the stopped io context) and stop, then the rules.
  io.stop();
  io_thread.join();
  d.pipeline->Stop();  // the Kafka source wrote the last checkpoint before it stopped
  // Pending notifications stay in the spool for the next start.
  if (d.webhooks) d.webhooks->Stop();
  const aggregate::CounterTotals c = d.engine->Counters();
  Log(LogLevel::kInfo, "stopped",
      {{"accepted", std::to_string(c.accepted)},
       {"duplicates", std::to_string(c.duplicates)},
       {"rejected", std::to_string(c.rejected_total())}});
  return absl::OkStatus();
}

int RunRun(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::puts(
          "usage: smetsmon run [--config FILE|DIR]\nRuns the daemon: Kafka in, HTTP out. Without "
          "--config: ./config if it exists, else /etc/smetsmon.");
      return 0;
    } else {
      std::fprintf(stderr, "smetsmon run: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const bool explicit_config = !config.empty();
  if (!explicit_config) config = DefaultConfigDir();
  Log(LogLevel::kInfo, "configuration",
      {{"path", config},
       {"from", explicit_config ? "--config" : "default search"},
       {"version", kVersion},
       {"revision", kRevision}});
  auto settings = LoadSettings(config);
  if (!settings.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n",
                 settings.status().ToString().c_str());
    return 2;
  }
  const absl::Status s = RunDaemon(*settings, {});
  if (!s.ok()) {
    std::fprintf(stderr, "smetsmon: %s\n", s.ToString().c_str());
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

int RunDemo(int argc, char** argv) {
  std::string config = "config";
  uint64_t premises = 200000;
  double rate = 50000;
  std::string http_listen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--premises" && i + 1 < argc) {
      premises = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--rate" && i + 1 < argc) {
      rate = std::atof(argv[++i]);
    } else if (a == "--http" && i + 1 < argc) {
      http_listen = argv[++i];
    } else {
      std::puts(
          "usage: smetsmon demo [--config DIR] [--premises N] [--rate MSG_PER_S] [--http "
          "HOST:PORT]\n"
          "Starts librdkafka's mock Kafka cluster in-process, a load generator replaying the last\n"
          "24 h of a generated fleet then sending live traffic, and the daemon; Ctrl-C stops.");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  auto settings = LoadSettings(config);
  if (!settings.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n",
                 settings.status().ToString().c_str());
    return 2;
  }
  if (!http_listen.empty()) settings->http_listen = http_listen;
  // The mock cluster lives in a host client handle of its own.
  char err[512];
  rd_kafka_conf_t* host_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(host_conf, "log_level", "3", err, sizeof err);  // it has no brokers of its own
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, host_conf, err, sizeof err);
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, 3);
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mock);
  // Enough partitions for the mock's 5 MiB-per-partition retention at zstd sizes.
  rd_kafka_mock_topic_create(mock, settings->kafka.topic.c_str(), 16, 1);
  if (!settings->kafka.dead_letter_topic.empty()) {
    rd_kafka_mock_topic_create(mock, settings->kafka.dead_letter_topic.c_str(), 1, 1);
  }
  settings->kafka.properties["bootstrap.servers"] = bootstraps;
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties.emplace("log_level", "3");

  auto ref = catalog::LoadReferenceConfig(settings->reference);
  if (!ref.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n", ref.status().ToString().c_str());
    return 2;
  }
  SystemClock clock;
  // The last 24 h as fast as `rate` allows, then live traffic paced to the wall clock.
  gen::GeneratorConfig day;
  day.premises = premises;
  day.start_ms = (clock.Now().ms / kMsPerMinute) * kMsPerMinute - 24 * kMsPerHour;
  day.duration_ms = 24 * kMsPerHour;
  // The fleet's inventory, so the Go/No-Go has its installation counts.
  if (settings->inventory_path.empty()) {
    settings->inventory_path =
        (std::filesystem::temp_directory_path() / "smetsmon-demo-inventory.csv").string();
    std::ofstream inventory(settings->inventory_path);
    gen::Generator(*ref->areas, *ref->catalogue, day).WriteInventoryCsv(inventory);
  }
  gen::LoadgenConfig lg;
  lg.bootstrap_servers = bootstraps;
  lg.topic = settings->kafka.topic;
  lg.rate_per_s = rate;
  gen::KafkaLoadgen history(*ref->areas, *ref->catalogue, day, lg, clock);
  gen::GeneratorConfig live = day;
  live.seed = day.seed + 1;
  live.population_seed = day.seed;  // the same fleet as the history, new traffic
  live.start_ms = day.start_ms + day.duration_ms;
  live.duration_ms = 30 * 24 * kMsPerHour;
  live.late_share = 0;  // the history already has them
  gen::LoadgenConfig live_lg = lg;
  live_lg.pace_to_clock = true;
  gen::KafkaLoadgen now_traffic(*ref->areas, *ref->catalogue, live, live_lg, clock);
  std::thread loadgen([&] {
    auto r = history.Run();
    if (r.ok()) {
      Log(LogLevel::kInfo, "loadgen: last 24 h sent, now live",
          {{"messages", std::to_string(r->sent)}});
      (void)now_traffic.Run();
    }
  });
  std::fprintf(stderr,
               "smetsmon demo: mock Kafka at %s, topic %s (16 partitions); %llu premises, "
               "history at %.0f msg/s then live. Ctrl-C to stop.\n",
               bootstraps.c_str(), settings->kafka.topic.c_str(),
               static_cast<unsigned long long>(premises), rate);
  DaemonHooks hooks;
  hooks.on_started = [](Daemon&, uint16_t port) {
    std::fprintf(
        stderr,
        "smetsmon demo: try  curl -s http://127.0.0.1:%u/metrics | grep smetsmon_\n"
        "               and  curl -s http://127.0.0.1:%u/api/v1/gonogo (also /api/v1/findings, "
        "/api/v1/whatif, /api/v1/top, /api/v1/areas)\n",
        port, port);
  };
  const absl::Status s = RunDaemon(*settings, hooks);
  history.Stop();
  now_traffic.Stop();
  loadgen.join();
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(host);
  if (!s.ok()) {
    std::fprintf(stderr, "smetsmon: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace smetsmon::app
