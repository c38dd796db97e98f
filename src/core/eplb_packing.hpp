// The two building blocks of EPLB (docs/EPLB.md): replicating experts and
// balanced packing. Arithmetic is float32 in the reference's order (it runs
// on weight.float()), so near-ties break exactly as deepseek-ai/EPLB breaks them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

namespace lplb::detail {

// Gives `num_phy - weight.size()` extra replicas, one at a time, to the expert
// with the largest weight / count (the first such on ties, like torch.max).
// Outputs: phy2log[num_phy] (the first weight.size() slots are the experts in
// order), rank[num_phy] (the expert's count before this replica), count[n].
inline void replicate_experts(std::span<const float> weight, int64_t num_phy,
                              std::span<int64_t> phy2log, std::span<int64_t> rank,
                              std::span<int64_t> count) {
  const auto n = static_cast<int64_t>(weight.size());
  std::vector<float> per_replica(weight.begin(), weight.end());
  std::iota(phy2log.begin(), phy2log.begin() + n, int64_t{0});
  std::fill(rank.begin(), rank.begin() + n, int64_t{0});
  std::fill(count.begin(), count.end(), int64_t{1});
  for (int64_t p = n; p < num_phy; ++p) {
    const auto best = std::max_element(per_replica.begin(), per_replica.end()) - per_replica.begin();
    phy2log[p] = best;
    rank[p] = count[best]++;
    per_replica[best] = weight[best] / static_cast<float>(count[best]);
  }
}

// Feasibility guard for spread packing: can the items not yet placed still go
// out with no two replicas of one expert in a pack? Items arrive expert by
// expert (all replicas of an expert are adjacent in the visit order), so
// besides the current expert every expert with items left is untouched.
class SpreadGuard {
 public:
  SpreadGuard(std::span<const int64_t> expert, int64_t num_experts, int64_t num_packs,
              int64_t capacity)
      : num_experts_(num_experts), capacity_(capacity), remaining_(num_experts, 0),
        holds_(num_packs * num_experts, false), items_(num_packs, 0), at_least_(num_packs + 1, 0) {
    for (int64_t e : expert) ++remaining_[e];
    total_ = remaining_;
    for (int64_t e = 0; e < num_experts; ++e) add_untouched(e, +1);
  }

  // True when every expert fits on distinct packs; only then can the guard hold.
  bool possible() const {
    return std::all_of(remaining_.begin(), remaining_.end(),
                       [&](int64_t r) { return r <= num_packs(); });
  }

  bool holds(int64_t pack, int64_t expert) const { return holds_[pack * num_experts_ + expert]; }

  // Would the rest stay placeable after putting one item of `expert` in `pack`?
  bool feasible_after(int64_t pack, int64_t expert) const {
    std::vector<int64_t> room(num_packs());
    for (int64_t q = 0; q < num_packs(); ++q) room[q] = capacity_ - items_[q] - (q == pack);
    // The expert's other replicas go to the allowed packs with the most room:
    // by an exchange argument that never hurts the untouched experts.
    std::vector<int64_t> allowed;
    for (int64_t q = 0; q < num_packs(); ++q)
      if (room[q] > 0 && q != pack && !holds(q, expert)) allowed.push_back(q);
    const int64_t left = remaining_[expert] - 1;
    if (static_cast<int64_t>(allowed.size()) < left) return false;
    std::sort(allowed.begin(), allowed.end(),
              [&](int64_t a, int64_t b) { return room[a] > room[b]; });
    for (int64_t k = 0; k < left; ++k) --room[allowed[k]];
    // Gale-Ryser: untouched experts (counts r_f) fill packs with these rooms,
    // one item per expert per pack, iff for every j the j largest rooms
    // hold no more than sum_f min(r_f, j) = sum_{i<=j} #{f : r_f >= i}.
    std::sort(room.begin(), room.end(), std::greater<>());
    const bool first = remaining_[expert] == total_[expert];
    int64_t demand = 0, supply = 0;
    for (int64_t j = 1; j <= num_packs(); ++j) {
      demand += room[j - 1];
      supply += at_least_[j] - (first && remaining_[expert] >= j);
      if (demand > supply) return false;
    }
    return true;
  }

