// A daemon's counters, each defined once: an enum names them (ending in
// `Count`), one table gives each its status-file key and meaning, and a
// CounterSet holds the values one thread writes. The status file (and the
// metrics exporter) render from the same table, so a counter is added in
// exactly two places: the enum and its row.
//
// Single writer per set: the thread that owns a set (a worker, the control
// plane) adds with a relaxed load+store (no locked instruction on the data
// path); any thread may read. Totals are sums over sets, not a consistent
// snapshot across counters.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace dialout {

struct CounterInfo {
  std::string_view key;   // status-file key, e.g. "drop_policy"
  std::string_view help;  // one line: what is counted
  // A level (sessions now, routes installed) rather than a running total:
  // the metrics exporter names it without `_total` and types it `gauge`.
  bool gauge = false;
};

template <class E>
class CounterSet {
 public:
  static constexpr size_t kSize = size_t(E::Count);
  using Values = std::array<uint64_t, kSize>;

  void add(E e, uint64_t n = 1) {
    auto& v = values_[size_t(e)];
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get(E e) const { return values_[size_t(e)].load(std::memory_order_relaxed); }

  Values snapshot() const {
    Values out{};
    for (size_t i = 0; i < kSize; ++i) out[i] = values_[i].load(std::memory_order_relaxed);
    return out;
  }
  // Adds this set's values to `into` (for totals over several sets).
  void accumulate(Values& into) const {
    for (size_t i = 0; i < kSize; ++i) into[i] += values_[i].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, kSize> values_{};
};

// One value, written by one thread only (relaxed load+store: no locked
// instruction) and read by any: per-session byte counts for status.
class SingleWriterCounter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// (key, value) rows in table order, for StatusFile::write.
template <size_t N>
std::vector<std::pair<std::string_view, uint64_t>> counter_rows(const std::array<CounterInfo, N>& table,
                                                                const std::array<uint64_t, N>& values) {
  std::vector<std::pair<std::string_view, uint64_t>> rows;
  rows.reserve(N);
  for (size_t i = 0; i < N; ++i) rows.emplace_back(table[i].key, values[i]);
  return rows;
}

}  // namespace dialout
