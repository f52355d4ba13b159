#include "gen/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <tuple>

#include "base/fields.h"
#include "base/flat_u64_map.h"  // Mix64
#include "base/json_writer.h"
#include "smetsmon/reject_reason.h"

namespace smetsmon::gen {
namespace {

// One entry of a background mix: relative weight, and the voltage_dv range the device reports
// with it (volt_lo < 0: none).
struct CodeShare {
  const char* code;
  uint32_t weight;
  int32_t volt_lo;
  int32_t volt_hi;
  bool from_hub;
};

// Background mixes [A]. SMETS1 traffic is dominated by 8F40 (its threshold sits on the 253 V
// statutory limit, so healthy networks trip it) and spurious 8014 (domain.md); SMETS2 by
// prepayment, firmware and the voltage family, whose voltages lie past the test thresholds
// (avg over 264 V, avg under 200 V, extreme over 287 V, extreme under 180 V, swell 253 V,
// sag 216 V); clears report a voltage back in range. "8F99" and the DCC alert "N24" are not in the
// catalogue: they exercise category "other". No AD1 here: every AD1 belongs to the power cut, so
// outage correlation in tests is exact.
constexpr CodeShare kSmets1Mix[] = {
    {"8F40", 360, 2530, 2565, false}, {"8014", 150, -1, -1, false}, {"8015", 30, -1, -1, false},
    {"810D", 110, -1, -1, false},     {"8F0F", 60, -1, -1, false},  {"81AA", 40, -1, -1, false},
    {"81AB", 30, -1, -1, false},      {"8F72", 50, -1, -1, false},  {"8F1C", 4, -1, -1, false},
    {"8F35", 40, -1, -1, false},      {"8F36", 20, -1, -1, false},  {"8F3D", 6, -1, -1, false},
    {"8F3F", 12, -1, -1, false},      {"8F73", 6, -1, -1, false},   {"8F75", 2, -1, -1, false},
    {"8F99", 30, -1, -1, false},      {"N24", 10, -1, -1, true},
};
constexpr CodeShare kSmets2Mix[] = {
    {"8002", 40, 2641, 2720, false}, {"8003", 4, 2641, 2720, false},
    {"8004", 3, 2641, 2720, false},  {"8005", 3, 2641, 2720, false},
    {"8085", 25, 2300, 2520, false}, {"8006", 20, 1850, 1999, false},
    {"8089", 10, 2100, 2400, false}, {"8020", 5, 2871, 2990, false},
    {"808D", 3, 2300, 2520, false},  {"8024", 60, 2531, 2640, false},
    {"8091", 30, 2300, 2520, false}, {"8028", 5, 1500, 1799, false},
    {"8095", 3, 2100, 2400, false},  {"802C", 50, 1800, 2159, false},
    {"8099", 25, 2170, 2400, false}, {"8014", 30, -1, -1, false},
    {"8015", 10, -1, -1, false},     {"810D", 190, -1, -1, false},
    {"8F0F", 90, -1, -1, false},     {"81AA", 70, -1, -1, false},
    {"81AB", 60, -1, -1, false},     {"8F72", 90, -1, -1, false},
    {"8F1C", 5, -1, -1, false},      {"8F35", 35, -1, -1, false},
    {"8F36", 15, -1, -1, false},     {"8F3D", 8, -1, -1, false},
    {"8F3E", 4, -1, -1, false},      {"8F3F", 6, -1, -1, false},
    {"8F73", 4, -1, -1, false},      {"8F74", 3, -1, -1, false},
    {"8F75", 2, -1, -1, false},      {"8F76", 2, -1, -1, false},
    {"8F77", 2, -1, -1, false},      {"8F78", 3, -1, -1, false},
    {"8F99", 6, -1, -1, false},      {"N24", 6, -1, -1, true},
};

// Background rate per UTC hour in percent of the daily mean [A]: quiet nights, a morning rise and
// an evening peak (cooking load on voltage, prepayment credit running low). Sums to 2400, so a
// whole day still averages the configured alerts per day.
constexpr int kDailyProfile[24] = {64,  58,  55,  54,  56,  64,  84,  104, 116, 118, 116, 112,
                                   110, 109, 110, 114, 122, 132, 138, 136, 128, 116, 100, 84};

// DCC delivery latency [A]: 32 equal-probability buckets of a log-normal (median 2.5 s, sigma
// 0.75), drawn uniformly within a bucket. Integer constants rather than exp() at run time, so
// every machine draws the same milliseconds.
constexpr int64_t kDelayBucketsMs[33] = {250,  618,  791,  930,  1055,  1172, 1285, 1397, 1507,
                                         1619, 1733, 1849, 1969, 2093,  2222, 2357, 2500, 2651,
                                         2813, 2987, 3175, 3380, 3607,  3860, 4146, 4475, 4863,
                                         5332, 5924, 6718, 7900, 10108, 30000};

// An alert_id opens with the originator (DCC) EUI-64, as DUIS response ids do.
constexpr std::string_view kDccOriginator = "\"90-B3-D5-1F-30-02-00-00:";
constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";
constexpr uint64_t kMpanSerials = 10'000'000'000ULL;  // the 10 digits after the distributor id

// Seeds of the independent random streams, so that (for example) changing a fault share leaves
// the population and the scenarios alone.
constexpr uint64_t kPopulationStream = 0x706F70756C617469ULL;
constexpr uint64_t kScenarioStream = 0x7363656E6172696FULL;
constexpr uint64_t kTrafficStream = 0x7472616666696321ULL;

// `width` decimal digits, zero padded (v must fit).
void AppendDigits(std::string& s, uint64_t v, int width) {
  char buf[24];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  s.append(buf, static_cast<size_t>(width));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "YYYY-MM-DD" of a day number (days since 1970-01-01), proleptic Gregorian (H. Hinnant's
// civil_from_days; integer only).
void FormatDate(int64_t days, char out[10]) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<char>('0' + y % 10);
    y /= 10;
  }
  out[4] = '-';
  out[5] = static_cast<char>('0' + m / 10);
  out[6] = static_cast<char>('0' + m % 10);
  out[7] = '-';
  out[8] = static_cast<char>('0' + d / 10);
  out[9] = static_cast<char>('0' + d % 10);
}

// Config labels go into JSON strings and CSV cells verbatim: characters that would need escaping
// there become '_', and the length is cut to the contract's limit (dmc 64, cohort 16), so a
// monitor never rejects a line the truth calls valid.
std::string Sanitise(std::string_view label, size_t max_len) {
  std::string out(label.substr(0, max_len));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E || c == '"' || c == '\\' || c == ',') c = '_';
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Distributions

uint64_t Generator::Threshold(double p) {
  if (!(p > 0)) return 0;  // also NaN
  if (p >= 1) return ~uint64_t{0};
  return static_cast<uint64_t>(p * 18446744073709551616.0);  // p * 2^64 < 2^64
}

uint64_t Generator::Rng::Poisson(double mean) {
  if (!(mean > 0)) return 0;
  if (mean < 24) {
    // Binomial(1024, mean / 1024): its variance is within 2.5 % of Poisson's and it needs no
    // exp(), whose last bit differs between libms.
    const uint64_t t = Threshold(mean / 1024);
    uint64_t k = 0;
    for (int i = 0; i < 1024; ++i) k += Next() < t ? 1 : 0;
    return k;
  }
  // Normal approximation N(mean, mean), with z from the Irwin-Hall sum of 12 uniforms (mean 6,
  // variance 1), in fixed point: integer arithmetic plus one correctly rounded sqrt.
  mean = std::min(mean, 1e12);
  int64_t z_q32 = 0;
  for (int i = 0; i < 12; ++i) z_q32 += static_cast<int64_t>(Next() >> 32);
  z_q32 -= int64_t{6} << 32;
  const auto mean_q20 = static_cast<int64_t>(mean * 1048576.0);
  const auto sd_q20 = static_cast<int64_t>(std::sqrt(mean) * 1048576.0);
  const __int128_t k_q52 = (static_cast<__int128_t>(mean_q20) << 32) +
                           static_cast<__int128_t>(sd_q20) * z_q32 + (__int128_t{1} << 51);
  return k_q52 <= 0 ? 0 : static_cast<uint64_t>(k_q52 >> 52);
}

size_t Generator::PickIndex(const Mix& mix) {
  const uint32_t u = static_cast<uint32_t>(rng_.Below(mix.cumulative.back()));
  return static_cast<size_t>(std::upper_bound(mix.cumulative.begin(), mix.cumulative.end(), u) -
                             mix.cumulative.begin());
}

// ---------------------------------------------------------------------------------------------
// Truth

std::string GeneratedTruth::ToJson() const {
  JsonWriter w;
  w.BeginObject();
  w.Field("lines", lines).Field("valid", valid).Field("unique_valid", unique_valid);
  w.Field("duplicates", duplicates).Field("late", late);
  w.Key("rejected").BeginObject();
  for (const auto& [k, v] : rejected) w.Field(k, v);
  w.EndObject();
  w.Key("alerts_by_category").BeginObject();
  for (const auto& [k, v] : alerts_by_category) w.Field(k, v);
  w.EndObject();
  w.Key("alerts_by_code").BeginObject();
  for (const auto& [k, v] : alerts_by_code) w.Field(k, v);
  w.EndObject();
  w.Field("power_cut_premises", power_cut_premises);
  w.Field("comms_incident_premises", comms_incident_premises);
  w.Field("dmc_flood_alerts", dmc_flood_alerts).Field("pf_flood_alerts", pf_flood_alerts);
  w.Field("first_event", FormatRfc3339Utc(first_event_ms));
  w.Field("last_event", FormatRfc3339Utc(last_event_ms));
  w.EndObject();
  return w.str();
}

// ---------------------------------------------------------------------------------------------
// Construction: code specs, population, scenario plan

Generator::Generator(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
                     GeneratorConfig config)
    : areas_(&areas),
      catalogue_(&catalogue),
      config_(std::move(config)),
      end_ms_(config_.start_ms + std::max<int64_t>(config_.duration_ms, 0)),
      population_seed_(config_.population_seed != 0 ? config_.population_seed : config_.seed) {
  // Premises indices are 32-bit (and the low 48 bits of the device ids): 4 billion premises is
  // two orders of magnitude above GB's estate.
  config_.premises = std::min<uint64_t>(config_.premises, 0xFFFFFFFFULL);
  if (areas_->size() == 0) config_.premises = 0;  // nowhere to put premises
  for (const std::string& d : config_.smets1_dmcs) dmc_labels_.push_back(Sanitise(d, 64));
  for (const std::string& c : config_.cohorts) cohort_labels_.push_back(Sanitise(c, 16));
  // DMC and cohort indices are one byte each.
  if (dmc_labels_.size() > 255) dmc_labels_.resize(255);
  if (cohort_labels_.size() > 255) cohort_labels_.resize(255);
  for (size_t d = 0; d < std::max<size_t>(dmc_labels_.size(), 1); ++d) {
    for (size_t c = 0; c < std::max<size_t>(cohort_labels_.size(), 1); ++c) {
      std::string f;
      if (d < dmc_labels_.size()) f.append(",\"dmc\":\"").append(dmc_labels_[d]).push_back('"');
      if (c < cohort_labels_.size()) {
        f.append(",\"cohort\":\"").append(cohort_labels_[c]).push_back('"');
      }
      smets1_fragment_.push_back(std::move(f));
    }
  }
  BuildSpecs();
  BuildPopulation();
  PlanScenarioEvents();
}

uint16_t Generator::AddSpec(std::string_view code, int32_t volt_lo, int32_t volt_hi,
                            bool from_hub) {
  // The codes are this file's constants and all parse; AD1 stands in should one ever not.
  const AlertCode parsed =
      ParseAlertCode(code).value_or(ParseAlertCode("AD1").value_or(AlertCode{}));
  specs_.push_back(
      {parsed, catalogue_->SlotOf(parsed), FormatAlertCode(parsed), volt_lo, volt_hi, from_hub});
  return static_cast<uint16_t>(specs_.size() - 1);
}

Generator::Mix Generator::BuildMix(bool smets1) {
  Mix mix;
  uint32_t total = 0;
  const auto add = [&](const CodeShare& c) {
    mix.spec.push_back(AddSpec(c.code, c.volt_lo, c.volt_hi, c.from_hub));
    total += c.weight;
    mix.cumulative.push_back(total);
  };
  if (smets1) {
    for (const CodeShare& c : kSmets1Mix) add(c);
  } else {
    for (const CodeShare& c : kSmets2Mix) add(c);
  }
  return mix;
}

void Generator::BuildSpecs() {
  smets1_mix_ = BuildMix(true);
  smets2_mix_ = BuildMix(false);
  spec_ad1_ = AddSpec("AD1", -1, -1, true);
  spec_8f35_ = AddSpec("8F35", -1, -1, false);
  spec_8f36_ = AddSpec("8F36", -1, -1, false);
  spec_flood_8f40_ = AddSpec("8F40", 2530, 2580, false);
  spec_8014_ = AddSpec("8014", -1, -1, false);
}

uint64_t Generator::MpanOf(uint32_t premises) const {
  static constexpr uint64_t kPrimes[12] = {3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43};
  // i * 7919 is a bijection modulo 10^10 (7919 is prime to 10): MPANs are unique per premises.
  const uint64_t serial = (uint64_t{premises} * 7919 + mpan_offset_) % kMpanSerials;
  const uint64_t twelve = uint64_t{premises_[premises].distributor} * kMpanSerials + serial;
  uint64_t rest = twelve, sum = 0;
  for (int i = 11; i >= 0; --i) {
    sum += (rest % 10) * kPrimes[i];
    rest /= 10;
  }
  return twelve * 10 + (sum % 11) % 10;
}

void Generator::BuildPopulation() {
  Rng rng(population_seed_ ^ kPopulationStream);
  mpan_offset_ = rng.Below(kMpanSerials);
  std::vector<uint64_t> cumulative;
  uint64_t total = 0;
  for (const auto& a : areas_->areas()) {
    total += static_cast<uint64_t>(std::max<int64_t>(a.meters, 0));
    cumulative.push_back(total);
  }
  if (total == 0) {  // no weights configured: spread evenly
    for (size_t i = 0; i < cumulative.size(); ++i) cumulative[i] = i + 1;
    total = cumulative.size();
  }
  const uint64_t smets1 = Threshold(config_.smets1_share);
  const uint64_t biggest_dmc = Threshold(0.4);  // the first DMC is the largest estate (OPSG)
  const uint64_t dmc_cohort = Threshold(0.8);   // cohorts mostly follow the DMC
  const uint64_t idno = Threshold(0.03);
  const uint64_t lower = Threshold(0.02);
  const uint64_t hex_prefix = Threshold(0.02);
  const uint64_t pf = Threshold(config_.pf_flood.device_share);
  const uint64_t dmcs = std::max<size_t>(dmc_labels_.size(), 1);
  const uint64_t cohorts = std::max<size_t>(cohort_labels_.size(), 1);
  const auto flood_dmc =
      std::find(config_.smets1_dmcs.begin(), config_.smets1_dmcs.end(), config_.dmc_flood.dmc) -
      config_.smets1_dmcs.begin();
  premises_.resize(config_.premises);
  for (uint64_t i = 0; i < config_.premises; ++i) {
    // A fixed number of draws per premises, whatever the branches, so that one option changes
    // only what it is about.
    Premises& p = premises_[i];
    const uint64_t pick = rng.Below(total);
    p.area = static_cast<uint8_t>(std::upper_bound(cumulative.begin(), cumulative.end(), pick) -
                                  cumulative.begin());
    const bool is_smets1 = rng.Chance(smets1);
    const bool big = rng.Chance(biggest_dmc);
    const uint64_t any_dmc = rng.Below(dmcs);
    p.dmc = static_cast<uint8_t>(big ? 0 : any_dmc);
    const bool follows = rng.Chance(dmc_cohort);
    const uint64_t any_cohort = rng.Below(cohorts);
    p.cohort = static_cast<uint8_t>(follows ? p.dmc % cohorts : any_cohort);
    const bool is_idno = rng.Chance(idno);
    const uint64_t idno_id = 24 + rng.Below(8);
    p.distributor = static_cast<uint8_t>(
        is_idno ? idno_id : static_cast<uint64_t>(areas_->areas()[p.area].distributor_id));
    // How this premises' upstream adapter writes times: RFC 3339 with ms (45 %), epoch ms
    // (35 %), microseconds and "+00:00" (10 %), trimmed fraction (10 %).
    const uint64_t style_pick = rng.Below(100);
    const uint8_t style = style_pick < 45 ? 0 : style_pick < 80 ? 1 : style_pick < 90 ? 2 : 3;
    const bool is_lower = rng.Chance(lower);
    const bool is_prefixed = rng.Chance(hex_prefix);
    const bool in_pf = rng.Chance(pf);
    p.flags = static_cast<uint8_t>((is_smets1 ? kSmets1 : 0) | (is_idno ? kIdno : 0) |
                                   (is_lower ? kLowerCase : 0) | (is_prefixed ? kHexPrefix : 0) |
                                   (style << kTimeStyleShift));
    const auto index = static_cast<uint32_t>(i);
    (is_smets1 ? smets1_ : smets2_).push_back(index);
    if (is_smets1 && !dmc_labels_.empty() && p.dmc == flood_dmc) flood_dmc_.push_back(index);
    if (is_smets1 && in_pf) pf_devices_.push_back(index);
  }
}

void Generator::PlanScenarioEvents() {
  Rng rng(config_.seed ^ kScenarioStream);
  const int64_t start = config_.start_ms;
  const auto usable = [&](int64_t t) { return t >= start && t < end_ms_; };
  const auto& pc = config_.power_cut;
  if (pc.enabled && pc.duration_ms >= 0) {
    const auto gsp = ParseGspGroup(pc.gsp_group);
    const AreaId area = gsp ? areas_->ByGspGroup(*gsp) : kUnknownArea;
    const uint64_t share = Threshold(pc.premises_share);
    cut_from_ms_ = start + pc.start_offset_ms;
    const int64_t restore = cut_from_ms_ + pc.duration_ms;
    // The meters stay silent until their restoration alert (up to 2 min after the end).
    cut_until_ms_ = restore + 2 * kMsPerMinute;
    // GB long-interruption boundary: 3 minutes (domain.md).
    const uint16_t restored = pc.duration_ms >= 3 * kMsPerMinute ? spec_8f36_ : spec_8f35_;
    for (uint32_t i = 0; i < premises_.size() && area != kUnknownArea; ++i) {
      if (premises_[i].area != area.value) continue;
      if (!rng.Chance(share)) continue;
      const int64_t t_out = cut_from_ms_ + static_cast<int64_t>(rng.Below(2 * kMsPerMinute));
      const int64_t t_back = restore + static_cast<int64_t>(rng.Below(2 * kMsPerMinute));
      // Both alerts or neither, so that every outage in the file has its restoration.
      if (!usable(t_out) || !usable(t_back)) continue;
      premises_[i].flags |= kCut;
      scenario_.push_back({t_out, i, spec_ad1_, kPowerCut});
      scenario_.push_back({t_back, i, restored, kPowerCut});
    }
  }
  const auto& ci = config_.comms_incident;
  if (ci.enabled) {
    const uint64_t share = Threshold(ci.premises_share);
    const uint64_t long_outage = Threshold(0.3);
    const int64_t from = start + ci.start_offset_ms;
    const uint64_t spread = static_cast<uint64_t>(std::max<int64_t>(ci.spread_ms, 0)) + 1;
    for (uint32_t i = 0; i < premises_.size(); ++i) {
      if (!rng.Chance(share)) continue;
      const int64_t t = from + static_cast<int64_t>(rng.Below(spread));
      const uint16_t spec = rng.Chance(long_outage) ? spec_8f36_ : spec_8f35_;
      if (!usable(t) || OffSupply(i, t)) continue;
      scenario_.push_back({t, i, spec, kCommsIncident});
    }
  }
  std::stable_sort(scenario_.begin(), scenario_.end(),
                   [](const Planned& a, const Planned& b) { return a.time_ms < b.time_ms; });
}

// ---------------------------------------------------------------------------------------------
// Formatting

namespace {

// Writes into a buffer known to be large enough (kLineCapacity): plain stores, where
// std::string's capacity checks on every append dominated the profile.
class Out {
 public:
  explicit Out(char* p) : p_(p) {}
  char* pos() const { return p_; }
  void Char(char c) { *p_++ = c; }
  void Text(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Uint(uint64_t v) { p_ = std::to_chars(p_, p_ + 20, v).ptr; }
  void Digits(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p_[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p_ += width;
  }
  void Two(int64_t v) {
    p_[0] = static_cast<char>('0' + v / 10);
    p_[1] = static_cast<char>('0' + v % 10);
    p_ += 2;
  }

 private:
  char* p_;
};

// "00-DB-12-34-56-78-90-A0": 23 characters.
void WriteDevice(char* out, DeviceId id, bool lower) {
  const char* hex = lower ? kLowerHex : kUpperHex;
  for (int octet = 0; octet < 8; ++octet) {
    const auto b = static_cast<unsigned>((id.value >> (56 - 8 * octet)) & 0xFF);
    out[octet * 3] = hex[b >> 4];
    out[octet * 3 + 1] = hex[b & 0xF];
    if (octet < 7) out[octet * 3 + 2] = '-';
  }
}
constexpr size_t kDeviceChars = 23;

}  // namespace

// Styles: 0 "2023-06-26T12:00:04.250Z", 1 1687780804250, 2 "2023-06-26T12:00:04.250000+00:00",
// 3 "2023-06-26T12:00:04.25Z" (trailing zeros trimmed, no fraction on a whole second).
char* Generator::WriteTime(char* at, int64_t ms, int style) {
  Out out(at);
  if (style == 1) {
    out.Uint(static_cast<uint64_t>(ms));
    return out.pos();
  }
  const int64_t day = FloorDiv(ms, kMsPerDay);
  if (day != cached_day_) {
    FormatDate(day, cached_date_);
    cached_day_ = day;
  }
  const int64_t in_day = ms - day * kMsPerDay;
  out.Char('"');
  out.Text(std::string_view(cached_date_, 10));
  out.Char('T');
  out.Two(in_day / kMsPerHour);
  out.Char(':');
  out.Two(in_day / kMsPerMinute % 60);
  out.Char(':');
  out.Two(in_day / kMsPerSecond % 60);
  const int64_t milli = in_day % 1000;
  switch (style) {
    case 0:
      out.Char('.');
      out.Digits(static_cast<uint64_t>(milli), 3);
      out.Char('Z');
      break;
    case 2:
      out.Char('.');
      out.Digits(static_cast<uint64_t>(milli), 3);
      out.Text("000+00:00");
      break;
    default:
      if (milli != 0) {
        int digits = 3;
        int64_t v = milli;
        while (v % 10 == 0) {
          v /= 10;
          --digits;
        }
        out.Char('.');
        out.Digits(static_cast<uint64_t>(v), digits);
      }
      out.Char('Z');
      break;
  }
  out.Char('"');
  return out.pos();
}

std::string_view Generator::FormatEvent(const Planned& p, int64_t dcc_ms, uint32_t throttled,
                                        Fault fault) {
  const Premises& pr = premises_[p.premises];
  const CodeSpec& spec = specs_[p.spec];
  const DeviceId device = spec.from_hub ? HubId(p.premises) : MeterId(p.premises);
  const bool lower = (pr.flags & kLowerCase) != 0;
  const int style = (pr.flags >> kTimeStyleShift) & 3;
  // Which variant of the fault (each kind has several ways of going wrong in the wild).
  static constexpr uint64_t kVariants[] = {1, 3, 3, 4, 6, 5, 5, 6};
  const uint64_t variant =
      fault == Fault::kNone ? 0 : rng_.Below(kVariants[static_cast<int>(fault)]);
  const bool missing = fault == Fault::kMissingField;
  const bool wrong = fault == Fault::kWrongType;

  // Every field is written with a leading comma (constant-size copies, no "first field?" test
  // now that any required field may be missing); the first comma becomes the '{' at the end.
  char* const begin = buf_.data();
  Out out(begin + 1);
  char dev[kDeviceChars];
  const uint64_t counter = ++alert_counter_;
  if (!(missing && variant == 0)) {
    out.Text(",\"alert_id\":");
    if (wrong && variant == 0) {
      out.Uint(counter);
    } else {
      // DCC alerts carry the comms hub's own prefix, as in the contract sample.
      out.Text(spec.code.is_dcc() ? std::string_view("\"CH:") : kDccOriginator);
      WriteDevice(dev, device, false);
      out.Text(std::string_view(dev, kDeviceChars));
      out.Char(':');
      out.Uint(counter);
      out.Char('"');
    }
  }
  if (!(missing && variant == 1)) {
    out.Text(",\"device_id\":");
    out.Char('"');
    WriteDevice(dev, device, lower);
    std::string_view d(dev, kDeviceChars);
    if (fault == Fault::kBadDeviceId) {
      switch (variant) {
        case 0:  // seven octets
          out.Text(d.substr(0, 20));
          break;
        case 1:  // colons
          std::replace(dev, dev + kDeviceChars, '-', ':');
          out.Text(d);
          break;
        case 2:  // not hex
          dev[22] = 'G';
          out.Text(d);
          break;
        case 3:  // broadcast
          out.Text("FF-FF-FF-FF-FF-FF-FF-FF");
          break;
        default:  // no separators
          for (const char c : d) {
            if (c != '-') out.Char(c);
          }
          break;
      }
    } else {
      out.Text(d);
    }
    out.Char('"');
  }
  if (!(missing && variant == 2)) {
    out.Text(",\"alert_code\":");
    if (wrong && variant == 1) {
      out.Uint(spec.code.value & 0xFFFF);
    } else if (fault == Fault::kBadAlertCode) {
      static constexpr std::string_view kBad[] = {"\"8F4\"", "\"8F400\"", "\"\"", "\"ALERT1\"",
                                                  "\"8F-40\""};
      out.Text(kBad[variant]);
    } else {
      out.Char('"');
      if ((pr.flags & kHexPrefix) != 0 && !spec.code.is_dcc()) out.Text("0x");
      out.Text(spec.text);
      out.Char('"');
    }
  }
  if (!(missing && variant == 3)) {
    out.Text(",\"event_time\":");
    if (wrong && (variant == 2 || variant == 5)) {
      out.Text(variant == 2 ? "true" : "null");
    } else if (fault == Fault::kBadTime && variant < 5) {
      char text[40];
      char* const end = WriteTime(text, p.time_ms, 0);  // "2023-06-26T12:00:04.250Z"
      const std::string_view t(text + 1, static_cast<size_t>(end - text) - 2);
      switch (variant) {
        case 0: {  // a spreadsheet's "26/06/2023 12:00"
          const char s[] = {'"',  t[8], t[9], '/',   t[5],  t[6], '/',   t[0],  t[1],
                            t[2], t[3], ' ',  t[11], t[12], ':',  t[14], t[15], '"'};
          out.Text(std::string_view(s, sizeof s));
          break;
        }
        case 1:  // a space for the 'T'
          out.Char('"');
          out.Text(t.substr(0, 10));
          out.Char(' ');
          out.Text(t.substr(11));
          out.Char('"');
          break;
        case 2:  // local time, not UTC
          out.Char('"');
          out.Text(t.substr(0, 19));
          out.Text("+01:00\"");
          break;
        case 3:  // no zone at all
          out.Char('"');
          out.Text(t.substr(0, 19));
          out.Char('"');
          break;
        default:  // a negative epoch
          out.Char('-');
          out.Uint(static_cast<uint64_t>(p.time_ms));
          break;
      }
    } else {
      out = Out(WriteTime(out.pos(), p.time_ms, style));
    }
  }
  // dcc_time: present for three alerts in four; delivered seconds later as a rule, after DCC's
  // retries (up to 300 s) sometimes, after queueing (minutes) rarely.
  const bool bad_dcc = fault == Fault::kBadTime && variant == 5;
  if (dcc_ms < 0 && (rng_.Below(4) != 0 || bad_dcc)) {
    const uint64_t u = rng_.Below(1000);
    int64_t delay;
    if (u < 930) {
      const uint64_t b = rng_.Below(32);
      delay = kDelayBucketsMs[b] +
              static_cast<int64_t>(rng_.Below(
                  static_cast<uint64_t>(kDelayBucketsMs[b + 1] - kDelayBucketsMs[b]) + 1));
    } else if (u < 985) {
      delay = 10'000 + static_cast<int64_t>(rng_.Below(290'001));
    } else {
      delay = 300'000 + static_cast<int64_t>(rng_.Below(1'500'001));
    }
    dcc_ms = p.time_ms + delay;
  }
  if (dcc_ms >= 0) {
    out.Text(",\"dcc_time\":");
    if (bad_dcc) {
      out.Text("\"yesterday\"");
    } else {
      out = Out(WriteTime(out.pos(), dcc_ms, style));
    }
  }
  out.Text(",\"smets\":");
  const bool smets1 = (pr.flags & kSmets1) != 0;
  if (wrong && variant == 3) {
    out.Text(smets1 ? "\"1\"" : "\"2\"");
  } else {
    out.Char(smets1 ? '1' : '2');
  }
  out.Text(",\"mpxn\":");
  const bool mpxn_number = wrong && variant == 4;
  if (!mpxn_number) out.Char('"');
  out.Digits(MpanOf(p.premises), 13);
  if (!mpxn_number) out.Char('"');
  // gsp_group: always for IDNO MPANs (nothing else names their area), sometimes otherwise.
  const bool gsp = rng_.Below(10) == 0;
  if ((pr.flags & kIdno) != 0 || gsp) {
    out.Text(",\"gsp_group\":");
    const char text[] = {'"', '_', areas_->areas()[pr.area].gsp_group, '"'};
    out.Text(std::string_view(text, sizeof text));
  }
  if (smets1 && !dmc_labels_.empty()) {
    out.Text(
        smets1_fragment_[size_t{pr.dmc} * std::max<size_t>(cohort_labels_.size(), 1) + pr.cohort]);
  }
  if (spec.volt_lo >= 0) {
    out.Text(",\"voltage_dv\":");
    out.Uint(static_cast<uint64_t>(spec.volt_lo) +
             rng_.Below(static_cast<uint64_t>(spec.volt_hi - spec.volt_lo) + 1));
  }
  if (throttled > 1) {
    out.Text(",\"throttled_count\":");
    out.Uint(throttled);
  }
  out.Char('}');
  begin[1] = '{';  // smets and mpxn are always there, so there was a comma
  const std::string_view line(begin + 1, static_cast<size_t>(out.pos() - begin - 1));
  if (fault != Fault::kNotJson && fault != Fault::kNotObject) return line;

