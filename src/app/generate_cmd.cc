// smetsmon generate --out FILE : writes generated traffic as a replay file (see commands.h and
// gen/generator.h), optionally the matching inventory CSV and the truth JSON.
#include <zlib.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "app/commands.h"
#include "base/fields.h"
#include "catalog/reference_data.h"
#include "gen/generator.h"

namespace smetsmon::app {
namespace {

constexpr char kUsage[] =
    "usage: smetsmon generate --out FILE[.gz] [--config DIR] [--inventory-out CSV]\n"
    "                         [--truth-out JSON] [--premises N] [--hours H] [--start RFC3339]\n"
    "                         [--seed N] [--smets1-share X] [--no-scenarios] [--no-faults]\n"
    "Writes realistic alert traffic as JSON Lines (gzip if FILE ends in .gz, stdout if FILE is\n"
    "-): background alerts from a population weighted by area, plus an SMETS1 DMC 8F40 flood,\n"
    "an 8014 flood, an area power cut and a national comms incident, with duplicates, late\n"
    "redeliveries and malformed lines. The same options always give the same bytes.\n"
    "  --config DIR         directory with areas.yaml and alert_catalogue.yaml (default config)\n"
    "  --inventory-out CSV  also write the population as the contract's inventory CSV\n"
    "  --truth-out JSON     also write what was generated (counts to reconcile with a replay)\n"
    "  --premises N         premises, each a comms hub and an electricity meter (100000)\n"
    "  --hours H            event-time span in hours (24; late redeliveries need more than 25)\n"
    "  --start RFC3339      event time of the first minute (2023-06-26T00:00:00Z)\n"
    "  --seed N             random seed (1)\n"
    "  --smets1-share X     share of SMETS1 premises, 0..1 (0.25)\n"
    "  --no-scenarios       background traffic only\n"
    "  --no-faults          no duplicates, late redeliveries or malformed lines\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "smetsmon generate: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

// Whole-string numeric parses: "12abc" is an error, not 12.
template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// Buffered line output to a plain file, stdout or (".gz") a gzip stream. Fast level 1: the
// generator writes over 1 M lines/s and JSON compresses well even so.
class LineWriter {
 public:
  explicit LineWriter(const std::string& path) {
    gz_ = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gz_) {
      gzf_ = gzopen(path.c_str(), "wb1");
      if (gzf_ != nullptr) gzbuffer(gzf_, 1 << 20);
      ok_ = gzf_ != nullptr;
    } else if (path == "-") {
      f_ = stdout;
      ok_ = true;
    } else {
      f_ = std::fopen(path.c_str(), "wb");
      ok_ = f_ != nullptr;
    }
    buf_.reserve(kFlushBytes + 4096);
  }
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  ~LineWriter() { Close(); }

