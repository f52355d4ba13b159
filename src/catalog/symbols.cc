#include "catalog/symbols.h"

#include <algorithm>

namespace smetsmon::catalog {

SymbolTable::SymbolTable(std::string kind, size_t capacity)
    : kind_(std::move(kind)), capacity_(capacity) {
  names_.emplace_back("");
  names_.emplace_back("other");
}

uint16_t SymbolTable::Intern(std::string_view label) {
  if (label.empty()) return kNone;
  std::lock_guard lock(mu_);
  const auto it = ids_.find(label);
  if (it != ids_.end()) return it->second;
  if (names_.size() - 2 >= capacity_) {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    return kOverflow;
  }
  const auto id = static_cast<uint16_t>(names_.size());
  names_.emplace_back(label);
  ids_.emplace(names_.back(), id);
  return id;
}

std::string_view SymbolTable::Name(uint16_t id) const {
  std::lock_guard lock(mu_);
  return id < names_.size() ? std::string_view(names_[id]) : std::string_view();
}

uint16_t SymbolTable::Find(std::string_view label) const {
  std::lock_guard lock(mu_);
  const auto it = ids_.find(label);
  return it == ids_.end() ? kNone : it->second;
}

size_t SymbolTable::size() const {
  std::lock_guard lock(mu_);
  return names_.size() - 2;
}

std::vector<uint16_t> SymbolTable::IdsByName() const {
  std::lock_guard lock(mu_);
  std::vector<uint16_t> ids;
  for (size_t i = 2; i < names_.size(); ++i) ids.push_back(static_cast<uint16_t>(i));
  std::sort(ids.begin(), ids.end(),
            [this](uint16_t a, uint16_t b) { return names_[a] < names_[b]; });
  return ids;
}

}  // namespace smetsmon::catalog
