#include "webhook/backoff.h"

#include <algorithm>
#include <cmath>

namespace smetsmon::webhook {
namespace {

uint64_t Fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64 finaliser: spreads consecutive attempt numbers over the whole range.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

int64_t BackoffDelayMs(const BackoffConfig& config, uint32_t failed_attempts,
                       std::string_view jitter_key) {
  const int64_t max_ms = std::max<int64_t>(1, config.max_ms);
  const uint32_t n = std::max<uint32_t>(1, failed_attempts);
  // Grow in double and cap before converting: multiplier^n overflows int64 quickly.
  double base = static_cast<double>(std::max<int64_t>(1, config.initial_ms));
  for (uint32_t i = 1; i < n && base < static_cast<double>(max_ms); ++i) base *= config.multiplier;
  base = std::min(base, static_cast<double>(max_ms));
  // u in [-1, 1): the same key and attempt always give the same u.
  const uint64_t h = Mix(Fnv1a64(jitter_key) ^ n);
  const double u = static_cast<double>(h >> 11) / static_cast<double>(1ULL << 52) - 1.0;
  const double jitter = std::clamp(config.jitter, 0.0, 1.0);
  const double delay = base * (1.0 + jitter * u);
  return std::clamp<int64_t>(std::llround(delay), 1, max_ms);
}

const char* CircuitStateName(CircuitState s) {
  switch (s) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half_open";
  }
  return "?";
}

bool CircuitBreaker::Allow(int64_t now_ms) {
  switch (state_) {
    case CircuitState::kClosed:
      return true;
    case CircuitState::kOpen:
      if (now_ms < open_until_ms_) return false;
      state_ = CircuitState::kHalfOpen;
      trial_in_flight_ = true;
      return true;
    case CircuitState::kHalfOpen:
      if (trial_in_flight_) return false;
      trial_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::OnSuccess() {
  state_ = CircuitState::kClosed;
  consecutive_failures_ = 0;
  trial_in_flight_ = false;
}

bool CircuitBreaker::OnFailure(int64_t now_ms) {
  trial_in_flight_ = false;
  ++consecutive_failures_;
  if (state_ == CircuitState::kHalfOpen ||
      (state_ == CircuitState::kClosed &&
       consecutive_failures_ >= std::max(1, config_.failures_to_open))) {
    state_ = CircuitState::kOpen;
    open_until_ms_ = now_ms + config_.open_for_ms;
    ++times_opened_;
    return true;
  }
  return false;
}

}  // namespace smetsmon::webhook
