// Retry timing for webhook deliveries: exponential backoff with deterministic jitter, and a
// per-receiver circuit breaker.
//
// Time domain: the monotonic clock, always passed in as milliseconds (`now_ms`; the dispatcher
// gives Clock::MonotonicNs / 1e6, so a stepped wall clock neither holds a circuit open nor closes
// it early); nothing here reads a clock, so tests drive it with literal times.
// Thread-safety: BackoffDelayMs is a pure function. A CircuitBreaker has no locking: its owner
// (the dispatcher, under its mutex) serialises calls.
#pragma once

#include <cstdint>
#include <string_view>

namespace smetsmon::webhook {

struct BackoffConfig {
  int64_t initial_ms = 1000;    // delay after the first failed attempt
  int64_t max_ms = 5 * 60'000;  // no delay is longer than this
  double multiplier = 2.0;      // delay(n) = initial * multiplier^(n-1), capped at max
  double jitter = 0.2;          // +/- this fraction of the delay, spread per notification
};

// Delay before attempt `failed_attempts + 1`, `failed_attempts` >= 1. The jitter is derived from
// `jitter_key` (the notification's idempotency key) and the attempt number: notifications that
// failed together spread out, yet a given notification's schedule is reproducible. Always in
// [1, max_ms].
int64_t BackoffDelayMs(const BackoffConfig& config, uint32_t failed_attempts,
                       std::string_view jitter_key);

struct CircuitBreakerConfig {
  int failures_to_open = 5;      // consecutive failed attempts that open the circuit
  int64_t open_for_ms = 60'000;  // how long an open circuit refuses requests before one trial
};

enum class CircuitState : uint8_t { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
const char* CircuitStateName(CircuitState s);  // "closed", "open", "half_open"

// Closed: every request is allowed; `failures_to_open` consecutive failures open it. Open: no
// request until `open_for` has passed, then one trial (half-open). The trial's success closes it,
// its failure opens it again for another `open_for`. A response that says the request itself is
// wrong (4xx) is a sign of life: report it as OnSuccess.
class CircuitBreaker {
 public:
  explicit CircuitBreaker(CircuitBreakerConfig config = {}) : config_(config) {}

  // True when a request may be sent now; moves open -> half-open (and takes the one trial slot)
  // once open_for has passed. Call once per request actually sent.
  bool Allow(int64_t now_ms);
  void OnSuccess();
  // Returns true when this failure opened (or re-opened) the circuit.
  bool OnFailure(int64_t now_ms);

  CircuitState state() const { return state_; }
  // When an open circuit allows its trial; meaningful only in state kOpen.
  int64_t open_until_ms() const { return open_until_ms_; }
  uint64_t times_opened() const { return times_opened_; }

 private:
  CircuitBreakerConfig config_;
  CircuitState state_ = CircuitState::kClosed;
  int consecutive_failures_ = 0;
  int64_t open_until_ms_ = 0;
  bool trial_in_flight_ = false;
  uint64_t times_opened_ = 0;
};

}  // namespace smetsmon::webhook