  // Whole-message faults, applied to a valid line (rare: plain strings will do).
  line_.assign(line);
  if (fault == Fault::kNotJson) {
    switch (variant) {
      case 0:  // cut short (a torn write): the object never closes
        line_.resize(1 + rng_.Below(line_.size() - 2));
        break;
      case 1:  // a stray closing brace after the object
        line_.push_back('}');
        break;
      default:  // a log line where a message was expected
        line_.insert(0, "WARN alert ");
        break;
    }
  } else {
    switch (variant) {
      case 0:  // a batch wrapped in an array
        line_.insert(0, "[");
        line_.push_back(']');
        break;
      case 1:
        line_.assign("null");
        break;
      default: {  // the object double-encoded as a JSON string
        std::string quoted = "\"";
        JsonWriter::Escape(line_, &quoted);
        quoted.push_back('"');
        line_.swap(quoted);
        break;
      }
    }
  }
  return line_;
}

// ---------------------------------------------------------------------------------------------
// Running

void Generator::PlanMinute(int64_t minute_start, int64_t minute_end, std::vector<Planned>& out) {
  const int64_t hour = FloorDiv(minute_start, kMsPerHour) % 24;
  const double profile = kDailyProfile[hour < 0 ? hour + 24 : hour] / 100.0;
  const int64_t span = minute_end - minute_start;  // a whole minute but perhaps the last
  const double fraction = static_cast<double>(span) / static_cast<double>(kMsPerMinute);
  const auto draw_time = [&] {
    return minute_start + static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(span)));
  };
  for (const bool smets1 : {true, false}) {
    const std::vector<uint32_t>& pool = smets1 ? smets1_ : smets2_;
    if (pool.empty()) continue;
    const double per_day = smets1 ? config_.smets1_alerts_per_day : config_.smets2_alerts_per_day;
    const double mean = static_cast<double>(pool.size()) * per_day / 1440.0 * profile * fraction;
    const Mix& mix = smets1 ? smets1_mix_ : smets2_mix_;
    for (uint64_t n = rng_.Poisson(mean); n > 0; --n) {
      const uint32_t premises = pool[rng_.Below(pool.size())];
      const int64_t t = draw_time();
      const uint16_t spec = Pick(mix);
      if (OffSupply(premises, t)) continue;
      out.push_back({t, premises, spec, kBackground});
    }
  }
  const auto active = [&](int64_t offset, int64_t duration) {
    const int64_t from = config_.start_ms + offset;
    return minute_start >= from && minute_start < from + duration;
  };
  const auto flood = [&](const std::vector<uint32_t>& devices, double per_hour, uint16_t spec,
                         Kind kind) {
    if (devices.empty()) return;
    const double mean = static_cast<double>(devices.size()) * per_hour / 60.0 * fraction;
    for (uint64_t n = rng_.Poisson(mean); n > 0; --n) {
      const uint32_t premises = devices[rng_.Below(devices.size())];
      const int64_t t = draw_time();
      if (OffSupply(premises, t)) continue;
      out.push_back({t, premises, spec, kind});
    }
  };
  const auto& df = config_.dmc_flood;
  if (df.enabled && active(df.start_offset_ms, df.duration_ms)) {
    flood(flood_dmc_, df.alerts_per_device_per_hour, spec_flood_8f40_, kDmcFlood);
  }
  const auto& pf = config_.pf_flood;
  if (pf.enabled && active(pf.start_offset_ms, pf.duration_ms)) {
    flood(pf_devices_, pf.alerts_per_device_per_hour, spec_8014_, kPfFlood);
  }
}

