// Secrets in configuration: which keys hold one, reading one from a file or an environment
// variable, and writing a key/value for a log line or an error without the value.
//
// A secret (a Kafka `sasl.password`, `ssl.key.password`, an API bearer token, a webhook HMAC
// secret) never appears in a log line, an error message or a metric: anything that prints a
// configured property goes through PropertyMessageWithoutValue / RedactSecret.
// Thread-safety: stateless functions.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace smetsmon {

inline constexpr std::string_view kRedacted = "<redacted>";

// A key whose value is a secret: its name contains password, secret, token, key.password or
// sasl.jaas (case-insensitive). Errs on the side of hiding.
inline bool IsSecretKey(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view word : {"password", "secret", "token", "key.password", "sasl.jaas"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

// `text` with every occurrence of `secret` replaced by <redacted> (a library's error message may
// quote the value it refused).
inline std::string RedactSecret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kRedacted.size())) {
    text.replace(at, secret.size(), kRedacted);
  }
  return text;
}

// librdkafka's message about a property it refused, without the value: the value it quotes
// ("Invalid value \"x\" for configuration property ...") becomes "<redacted>", and a value long
// enough not to match by chance (or any secret) is removed wherever else it appears. An error about
// a property names the key, never the value: a value may be a secret under a misspelt key.
inline std::string PropertyMessageWithoutValue(std::string_view key, std::string_view value,
                                               std::string message) {
  if (value.empty()) return message;
  const std::string quoted = absl::StrCat("\"", std::string(value), "\"");
  const std::string redacted = absl::StrCat("\"", std::string(kRedacted), "\"");
  for (size_t at = message.find(quoted); at != std::string::npos;
       at = message.find(quoted, at + redacted.size())) {
    message.replace(at, quoted.size(), redacted);
  }
  if (IsSecretKey(key) || value.size() >= 4) message = RedactSecret(std::move(message), value);
  return message;
}

// The whole file, one trailing newline (\n or \r\n) trimmed. An unreadable or empty file is an
// error naming the file (never its content).
inline absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read secret file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat("secret file ", path, " is empty"));
  return s;
}

// The value of environment variable `name`; unset or empty is an error naming the variable.
inline absl::StatusOr<std::string> ReadSecretEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == 0) {
    return absl::NotFoundError(absl::StrCat("environment variable ", name, " is not set"));
  }
  return std::string(v);
}

}  // namespace smetsmon
