// A minimal streaming JSON writer for reports and API answers (not on the per-event path).
// Handles commas and string escaping; the caller nests Begin/End correctly.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smetsmon {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view k) {
    Comma();
    AppendString(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonWriter& String(std::string_view s) {
    Comma();
    AppendString(s);
    return *this;
  }
  JsonWriter& Uint(uint64_t v) { return Raw(std::to_string(v)); }
  JsonWriter& Int(int64_t v) { return Raw(std::to_string(v)); }
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v) { return Raw(v ? "true" : "false"); }
  JsonWriter& Null() { return Raw("null"); }
  // A value that is already JSON text (e.g. another writer's output).
  JsonWriter& RawValue(std::string_view json) { return Raw(json); }
  // Convenience: "key": value.
  JsonWriter& Field(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }

  const std::string& str() const { return out_; }
  static void Escape(std::string_view s, std::string* out);

 private:
  JsonWriter& Raw(std::string_view text) {
    Comma();
    out_.append(text);
    return *this;
  }
  JsonWriter& Open(char c) {
    Comma();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& Close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  void Comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }
  void AppendString(std::string_view s) {
    out_.push_back('"');
    Escape(s, &out_);
    out_.push_back('"');
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

inline void JsonWriter::Escape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(ch);
        }
    }
  }
}

inline JsonWriter& JsonWriter::Double(double v) {
  if (!std::isfinite(v)) return Raw("null");  // JSON has no NaN or infinity
  char buf[32];
  // Shortest text that reads back as the same double (0.92, not 0.92000000000000004).
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return Raw(std::string_view(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0));
}

}  // namespace smetsmon