  void place(int64_t pack, int64_t expert) {
    if (remaining_[expert] == total_[expert]) add_untouched(expert, -1);
    --remaining_[expert];
    holds_[pack * num_experts_ + expert] = true;
    ++items_[pack];
  }

 private:
  int64_t num_packs() const { return static_cast<int64_t>(items_.size()); }

  void add_untouched(int64_t expert, int64_t sign) {
    for (int64_t j = 1; j <= std::min(remaining_[expert], num_packs()); ++j) at_least_[j] += sign;
  }

  int64_t num_experts_, capacity_;
  std::vector<int64_t> remaining_;   // items of each expert not yet placed
  std::vector<int64_t> total_;       // items of each expert in all
  std::vector<bool> holds_;          // [pack][expert]: pack has an item of expert
  std::vector<int64_t> items_;       // items placed in each pack
  std::vector<int64_t> at_least_;    // [j]: untouched experts with >= j items
};

// Packs n items into num_packs packs of exactly n / num_packs items: visit
// items by weight descending and put each into the non-full pack with the
// smallest load (lowest index on ties). With `expert` given (spread mode), an item avoids packs already
// holding its expert, choosing the least-loaded pack that keeps the rest
// spreadable; when no spread placement exists at all, it only avoids them.
// Outputs pack[n] and rank[n] (the pack's item count before the item).
inline void balanced_packing(std::span<const float> weight, int64_t num_packs,
                             std::span<int64_t> pack, std::span<int64_t> rank,
                             std::span<const int64_t> expert = {}, int64_t num_experts = 0) {
  const auto n = static_cast<int64_t>(weight.size());
  const int64_t capacity = n / num_packs;
  if (capacity == 1) {
    std::iota(pack.begin(), pack.end(), int64_t{0});
    std::fill(rank.begin(), rank.end(), int64_t{0});
    return;
  }
  // Same algorithm and comparator as torch's CPU sort (std::sort, "a > b"),
  // so even tied items (replicas of one expert) come out in its order.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  if (expert.empty())
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return weight[a] > weight[b]; });
  else  // spread mode: an expert's items must be adjacent
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return weight[a] != weight[b] ? weight[a] > weight[b] : expert[a] < expert[b];
    });
  std::vector<float> load(num_packs, 0.0f);
  std::vector<int64_t> items(num_packs, 0);
  std::optional<SpreadGuard> guard;
  if (!expert.empty()) guard.emplace(expert, num_experts, num_packs, capacity);
  const bool guarded = guard && guard->possible();
  std::vector<int64_t> by_load(num_packs);
  for (int64_t item : order) {
    int64_t chosen = -1;
    if (!guard) {
      for (int64_t p = 0; p < num_packs; ++p)
        if (items[p] < capacity && (chosen < 0 || load[p] < load[chosen])) chosen = p;
    } else {
      const int64_t e = expert[item];
      std::iota(by_load.begin(), by_load.end(), int64_t{0});
      std::stable_sort(by_load.begin(), by_load.end(),
                       [&](int64_t a, int64_t b) { return load[a] < load[b]; });
      int64_t fallback = -1;
      for (int64_t p : by_load) {
        if (items[p] == capacity) continue;
        if (fallback < 0) fallback = p;
        if (guard->holds(p, e) || (guarded && !guard->feasible_after(p, e))) continue;
        chosen = p;
        break;
      }
      if (chosen < 0) chosen = fallback;  // every non-full pack already holds e
      guard->place(chosen, e);
    }
    pack[item] = chosen;
    rank[item] = items[chosen]++;
    load[chosen] += weight[item];
  }
}

}  // namespace lplb::detail
