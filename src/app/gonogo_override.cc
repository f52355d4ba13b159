#include "app/gonogo_override.h"

#include <simdjson.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/json_writer.h"
#include "report/gonogo_report.h"

namespace smetsmon::app {
namespace {

namespace od = simdjson::ondemand;

http::Response Error(int status, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Field("error", message).EndObject();
  return {status, "application/json", w.str()};
}

int StatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kFailedPrecondition:
      return 409;  // no daily decision yet
    case absl::StatusCode::kResourceExhausted:
      return 429;
    default:
      return 500;
  }
}

}  // namespace

absl::StatusOr<rules::GoNoGoOverride> ParseGoNoGoOverride(std::string_view body) {
  const auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        why, R"( (want {"criterion": "<id>" or "overall", "rag": "green", "amber" or "red", )",
        R"("reason": "...", "by": "..."}))"));
  };
  const simdjson::padded_string padded(body.data(), body.size());
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS)
    return bad("the body is not valid JSON");
  od::object object;
  // The root object is checked whole here (balanced, nothing after it).
  if (const simdjson::error_code err = doc.get_object().get(object); err != simdjson::SUCCESS) {
    return bad(err == simdjson::INCORRECT_TYPE
                   ? std::string("the body is not a JSON object")
                   : absl::StrCat("the body is not valid JSON: ", simdjson::error_message(err)));
  }
  std::optional<std::string> criterion, rag, reason, by;
  for (auto field : object) {
    std::string_view key_view;
    if (field.unescaped_key().get(key_view) != simdjson::SUCCESS) {
      return bad("the body is not valid JSON");
    }
    const std::string key(key_view);  // copied: the next string read reuses the parser's buffer
    std::optional<std::string>* slot = key == "criterion" ? &criterion
                                       : key == "rag"     ? &rag
                                       : key == "reason"  ? &reason
                                       : key == "by"      ? &by
                                                          : nullptr;
    if (slot == nullptr) return bad(absl::StrCat("unknown field '", key, "'"));
    if (slot->has_value()) return bad(absl::StrCat("field '", key, "' is given twice"));
    std::string_view value;
    const simdjson::error_code err = field.value().get_string().get(value);
    if (err == simdjson::INCORRECT_TYPE) return bad(absl::StrCat("'", key, "' is not a string"));
    if (err != simdjson::SUCCESS) return bad("the body is not valid JSON");
    slot->emplace(value);
  }
  // Anything after the object (a second value, garbage) is refused too.
  if (!doc.current_location().error()) return bad("the body has content after the object");
  for (const auto& [name, field] :
       {std::pair<const char*, const std::optional<std::string>*>{"criterion", &criterion},
        {"rag", &rag},
        {"reason", &reason},
        {"by", &by}}) {
    if (!field->has_value()) return bad(absl::StrCat("'", name, "' is missing"));
  }
  rules::GoNoGoOverride o;
  o.criterion = *criterion;
  const std::string rag_lower = absl::AsciiStrToLower(*rag);
  if (rag_lower == "green") {
    o.rag = rules::Rag::kGreen;
  } else if (rag_lower == "amber") {
    o.rag = rules::Rag::kAmber;
  } else if (rag_lower == "red") {
    o.rag = rules::Rag::kRed;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("rag '", *rag, "' is not green, amber or red"));
  }
  o.reason = *std::move(reason);
  o.by = *std::move(by);
  return o;
}

http::Response RecordGoNoGoOverride(rules::Evaluator& evaluator, std::string_view body,
                                    ProcessingTime now) {
  absl::StatusOr<rules::GoNoGoOverride> o = ParseGoNoGoOverride(body);
  if (!o.ok()) return Error(400, std::string(o.status().message()));
  o->recorded_at_ms = now.ms;
  const rules::GoNoGoOverride recorded = *o;
  absl::StatusOr<rules::GoNoGoResult> decision = evaluator.RecordGoNoGoOverride(*std::move(o));
  if (!decision.ok()) {
    return Error(StatusFor(decision.status()), std::string(decision.status().message()));
  }
  JsonWriter w;
  w.BeginObject();
  w.Key("override").BeginObject();
  w.Field("criterion", recorded.criterion);
  w.Field("rag", rules::RagName(recorded.rag));
  w.Field("reason", recorded.reason);
  w.Field("by", recorded.by);
  w.Key("recorded_at_ms").Int(recorded.recorded_at_ms);
  w.Field("decision_local_date", decision->local_date);
  w.Key("decision_at_ms").Int(decision->at.ms);
  w.EndObject();
  w.Key("decision").RawValue(report::GoNoGoToJson(*decision));
  w.EndObject();
  return {200, "application/json", w.str()};
}

}  // namespace smetsmon::app
