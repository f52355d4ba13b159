#include "app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace smetsmon::app {

absl::Status SdNotify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return absl::OkStatus();
  const size_t length = std::strlen(path);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || length >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("NOTIFY_SOCKET is not a socket path: ", path));
  }
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';  // an abstract socket name
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "sd_notify socket");
  const socklen_t address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&address), address_length);
  const int saved_errno = errno;
  close(fd);
  if (sent < 0) return absl::ErrnoToStatus(saved_errno, absl::StrCat("sd_notify to ", path));
  return absl::OkStatus();
}

std::optional<std::chrono::microseconds> WatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr) {
    long long watched = 0;
    const std::string_view text(pid);
    if (std::from_chars(text.data(), text.data() + text.size(), watched).ec != std::errc() ||
        watched != static_cast<long long>(getpid())) {
      return std::nullopt;  // meant for another process (a wrapper's child, say)
    }
  }
  long long value = 0;
  const std::string_view text(usec);
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc() ||
      value <= 0) {
    return std::nullopt;
  }
  return std::chrono::microseconds(value);
}

}  // namespace smetsmon::app