void Generator::Count(const Planned& p, uint32_t weight) {
  ++truth_.valid;
  slot_weight_[specs_[p.spec].slot] += weight;
  if (p.kind == kDmcFlood) truth_.dmc_flood_alerts += weight;
  if (p.kind == kPfFlood) truth_.pf_flood_alerts += weight;
  if (p.kind == kPowerCut && p.spec == spec_ad1_) ++truth_.power_cut_premises;
  if (p.kind == kCommsIncident) ++truth_.comms_incident_premises;
  if (!any_valid_ || p.time_ms < truth_.first_event_ms) truth_.first_event_ms = p.time_ms;
  if (!any_valid_ || p.time_ms > truth_.last_event_ms) truth_.last_event_ms = p.time_ms;
  any_valid_ = true;
}

void Generator::EmitMalformed(const std::function<void(std::string_view)>& sink) {
  static constexpr Fault kCycle[] = {Fault::kNotJson,   Fault::kNotObject,   Fault::kMissingField,
                                     Fault::kWrongType, Fault::kBadDeviceId, Fault::kBadAlertCode,
                                     Fault::kBadTime};
  static constexpr RejectReason kReason[] = {
      RejectReason::kNotJson,   RejectReason::kNotObject,   RejectReason::kMissingField,
      RejectReason::kWrongType, RejectReason::kBadDeviceId, RejectReason::kBadAlertCode,
      RejectReason::kBadTime};
  const size_t k = malformed_counter_++ % std::size(kCycle);
  // A real-looking alert of a random premises at the stream time, broken in one way.
  const auto premises = static_cast<uint32_t>(rng_.Below(premises_.size()));
  const bool smets1 = (premises_[premises].flags & kSmets1) != 0;
  const Planned p{stream_ms_, premises, Pick(smets1 ? smets1_mix_ : smets2_mix_), kBackground};
  const std::string_view line = FormatEvent(p, -1, 1, kCycle[k]);
  ++truth_.lines;
  ++truth_.rejected[std::string(RejectReasonName(kReason[k]))];
  sink(line);
}

