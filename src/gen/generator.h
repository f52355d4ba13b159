// Generator of realistic alert traffic for replay files, benchmarks and the Kafka load generator:
// a device population weighted by real meter counts per DNO area (SMETS1/SMETS2 mix, DMCs,
// cohorts, IDNO MPANs, a comms hub and an electricity meter per premises), background alerts per
// code with a daily profile, and the scenarios operators live through: an SMETS1 DMC flooding
// 8F40, an 8014 flood, an area power cut (AD1 from the hubs, then 8F36 from the meters of the same
// premises), a national comms incident (a restoration flood with no outage before it), and the
// faults of the contract: duplicates, late redeliveries and malformed lines.
//
// Deterministic: the output is a function of the config only, byte for byte on every machine.
// All randomness comes from splitmix64 streams through hand-written integer distributions (no
// std:: distributions, no libm transcendental functions), because both differ between library
// versions and platforms.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "smetsmon/types.h"

namespace smetsmon::gen {

struct GeneratorConfig {
  uint64_t seed = 1;  // traffic (and, unless population_seed is set, the population)
  // Non-zero: the population (areas, MPANs, generations, DMCs) comes from this seed instead, so
  // that two runs with different traffic seeds describe the same estate (history + live demo).
  uint64_t population_seed = 0;
  uint64_t premises = 100000;  // each: a comms hub (CHF) and an electricity meter (ESME)
  double smets1_share = 0.25;
  std::vector<std::string> smets1_dmcs = {"MDS-ELSTER-A1140", "HONEYWELL-ELSTER-AS300",
                                          "SECURE-LIBERTY-100", "L+G-E470", "EDMI-ATLAS-MK10"};
  std::vector<std::string> cohorts = {"IOC", "MOC", "FOC"};
  int64_t start_ms = 1687737600000;  // 2023-06-26T00:00:00Z; event time of the first minute
  int64_t duration_ms = 24 * kMsPerHour;
  double smets1_alerts_per_day = 2.3;  // background, per premises (domain.md)
  double smets2_alerts_per_day = 1.6;

  // Scenarios; times are offsets from start_ms. Each can be disabled.
  // 8F40 with voltage_dv uniform in [2530, 2580] from the SMETS1 meters of one DMC.
  struct DmcFlood {
    bool enabled = true;
    std::string dmc = "MDS-ELSTER-A1140";
    int64_t start_offset_ms = 2 * kMsPerHour;
    int64_t duration_ms = 3 * kMsPerHour;
    double alerts_per_device_per_hour = 4;
  } dmc_flood;
  // 8014 from a share of the SMETS1 meters.
  struct PfFlood {
    bool enabled = true;
    int64_t start_offset_ms = 6 * kMsPerHour;
    int64_t duration_ms = 2 * kMsPerHour;
    double device_share = 0.05;
    double alerts_per_device_per_hour = 3;
  } pf_flood;
  // AD1 from the hubs of a share of one area's premises within 2 min of the start, then 8F36
  // (8F35 if the outage is under 3 min) from the same premises' meters within 2 min of the end.
  // The affected meters raise nothing else while off supply.
  struct PowerCut {
    bool enabled = true;
    std::string gsp_group = "_G";
    double premises_share = 0.2;
    int64_t start_offset_ms = 10 * kMsPerHour;
    int64_t duration_ms = 25 * kMsPerMinute;
  } power_cut;
  // 8F35/8F36 from a national share of meters over `spread_ms`, with no AD1 before them.
  struct CommsIncident {
    bool enabled = true;
    int64_t start_offset_ms = 14 * kMsPerHour;
    double premises_share = 0.1;
    int64_t spread_ms = 10 * kMsPerMinute;
  } comms_incident;
  // Recent SMETS1 migrations, in the inventory only (the traffic is the same): this share of the
  // SMETS1 premises has an installed_on in the `within_days` - 1 days before the start (the
  // others 2012-2018), so the migration-load rule has recent installations to take a rate from.
  struct RecentMigrations {
    bool enabled = true;
    double smets1_share = 0.1;
    int64_t within_days = 30;
  } recent_migrations;

