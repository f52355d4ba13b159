// Generator of realistic alert traffic for replay files, benchmarks and (later) the load
// generator: a device population weighted by real meter counts per DNO area (SMETS1/SMETS2 mix,
// DMCs, cohorts, a comms hub and an electricity meter per premises), background alert rates per
// code, and the scenarios operators live through: an SMETS1 DMC flooding 8F40, an 8014 flood, an
// area power cut (AD1 from the hubs, then 8F36 from the meters of the same premises), a national
// comms incident (a restoration flood with no outage before it), duplicates, late redeliveries
// and malformed lines.
//
// Deterministic: the output is a function of the config (seed included) only, byte for byte; all
// randomness comes from a splitmix64 stream with hand-written distributions.
// `truth()` predicts exactly what a monitor following the contract counts (1 h dedup horizon,
// 24 h longest window with 5 min allowed lateness).
// Time domain: event time only (start_ms .. start_ms + duration_ms); never reads a clock.
// Thread-safety: none; one generator per thread.
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
  uint64_t seed = 1;
  uint64_t premises = 100000;  // each: a comms hub and an electricity meter
  double smets1_share = 0.25;
  std::vector<std::string> smets1_dmcs = {"MDS-ELSTER-A1140", "HONEYWELL-ELSTER-AS300",
                                          "SECURE-LIBERTY-100", "L+G-E470", "EDMI-ATLAS-MK10"};
  std::vector<std::string> cohorts = {"IOC", "MOC", "FOC"};
  int64_t start_ms = 1687737600000;  // 2023-06-26T00:00:00Z
  int64_t duration_ms = 24 * kMsPerHour;
  double smets1_alerts_per_day = 2.3;  // per premises (domain.md)
  double smets2_alerts_per_day = 1.6;

  // SMETS1 8F40 with voltage_dv uniform in [2530, 2580] from every device of one DMC.
  struct DmcFlood {
    bool enabled = true;
    std::string dmc = "MDS-ELSTER-A1140";
    int64_t start_offset_ms = 2 * kMsPerHour;
    int64_t duration_ms = 3 * kMsPerHour;
    double alerts_per_device_per_hour = 4;
  } dmc_flood;
  // 8014 from a share of SMETS1 devices.
  struct PfFlood {
    bool enabled = true;
    int64_t start_offset_ms = 6 * kMsPerHour;
    int64_t duration_ms = 2 * kMsPerHour;
    double device_share = 0.05;
    double alerts_per_device_per_hour = 3;
  } pf_flood;
  // AD1 from the hubs of a share of one area's premises within 2 min of the start, then 8F36
  // (the outage lasts >= 3 min) from the same premises' meters within 2 min of the end.
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

  double duplicate_share = 0.002;  // re-sent 1-30 min of stream time later, same alert_id
  double late_share = 0.001;       // redelivered 25-47 h after it was raised (fresh alert_id)
  double malformed_share = 0.001;  // one invalid line of one of seven kinds
};

// What was written, for exact reconciliation with the monitor's counts.
struct GeneratedTruth {
  uint64_t lines = 0;
  uint64_t valid = 0;         // lines that pass the contract
  uint64_t unique_valid = 0;  // valid - duplicates: the monitor's "accepted"
  uint64_t duplicates = 0;
  uint64_t late = 0;  // late redeliveries: older than every window when sent (valid, unique)
  std::map<std::string, uint64_t> rejected;            // reason -> lines
  std::map<std::string, uint64_t> alerts_by_category;  // unique valid, weighted by throttled_count
  std::map<std::string, uint64_t> alerts_by_code;      // "8F40" -> unique valid, weighted
  uint64_t power_cut_premises = 0;
  uint64_t comms_incident_premises = 0;
  uint64_t dmc_flood_alerts = 0;
  uint64_t pf_flood_alerts = 0;
  int64_t first_event_ms = 0;
  int64_t last_event_ms = 0;

  std::string ToJson() const;
};

class Generator {
 public:
  Generator(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
            GeneratorConfig config);

  // Emits every line (no trailing newline) in generation order: minute by minute in event time,
  // sorted within the minute, with duplicates, late redeliveries and malformed lines interleaved.
  // `cancel`, when given and set, ends the run at the next minute boundary.
  void Run(const std::function<void(std::string_view line)>& sink,
           const std::atomic<bool>* cancel = nullptr);

  // The population as the contract's inventory CSV: a row per hub and per meter.
  void WriteInventoryCsv(std::ostream& out) const;

  const GeneratedTruth& truth() const { return truth_; }
  const GeneratorConfig& config() const { return config_; }

  // Device ids of premises i (exposed for tests).
  static DeviceId HubId(uint64_t premises) { return DeviceId{0x00DB000000000000ULL | premises}; }
  static DeviceId MeterId(uint64_t premises) { return DeviceId{0x00DC000000000000ULL | premises}; }

 private:
  struct Premises {
    uint64_t mpan;
    uint8_t area;  // AreaTable index
    uint8_t dmc;   // index into smets1_dmcs (SMETS1 only)
    uint8_t cohort;
    bool smets1;
    bool idno;  // distributor id >= 24: the area travels in gsp_group
  };
  struct Planned {  // one event to emit
    int64_t time_ms;
    uint64_t premises;
    AlertCode code;
    int32_t voltage_dv;  // < 0: none
    bool from_hub;
    uint8_t kind;  // 0 background, 1 dmc flood, 2 pf flood
  };
  struct PendingDuplicate {
    int64_t due_stream_ms;
    std::string line;
  };

  void BuildPopulation();
  void PlanScenarioEvents();
  void PlanBackground(int64_t minute_start, std::vector<Planned>& out);
  void FormatEvent(const Planned& p, std::string& line);
  void CountValid(const Planned& p, uint32_t weight);
  void EmitMalformed(const std::function<void(std::string_view)>& sink);
  AlertCode PickCode(bool smets1, int32_t* voltage_dv);

  // Random numbers (splitmix64).
  uint64_t Next();
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  uint64_t Poisson(double mean);

  const catalog::AreaTable* areas_;
  const catalog::AlertCatalogue* catalogue_;
  GeneratorConfig config_;
  uint64_t rng_;
  std::vector<Premises> premises_;
  std::vector<uint64_t> smets1_;  // premises indices
  std::vector<uint64_t> smets2_;
  std::vector<uint64_t> flood_dmc_;   // SMETS1 premises of the flooding DMC
  std::vector<uint64_t> pf_devices_;  // SMETS1 premises in the 8014 flood
  std::vector<Planned> scenario_;     // one-shot scenario events, sorted by time
  std::vector<PendingDuplicate> duplicates_;
  uint64_t alert_counter_ = 0;
  uint64_t malformed_counter_ = 0;
  int64_t stream_ms_ = 0;
  GeneratedTruth truth_;
  std::string line_;
};

}  // namespace smetsmon::gen
