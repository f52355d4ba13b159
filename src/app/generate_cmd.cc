// smetsmon generate --out FILE : see commands.h.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "app/commands.h"
#include "app/settings.h"
#include "decode/fields.h"
#include "gen/generator.h"

namespace smetsmon::app {
namespace {

constexpr char kUsage[] =
    "usage: smetsmon generate --out FILE[.gz] [--config DIR] [--inventory-out CSV]\n"
    "                         [--truth-out JSON] [--premises N] [--hours H] [--start RFC3339]\n"
    "                         [--seed N] [--smets1-share X] [--no-scenarios] [--no-faults]\n"
    "Writes realistic alert traffic as JSON Lines (gzip if FILE ends in .gz): background alerts\n"
    "from a weighted population plus an SMETS1 DMC 8F40 flood, an 8014 flood, an area power cut\n"
    "and a national comms incident, with duplicates, late redeliveries and malformed lines.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "smetsmon generate: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

// Writes lines to a plain or gzip file.
class LineWriter {
 public:
  explicit LineWriter(const std::string& path) {
    gz_ = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gz_) {
      gzf_ = gzopen(path.c_str(), "wb6");
      if (gzf_ != nullptr) gzbuffer(gzf_, 1 << 20);
      ok_ = gzf_ != nullptr;
    } else {
      f_ = std::fopen(path.c_str(), "wb");
      ok_ = f_ != nullptr;
    }
  }
  bool ok() const { return ok_; }
  void Write(std::string_view line) {
    buf_.append(line).push_back('\n');
    if (buf_.size() > (1 << 20)) Flush();
  }
  bool Close() {
    Flush();
    if (gzf_ != nullptr) ok_ = gzclose(gzf_) == Z_OK && ok_;
    if (f_ != nullptr) ok_ = std::fclose(f_) == 0 && ok_;
    gzf_ = nullptr;
    f_ = nullptr;
    return ok_;
  }

 private:
  void Flush() {
    if (buf_.empty() || !ok_) return;
    if (gz_) {
      ok_ = gzwrite(gzf_, buf_.data(), static_cast<unsigned>(buf_.size())) ==
            static_cast<int>(buf_.size());
    } else {
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
    const std::string a = argv[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--out") {
      if (!value(&out)) return UsageError("--out needs a file");
    } else if (a == "--config") {
      if (!value(&config_dir)) return UsageError("--config needs a directory");
    } else if (a == "--inventory-out") {
      if (!value(&inventory_out)) return UsageError("--inventory-out needs a file");
    } else if (a == "--truth-out") {
      if (!value(&truth_out)) return UsageError("--truth-out needs a file");
    } else if (a == "--premises") {
      if (!value(&v) || std::atoll(v.c_str()) < 1) return UsageError("--premises needs N >= 1");
      config.premises = static_cast<uint64_t>(std::atoll(v.c_str()));
    } else if (a == "--hours") {
      if (!value(&v) || std::atof(v.c_str()) <= 0) return UsageError("--hours needs H > 0");
      config.duration_ms = static_cast<int64_t>(std::atof(v.c_str()) * kMsPerHour);
    } else if (a == "--start") {
      if (!value(&v)) return UsageError("--start needs an RFC 3339 time");
      const auto ms = decode::ParseRfc3339Utc(v);
      if (!ms) return UsageError("--start is not RFC 3339 UTC: " + v);
      config.start_ms = *ms;
    } else if (a == "--seed") {
      if (!value(&v)) return UsageError("--seed needs a number");
      config.seed = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--smets1-share") {
      if (!value(&v) || std::atof(v.c_str()) < 0 || std::atof(v.c_str()) > 1) {
        return UsageError("--smets1-share needs 0..1");
      }
      config.smets1_share = std::atof(v.c_str());
    } else if (a == "--no-scenarios") {
      config.dmc_flood.enabled = config.pf_flood.enabled = false;
      config.power_cut.enabled = config.comms_incident.enabled = false;
    } else if (a == "--no-faults") {
      config.duplicate_share = config.late_share = config.malformed_share = 0;
    } else {
      return UsageError("unknown argument " + a);
    }
  }
  if (out.empty()) return UsageError("--out is required");
  auto settings = LoadSettings(config_dir);
  if (!settings.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n",
                 settings.status().ToString().c_str());
    return 2;
  }
  auto ref = catalog::LoadReferenceConfig(settings->reference);
  if (!ref.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n", ref.status().ToString().c_str());
    return 2;
  }
  gen::Generator generator(*ref->areas, *ref->catalogue, config);
  if (!inventory_out.empty()) {
    std::ofstream inv(inventory_out, std::ios::binary);
    generator.WriteInventoryCsv(inv);
    if (!inv.good()) {
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
    std::ofstream tf(truth_out);
    tf << t.ToJson() << "\n";
  }
  std::fprintf(
      stderr,
      "smetsmon generate: %llu lines (%llu unique valid, %llu duplicates, %llu late, %llu "
      "malformed) for %llu premises into %s\n",
      static_cast<unsigned long long>(t.lines), static_cast<unsigned long long>(t.unique_valid),
      static_cast<unsigned long long>(t.duplicates), static_cast<unsigned long long>(t.late),
      static_cast<unsigned long long>(t.lines - t.valid),
      static_cast<unsigned long long>(config.premises), out.c_str());
  return 0;
}

}  // namespace smetsmon::app