  double duplicate_share = 0.002;  // re-sent 1-30 min of stream time later, same alert_id
  double late_share = 0.001;       // redelivered 25-47 h after it was raised (fresh alert_id)
  double malformed_share = 0.001;  // an invalid line of one of seven kinds
};

// What was written, for exact reconciliation with a monitor following the contract (1 h dedup
// horizon, 24 h longest window with 5 min allowed lateness). Complete once Run() has returned.
struct GeneratedTruth {
  uint64_t lines = 0;
  uint64_t valid = 0;         // lines that pass the contract
  uint64_t unique_valid = 0;  // valid - duplicates: the monitor's "accepted"
  uint64_t duplicates = 0;
  uint64_t late = 0;  // late redeliveries: older than every window when sent (valid, unique)
  std::map<std::string, uint64_t> rejected;            // reason -> lines
  std::map<std::string, uint64_t> alerts_by_category;  // unique valid, weighted by throttled_count
  std::map<std::string, uint64_t> alerts_by_code;  // "8F40" (or "other") -> unique valid, weighted
  uint64_t power_cut_premises = 0;
  uint64_t comms_incident_premises = 0;
  uint64_t dmc_flood_alerts = 0;  // weighted
  uint64_t pf_flood_alerts = 0;   // weighted
  int64_t first_event_ms = 0;     // smallest / largest event time of a unique valid line
  int64_t last_event_ms = 0;

  std::string ToJson() const;
};

// Generates the traffic of one config.
//
// Time domain: event time only (start_ms .. start_ms + duration_ms, and late redeliveries from
// inside that span); it never reads a clock. "Stream time" below is the largest event time
// emitted so far, as a monitor sees it.
// Thread-safety: none; one generator per thread (const methods may be called concurrently).
class Generator {
 public:
  Generator(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
            GeneratorConfig config);

  // Emits every line (no trailing newline) in generation order: minute by minute in event time,
  // sorted by time within the minute, with duplicates, late redeliveries and malformed lines
  // interleaved. The view is valid only during the call. `cancel`, when given and set, ends the
  // run at the next minute boundary (truth then describes the lines emitted). Each call starts
  // afresh and emits the same lines.
  void Run(const std::function<void(std::string_view line)>& sink,
           const std::atomic<bool>* cancel = nullptr);

  // The population as the contract's inventory CSV: a row per hub and per meter.
  void WriteInventoryCsv(std::ostream& out) const;

  const GeneratedTruth& truth() const { return truth_; }
  const GeneratorConfig& config() const { return config_; }

  // Device ids of premises i (exposed for tests): hubs 00-DB-..., meters 00-DC-...
  static DeviceId HubId(uint64_t premises) { return DeviceId{0x00DB000000000000ULL | premises}; }
  static DeviceId MeterId(uint64_t premises) { return DeviceId{0x00DC000000000000ULL | premises}; }
  // The premises' 13-digit MPAN core (valid check digit).
  uint64_t MpanOf(uint32_t premises) const;

  // splitmix64 with integer distributions: identical on every platform and library.
  // A plain value: thread-safety none (one per thread); no notion of time.
  class Rng {
   public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t Next() {
      uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    }
    // Uniform in [0, n) (multiply-shift; the bias of at most n / 2^64 is irrelevant here).
    uint64_t Below(uint64_t n) {
      return static_cast<uint64_t>((static_cast<__uint128_t>(Next()) * n) >> 64);
    }
    // True with probability threshold / 2^64 (see Threshold()).
    bool Chance(uint64_t threshold) { return Next() < threshold; }
    // Poisson-distributed count with the given mean (approximations exact enough for traffic).
    uint64_t Poisson(double mean);

   private:
    uint64_t state_;
  };
  // Probability p (clamped to [0, 1]) as a Chance() threshold. p * 2^64 is an exact scaling, so
  // the threshold is the same on every machine.
  static uint64_t Threshold(double p);

 private:
  // Premises flags.
  static constexpr uint8_t kSmets1 = 1 << 0;
  static constexpr uint8_t kIdno = 1 << 1;       // distributor id >= 24: area only in gsp_group
  static constexpr uint8_t kLowerCase = 1 << 2;  // upstream writes device ids in lower case
  static constexpr uint8_t kHexPrefix = 1 << 3;  // upstream writes codes as "0x8F40"
  static constexpr uint8_t kCut = 1 << 4;        // in the power cut
  static constexpr int kTimeStyleShift = 5;      // 2 bits: how upstream writes times