void Generator::Run(const std::function<void(std::string_view line)>& sink,
                    const std::atomic<bool>* cancel) {
  rng_ = Rng(config_.seed ^ kTrafficStream);
  truth_ = GeneratedTruth{};
  slot_weight_.assign(catalogue_->slot_count(), 0);
  duplicates_.clear();
  alert_counter_ = malformed_counter_ = duplicate_seq_ = 0;
  stream_ms_ = config_.start_ms;  // every event is at or after the start
  any_valid_ = false;
  duplicate_threshold_ = Threshold(config_.duplicate_share);
  late_threshold_ = Threshold(config_.late_share);
  malformed_threshold_ = Threshold(config_.malformed_share);
  const uint64_t throttled = Threshold(0.001);  // Alert Storm Protection summaries
  const uint64_t small_storm = Threshold(0.9);
  if (premises_.empty()) {
    Finish();
    return;
  }

  // Min-heap on (due, seq).
  const auto later = [](const PendingDuplicate& a, const PendingDuplicate& b) {
    return a.due_stream_ms != b.due_stream_ms ? a.due_stream_ms > b.due_stream_ms : a.seq > b.seq;
  };
  const auto emit_duplicate = [&] {
    std::pop_heap(duplicates_.begin(), duplicates_.end(), later);
    ++truth_.lines;
    ++truth_.valid;
    ++truth_.duplicates;
    sink(duplicates_.back().line);
    duplicates_.pop_back();
  };

  std::vector<Planned> minute;
  size_t next_scenario = 0;
  bool cancelled = false;
  for (int64_t m = config_.start_ms; m < end_ms_; m += kMsPerMinute) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      break;
    }
    const int64_t m_end = std::min(m + kMsPerMinute, end_ms_);
    minute.clear();
    PlanMinute(m, m_end, minute);
    while (next_scenario < scenario_.size() && scenario_[next_scenario].time_ms < m_end) {
      minute.push_back(scenario_[next_scenario++]);
    }
    // A total order on the whole value: equal keys are equal events, so std::sort's result is
    // the same on every library (and faster than a stable sort).
    std::sort(minute.begin(), minute.end(), [](const Planned& a, const Planned& b) {
      return std::tie(a.time_ms, a.premises, a.spec, a.kind) <
             std::tie(b.time_ms, b.premises, b.spec, b.kind);
    });
    for (size_t i = 0; i < minute.size(); ++i) {
      const Planned& p = minute[i];
      // Premises are visited at random: fetch a few events ahead (a cache miss otherwise cost
      // over half the formatting time with a million premises).
      constexpr size_t kAhead = 8;
      if (i + kAhead < minute.size()) __builtin_prefetch(&premises_[minute[i + kAhead].premises]);
      // Re-sends fall due before the stream passes their due time, so a monitor sees each one
      // at most 30 min of stream time after its original: well inside its 1 h dedup horizon.
      while (!duplicates_.empty() && duplicates_.front().due_stream_ms <= p.time_ms) {
        emit_duplicate();
      }
      uint32_t weight = 1;
      if (rng_.Chance(throttled)) {
        weight = rng_.Chance(small_storm) ? 2 + static_cast<uint32_t>(rng_.Below(9))
                                          : 11 + static_cast<uint32_t>(rng_.Below(490));
      }
      const std::string_view line = FormatEvent(p, -1, weight, Fault::kNone);
      stream_ms_ = std::max(stream_ms_, p.time_ms);
      ++truth_.lines;
      Count(p, weight);
      sink(line);
      if (rng_.Chance(duplicate_threshold_)) {
        duplicates_.push_back(
            {stream_ms_ + kMsPerMinute + static_cast<int64_t>(rng_.Below(29 * kMsPerMinute + 1)),
             duplicate_seq_++, std::string(line)});
        std::push_heap(duplicates_.begin(), duplicates_.end(), later);
      }
      // A late redelivery from DCC's 2-day queue: raised 25-47 h before the stream time, so it
      // is older than the monitor's longest window (24 h) plus allowed lateness (5 min) by at
      // least 55 min. Raised inside this file's span, so only once the stream has run 25 h:
      // shorter runs have none.
      if (stream_ms_ - config_.start_ms > 25 * kMsPerHour && rng_.Chance(late_threshold_)) {
        const int64_t max_age = std::min(47 * kMsPerHour, stream_ms_ - config_.start_ms);
        const int64_t age =
            25 * kMsPerHour +
            static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(max_age - 25 * kMsPerHour) + 1));
        const auto premises = static_cast<uint32_t>(rng_.Below(premises_.size()));
        const bool smets1 = (premises_[premises].flags & kSmets1) != 0;
        const Planned late{stream_ms_ - age, premises, Pick(smets1 ? smets1_mix_ : smets2_mix_),
                           kBackground};
        // Delivered now, from the queue: a fresh alert_id (counter) and a dcc_time near the
        // stream time.
        const int64_t delivered = stream_ms_ - static_cast<int64_t>(rng_.Below(kMsPerMinute));
        if (!OffSupply(premises, late.time_ms)) {  // a meter without power raised nothing
          const std::string_view late_line = FormatEvent(late, delivered, 1, Fault::kNone);
          ++truth_.lines;
          ++truth_.late;
          Count(late, 1);
          sink(late_line);
        }
      }
      if (rng_.Chance(malformed_threshold_)) EmitMalformed(sink);
    }
  }
  // Re-sends still pending at the end go out now: the stream time has not moved past their due
  // time, so they are still within the horizon. A cancelled run drops them (never sent).
  if (!cancelled) {
    while (!duplicates_.empty()) emit_duplicate();
  }
  duplicates_.clear();
  Finish();
}

