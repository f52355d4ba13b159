// A small JSON reader for tests (the webhook tests do not link simdjson): parses a whole document
// into a tree and fails on anything that is not strict JSON, so a payload that parses here is
// valid JSON with the shape the test then checks.
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smetsmon::webhook::testing {

struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  bool Has(const std::string& k) const { return object.count(k) != 0; }
  const Json& operator[](const std::string& k) const {
    static const Json kNull;
    auto it = object.find(k);
    return it == object.end() ? kNull : it->second;
  }
  const Json& operator[](size_t i) const { return array.at(i); }
  bool is_string() const { return type == Type::kString; }
  bool is_object() const { return type == Type::kObject; }
  bool is_array() const { return type == Type::kArray; }
  bool is_number() const { return type == Type::kNumber; }
};

class JsonParser {
 public:
  static std::optional<Json> Parse(std::string_view text) {
    JsonParser p(text);
    Json j;
    if (!p.Value(&j)) return std::nullopt;
    p.Ws();
    if (p.i_ != text.size()) return std::nullopt;
    return j;
  }

 private:
  explicit JsonParser(std::string_view t) : t_(t) {}
  void Ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t'))
      ++i_;
  }
  bool Lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool Value(Json* out) {
    if (++depth_ > 64) return false;
    Ws();
    if (i_ >= t_.size()) return false;
    bool ok = false;
    const char c = t_[i_];
    if (c == '{') {
      ok = Object(out);
    } else if (c == '[') {
      ok = Array(out);
    } else if (c == '"') {
      out->type = Json::Type::kString;
      ok = String(&out->string);
    } else if (c == 't') {
      out->type = Json::Type::kBool;
      out->boolean = true;
      ok = Lit("true");
    } else if (c == 'f') {
      out->type = Json::Type::kBool;
      ok = Lit("false");
    } else if (c == 'n') {
      ok = Lit("null");
    } else {
      ok = Number(out);
    }
    --depth_;
    return ok;
  }
  bool Object(Json* out) {
    out->type = Json::Type::kObject;
    ++i_;
    Ws();
    if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
    for (;;) {
      Ws();
      std::string k;
      if (i_ >= t_.size() || t_[i_] != '"' || !String(&k)) return false;
      Ws();
      if (i_ >= t_.size() || t_[i_] != ':') return false;
      ++i_;
      Json v;
      if (!Value(&v)) return false;
      if (!out->object.emplace(k, std::move(v)).second) return false;  // duplicate key
      Ws();
      if (i_ >= t_.size()) return false;
      if (t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (t_[i_] == '}') return ++i_, true;
      return false;
    }
  }
  bool Array(Json* out) {
    out->type = Json::Type::kArray;
    ++i_;
    Ws();
    if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
    for (;;) {
      Json v;
      if (!Value(&v)) return false;
      out->array.push_back(std::move(v));
      Ws();
      if (i_ >= t_.size()) return false;
      if (t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (t_[i_] == ']') return ++i_, true;
      return false;
    }
  }
  bool String(std::string* out) {
    ++i_;  // opening quote
    while (i_ < t_.size()) {
      const char c = t_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= t_.size()) return false;
      const char e = t_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          if (i_ + 4 > t_.size()) return false;
          const std::string hex(t_.substr(i_, 4));
          char* end = nullptr;
          const long cp = std::strtol(hex.c_str(), &end, 16);
          if (end != hex.c_str() + 4) return false;
          i_ += 4;
          if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool Number(Json* out) {
    const size_t start = i_;
    if (i_ < t_.size() && t_[i_] == '-') ++i_;
    if (i_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[i_]))) return false;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '.' ||
                              t_[i_] == 'e' || t_[i_] == 'E' || t_[i_] == '+' || t_[i_] == '-')) {
      ++i_;
    }
    const std::string s(t_.substr(start, i_ - start));
    char* end = nullptr;
    out->type = Json::Type::kNumber;
    out->number = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size();
  }

  std::string_view t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace smetsmon::webhook::testing