  struct Premises {  // 5 bytes: populations of tens of millions stay small
    uint8_t area;
    uint8_t distributor;
    uint8_t dmc;
    uint8_t cohort;
    uint8_t flags;
  };
  struct CodeSpec {  // one alert code as generated
    AlertCode code;
    catalog::CodeSlot slot;
    std::string text;  // "8F40", "AD1"
    int32_t volt_lo;   // voltage_dv range; volt_lo < 0: no voltage
    int32_t volt_hi;
    bool from_hub;  // DCC alerts come from the comms hub
  };
  struct Mix {  // weighted choice over specs
    std::vector<uint16_t> spec;
    std::vector<uint32_t> cumulative;
  };
  enum Kind : uint8_t { kBackground, kDmcFlood, kPfFlood, kPowerCut, kCommsIncident };
  struct Planned {  // one event to emit (16 bytes)
    int64_t time_ms;
    uint32_t premises;
    uint16_t spec;
    uint8_t kind;
    uint8_t pad = 0;
  };
  struct PendingDuplicate {
    int64_t due_stream_ms;
    uint64_t seq;  // tie-break: equal due times leave in a fixed order
    std::string line;
  };
  enum class Fault : uint8_t {
    kNone,
    kNotJson,
    kNotObject,
    kMissingField,
    kWrongType,
    kBadDeviceId,
    kBadAlertCode,
    kBadTime,
  };

  void BuildSpecs();
  void BuildPopulation();
  void PlanScenarioEvents();
  uint16_t AddSpec(std::string_view code, int32_t volt_lo, int32_t volt_hi, bool from_hub);
  Mix BuildMix(bool smets1);
  uint16_t Pick(const Mix& mix) { return mix.spec[PickIndex(mix)]; }
  size_t PickIndex(const Mix& mix);
  void PlanMinute(int64_t minute_start, int64_t minute_end, std::vector<Planned>& out);
  // The time test first: it spares a cache miss on the premises outside the cut.
  bool OffSupply(uint32_t premises, int64_t t) const {
    return t >= cut_from_ms_ && t < cut_until_ms_ && (premises_[premises].flags & kCut) != 0;
  }
  // Formats one event (closing brace included); the view lives until the next call. `dcc_ms` < 0:
  // drawn (or omitted).
  std::string_view FormatEvent(const Planned& p, int64_t dcc_ms, uint32_t throttled, Fault fault);
  // Writes a time in one of the upstream styles at `at`; returns the end.
  char* WriteTime(char* at, int64_t ms, int style);
  void EmitMalformed(const std::function<void(std::string_view)>& sink);
  void Count(const Planned& p, uint32_t weight);
  void Finish();

  const catalog::AreaTable* areas_;
  const catalog::AlertCatalogue* catalogue_;
  GeneratorConfig config_;
  int64_t end_ms_;
  uint64_t population_seed_;
  uint64_t mpan_offset_ = 0;

  // Labels as written (sanitised), and their JSON fragments.
  std::vector<std::string> dmc_labels_;
  std::vector<std::string> cohort_labels_;
  std::vector<std::string> smets1_fragment_;  // per (dmc, cohort): ,"dmc":"..","cohort":".."

  std::vector<CodeSpec> specs_;
  Mix smets1_mix_, smets2_mix_;
  uint16_t spec_ad1_ = 0, spec_8f35_ = 0, spec_8f36_ = 0, spec_flood_8f40_ = 0, spec_8014_ = 0;

  std::vector<Premises> premises_;
  std::vector<uint32_t> smets1_;  // premises indices
  std::vector<uint32_t> smets2_;
  std::vector<uint32_t> flood_dmc_;   // SMETS1 premises of the flooding DMC
  std::vector<uint32_t> pf_devices_;  // SMETS1 premises in the 8014 flood
  std::vector<Planned> scenario_;     // one-shot scenario events, sorted by time
  int64_t cut_from_ms_ = 0, cut_until_ms_ = 0;
  GeneratedTruth planned_truth_;  // scenario premises counts, known before Run

  // Run state (reset by Run).
  Rng rng_{0};
  std::vector<PendingDuplicate> duplicates_;  // a min-heap on (due_stream_ms, seq)
  std::vector<uint64_t> slot_weight_;         // per catalogue slot, weighted
  uint64_t alert_counter_ = 0;
  uint64_t malformed_counter_ = 0;
  uint64_t duplicate_seq_ = 0;
  int64_t stream_ms_ = 0;
  bool any_valid_ = false;
  uint64_t duplicate_threshold_ = 0, late_threshold_ = 0, malformed_threshold_ = 0;
  int64_t cached_day_ = -1;  // day whose "YYYY-MM-DD" is in cached_date_
  char cached_date_[10] = {};
  GeneratedTruth truth_;
  // A formatted line: well under 1 KiB (labels are cut to 64 + 16 characters).
  static constexpr size_t kLineCapacity = 2048;
  std::vector<char> buf_ = std::vector<char>(kLineCapacity);
  std::string line_;  // whole-message faults
};

}  // namespace smetsmon::gen