void Generator::Finish() {
  truth_.unique_valid = truth_.valid - truth_.duplicates;
  truth_.alerts_by_category.clear();
  truth_.alerts_by_code.clear();
  const auto& categories = catalogue_->categories();
  for (size_t slot = 0; slot < slot_weight_.size(); ++slot) {
    const uint64_t n = slot_weight_[slot];
    if (n == 0) continue;
    const auto s = static_cast<catalog::CodeSlot>(slot);
    truth_.alerts_by_category[categories[catalogue_->CategoryOfSlot(s)]] += n;
    truth_.alerts_by_code[catalogue_->SlotLabel(s)] += n;
  }
}

// ---------------------------------------------------------------------------------------------
// Inventory

void Generator::WriteInventoryCsv(std::ostream& out) const {
  std::string buf = "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on\n";
  // Install dates [A]: SMETS1 2012-2018 (a share migrated recently: recent_migrations); SMETS2
  // from mid-2018 to the day before the start. From a hash of the premises, not a random
  // stream, so this method stays const and repeatable.
  constexpr int64_t kSmets1From = 15340, kSmets1To = 17896;  // 2012-01-01 .. 2018-12-31
  constexpr int64_t kSmets2From = 17683;                     // 2018-06-01
  const int64_t smets2_to = std::max(kSmets2From, FloorDiv(config_.start_ms, kMsPerDay) - 1);
  char date[10];
  for (uint32_t i = 0; i < premises_.size(); ++i) {
    const Premises& p = premises_[i];
    const bool smets1 = (p.flags & kSmets1) != 0;
    const uint64_t h = Mix64(population_seed_ ^ (uint64_t{i} * 0x9E3779B97F4A7C15ULL));
    int64_t day =
        smets1 ? kSmets1From + static_cast<int64_t>(h % (kSmets1To - kSmets1From + 1))
               : kSmets2From +
                     static_cast<int64_t>(h % static_cast<uint64_t>(smets2_to - kSmets2From + 1));
    const GeneratorConfig::RecentMigrations& recent = config_.recent_migrations;
    if (smets1 && recent.enabled && recent.within_days > 1) {
      // A second hash of the premises picks the recent ones and their day in
      // [start - within_days + 1, start - 1].
      const uint64_t h2 = Mix64(h ^ 0xA24BAED4963EE407ULL);
      if (static_cast<double>(h2 >> 11) * 0x1.0p-53 < recent.smets1_share) {
        day = FloorDiv(config_.start_ms, kMsPerDay) - 1 -
              static_cast<int64_t>(Mix64(h2) % static_cast<uint64_t>(recent.within_days - 1));
      }
    }
    FormatDate(day, date);
    const uint64_t mpan = MpanOf(i);
    for (const DeviceId id : {HubId(i), MeterId(i)}) {
      char dev[kDeviceChars];
      WriteDevice(dev, id, false);
      buf.append(dev, kDeviceChars);
      buf.push_back(',');
      AppendDigits(buf, mpan, 13);
      buf.append(",_").push_back(areas_->areas()[p.area].gsp_group);
      buf.append(smets1 ? ",1," : ",2,");
      if (smets1 && p.dmc < dmc_labels_.size()) buf.append(dmc_labels_[p.dmc]);
      buf.push_back(',');
      if (smets1 && p.cohort < cohort_labels_.size()) buf.append(cohort_labels_[p.cohort]);
      buf.push_back(',');
      buf.append(date, sizeof date).push_back('\n');
    }
    if (buf.size() > (1 << 20)) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

}  // namespace smetsmon::gen
