// IdIndex: positions of records in a sequence, found by an id the records
// hold themselves. An open-addressing table of (hash, position): no id is
// copied and no node is allocated per record, unlike a hash map keyed by id
// (whose node and key copy cost more than the lookups, for the operations
// every checkpoint writes).
//
// The table does not own the records: Find and Insert take the sequence
// (any container with operator[]) and a function that gives a record's id.
// A record's id must not change while it is indexed, and the container must
// keep positions stable (a deque or a vector appended to; never erased
// from).
//
// Thread-safety: none; the owner of the sequence guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::backend::local {

class IdIndex {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  // The position of the record whose id (IdOf(records[position])) is `id`,
  // or kNone.
  template <typename Records, typename IdOf>
  size_t Find(const Records& records, IdOf id_of, std::string_view id) const {
    if (slots_.empty()) return kNone;
    const size_t hash = Hash(id);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.position == kNone) return kNone;
      if (slot.hash == hash && std::string_view(id_of(records[slot.position])) == id) {
        return slot.position;
      }
    }
  }

  // Adds the record at `position`. REQUIRES: no indexed record has its id.
  void Insert(std::string_view id, size_t position) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Place({Hash(id), position});
    ++size_;
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    size_t hash = 0;
    size_t position = kNone;
  };

  static size_t Hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  void Place(const Slot& s) {
    size_t i = s.hash & mask_;
    while (slots_[i].position != kNone) i = (i + 1) & mask_;
    slots_[i] = s;
  }

  // Doubles the table (a power of two, at most half used).
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.position != kNone) Place(s);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace cairn::backend::local
