// systemd's service notification protocol (sd_notify(3)), for a unit with Type=notify and
// WatchdogSec=: "READY=1" once the daemon serves, "WATCHDOG=1" at half the watchdog interval while
// its loops are alive, "STOPPING=1" when it drains. Written here instead of linking libsystemd:
// the protocol is one datagram on the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
// abstract name starting with '@'), and systemd documents it as stable for reimplementation.
// Without $NOTIFY_SOCKET (not under systemd, tests) every call does nothing.
//
// Thread-safety: the functions read the environment and send one datagram; call from any thread.
// Time domain: WatchdogInterval is a duration (microseconds in $WATCHDOG_USEC).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace smetsmon::app {

// Sends `state` (for example "READY=1\nSTATUS=consuming") to $NOTIFY_SOCKET. OK when sent or when
// there is no socket to send to; an error (logged by the caller, never fatal) otherwise.
absl::Status SdNotify(std::string_view state);

// The interval systemd expects WATCHDOG=1 within, when $WATCHDOG_USEC is set and $WATCHDOG_PID is
// unset or this process; nullopt otherwise.
std::optional<std::chrono::microseconds> WatchdogInterval();

}  // namespace smetsmon::app