  bool ok() const { return ok_; }
  void Write(std::string_view line) {
    buf_.append(line);
    buf_.push_back('\n');
    if (buf_.size() >= kFlushBytes) Flush();
  }
  bool Close() {
    Flush();
    if (gzf_ != nullptr) ok_ = gzclose(gzf_) == Z_OK && ok_;
    if (f_ == stdout) {
      ok_ = std::fflush(f_) == 0 && ok_;
    } else if (f_ != nullptr) {
      ok_ = std::fclose(f_) == 0 && ok_;
    }
    gzf_ = nullptr;
    f_ = nullptr;
    return ok_;
  }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  void Flush() {
    if (buf_.empty()) return;
    if (ok_ && gzf_ != nullptr) {
      ok_ = gzwrite(gzf_, buf_.data(), static_cast<unsigned>(buf_.size())) ==
            static_cast<int>(buf_.size());
    } else if (ok_ && f_ != nullptr) {
      ok_ = std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size();
    }
    buf_.clear();
  }
  bool gz_ = false;
  gzFile gzf_ = nullptr;
  std::FILE* f_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

}  // namespace

int RunGenerate(int argc, char** argv) {
  gen::GeneratorConfig config;
  std::string out, config_dir = "config", inventory_out, truth_out;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&](std::string* v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--out") {
      if (!value(&out) || out.empty()) return UsageError("--out needs a file");
    } else if (a == "--config") {
      if (!value(&config_dir) || config_dir.empty()) {
        return UsageError("--config needs a directory");
      }
    } else if (a == "--inventory-out") {
      if (!value(&inventory_out) || inventory_out.empty()) {
        return UsageError("--inventory-out needs a file");
      }
    } else if (a == "--truth-out") {
      if (!value(&truth_out) || truth_out.empty()) return UsageError("--truth-out needs a file");
    } else if (a == "--premises") {
      uint64_t n = 0;
      if (!value(&v) || !ParseNumber(v, &n) || n < 1 || n > 0xFFFFFFFFULL) {
        return UsageError("--premises needs a whole number from 1 to 4294967295");
      }
      config.premises = n;
    } else if (a == "--hours") {
      double h = 0;
      if (!value(&v) || !ParseNumber(v, &h) || !(h > 0) || h > 24.0 * 366) {
        return UsageError("--hours needs a number of hours, more than 0 and at most a year");
      }
      config.duration_ms = static_cast<int64_t>(h * static_cast<double>(kMsPerHour));
    } else if (a == "--start") {
      if (!value(&v)) return UsageError("--start needs an RFC 3339 UTC time");
      const auto ms = ParseRfc3339Utc(v);
      if (!ms) return UsageError("--start is not RFC 3339 UTC: " + v);
      config.start_ms = *ms;
    } else if (a == "--seed") {
      if (!value(&v) || !ParseNumber(v, &config.seed)) {
        return UsageError("--seed needs a whole number");
      }
    } else if (a == "--smets1-share") {
      double x = -1;
      if (!value(&v) || !ParseNumber(v, &x) || !(x >= 0 && x <= 1)) {
        return UsageError("--smets1-share needs a number from 0 to 1");
      }
      config.smets1_share = x;
    } else if (a == "--no-scenarios") {
      config.dmc_flood.enabled = config.pf_flood.enabled = false;
      config.power_cut.enabled = config.comms_incident.enabled = false;
    } else if (a == "--no-faults") {
      config.duplicate_share = config.late_share = config.malformed_share = 0;
    } else {
      return UsageError("unknown argument " + std::string(a));
    }
  }
  if (out.empty()) return UsageError("--out is required");
  // A monitor rejects events more than 1 h in its future: refuse to write a file it would reject.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (config.start_ms + config.duration_ms > now_ms + kMsPerHour) {
    return UsageError("--start plus --hours ends in the future (" +
                      FormatRfc3339Utc(config.start_ms + config.duration_ms) +
                      "): a monitor would reject those events");
  }

  catalog::ReferenceOptions options;
  // Like the other commands, accept the smetsmon.yaml file itself and use its directory.
  options.config_dir = std::filesystem::is_regular_file(config_dir)
                           ? std::filesystem::path(config_dir).parent_path().string()
                           : config_dir;
  if (options.config_dir.empty()) options.config_dir = ".";
  auto ref = catalog::LoadReferenceConfig(options);
  if (!ref.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n", ref.status().ToString().c_str());
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  gen::Generator generator(*ref->areas, *ref->catalogue, config);
  if (!inventory_out.empty()) {
    std::ofstream inv(inventory_out, std::ios::binary);
    if (inv) generator.WriteInventoryCsv(inv);
    inv.close();
    if (!inv) {
      std::fprintf(stderr, "smetsmon: cannot write %s\n", inventory_out.c_str());
      return 1;
    }
  }
  LineWriter writer(out);
  if (!writer.ok()) {
    std::fprintf(stderr, "smetsmon: cannot create %s\n", out.c_str());
    return 1;
  }
  generator.Run([&](std::string_view line) { writer.Write(line); });
  if (!writer.Close()) {
    std::fprintf(stderr, "smetsmon: write to %s failed\n", out.c_str());
    return 1;
  }
  const gen::GeneratedTruth& t = generator.truth();
  if (!truth_out.empty()) {
    std::ofstream tf(truth_out, std::ios::binary);
    tf << t.ToJson() << "\n";
    tf.close();
    if (!tf) {
      std::fprintf(stderr, "smetsmon: cannot write %s\n", truth_out.c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(
      stderr,
      "smetsmon generate: %llu lines (%llu unique valid, %llu duplicates, %llu late, "
      "%llu malformed) for %llu premises, %s to %s, into %s in %.1f s\n",
      static_cast<unsigned long long>(t.lines), static_cast<unsigned long long>(t.unique_valid),
      static_cast<unsigned long long>(t.duplicates), static_cast<unsigned long long>(t.late),
      static_cast<unsigned long long>(t.lines - t.valid),
      static_cast<unsigned long long>(config.premises), FormatRfc3339Utc(config.start_ms).c_str(),
      FormatRfc3339Utc(config.start_ms + config.duration_ms).c_str(), out.c_str(), seconds);
  return 0;
}

}  // namespace smetsmon::app
