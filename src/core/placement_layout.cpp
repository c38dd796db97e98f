// lplb::detail::build_placement_layout: see placement_layout.hpp.
#include "core/placement_layout.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "lplb/errors.hpp"

namespace lplb::detail {
namespace {

template <typename Id>
std::vector<int32_t> checked_impl(std::span<const Id> phy2log, int64_t E, int64_t P) {
  check_arg(E > 0, "num_experts", "must be > 0, got " + std::to_string(E));
  check_arg(E <= INT32_MAX, "num_experts", "must be < 2^31, got " + std::to_string(E));
  check_arg(P > 0, "ep_size", "must be > 0, got " + std::to_string(P));
  const int64_t n = static_cast<int64_t>(phy2log.size());
  check_arg(n > 0, "phy2log", "is empty");
  check_arg(n < INT32_MAX, "phy2log", "has 2^31 or more slots");
  check_arg(n % P == 0, "phy2log",
            "length " + std::to_string(n) + " is not a multiple of ep_size " + std::to_string(P));
  std::vector<int32_t> out(n);
  std::vector<char> seen(E, 0);
  for (int64_t s = 0; s < n; ++s) {
    const int64_t e = static_cast<int64_t>(phy2log[s]);
    if (e < 0 || e >= E)
      throw_arg("phy2log", "slot " + std::to_string(s) + " holds expert " + std::to_string(e) +
                               ", outside [0, " + std::to_string(E) + ")");
    out[s] = static_cast<int32_t>(e);
    seen[e] = 1;
  }
  for (int64_t e = 0; e < E; ++e)
    if (seen[e] == 0)
      throw_arg("phy2log", "expert " + std::to_string(e) +
                               " has no replica (every expert in [0, " + std::to_string(E) +
                               ") needs at least one slot)");
  return out;
}

// CSR of `keys` (values in [0, n)) listing the indices k in ascending order.
void bucket(const std::vector<int32_t>& keys, int64_t n, std::vector<int32_t>& offset,
            std::vector<int32_t>& list) {
  offset.assign(n + 1, 0);
  for (int32_t k : keys)
    if (k >= 0) ++offset[k + 1];
  for (int64_t i = 0; i < n; ++i) offset[i + 1] += offset[i];
  list.resize(offset[n]);
  std::vector<int32_t> at(offset.begin(), offset.end() - 1);
  for (size_t k = 0; k < keys.size(); ++k)
    if (keys[k] >= 0) list[at[keys[k]]++] = static_cast<int32_t>(k);
}

}  // namespace

std::vector<int32_t> checked_phy2log(std::span<const int64_t> phy2log, int64_t E, int64_t P) {
  return checked_impl(phy2log, E, P);
}
std::vector<int32_t> checked_phy2log(std::span<const int32_t> phy2log, int64_t E, int64_t P) {
  return checked_impl(phy2log, E, P);
}

PlacementLayout build_placement_layout(std::vector<int32_t> phy2log, int64_t E, int64_t P,
                                       std::span<const uint8_t> absent) {
  PlacementLayout L;
  const int64_t n = static_cast<int64_t>(phy2log.size());
  L.num_experts = E;
  L.ep_size = P;
  L.n_local = n / P;
  L.phy2log = std::move(phy2log);
  check_arg(absent.empty() || static_cast<int64_t>(absent.size()) == n, "absent",
            "expected " + std::to_string(n) + " entries (one per physical slot), got " +
                std::to_string(absent.size()));
  L.absent.assign(n, 0);
  for (size_t s = 0; s < absent.size(); ++s) L.absent[s] = absent[s] != 0;

  // Present slots per expert, ascending.
  std::vector<int32_t> key(n);
  for (int64_t s = 0; s < n; ++s) key[s] = L.absent[s] ? -1 : L.phy2log[s];
  bucket(key, E, L.slot_offset, L.slots);
  L.max_count = 0;
  for (int64_t e = 0; e < E; ++e) {
    const int32_t k = L.slot_offset[e + 1] - L.slot_offset[e];
    if (k == 0)
      throw_arg("absent", "expert " + std::to_string(e) +
                              " has no present slot (every expert needs at least one)");
    L.max_count = std::max<int64_t>(L.max_count, k);
  }

  // Items: experts sharing one set of >= 2 distinct ranks, numbered by their
  // first expert.
  std::map<std::vector<int32_t>, int32_t> item_ids;
  std::vector<std::vector<int32_t>> item_ranks;
  L.item_of.assign(E, -1);
  std::vector<int32_t> fixed_rank(E, -1);
  for (int64_t e = 0; e < E; ++e) {
    std::vector<int32_t> ranks;
    for (int32_t k = L.slot_offset[e]; k < L.slot_offset[e + 1]; ++k)
      ranks.push_back(static_cast<int32_t>(L.slots[k] / L.n_local));
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());  // slots ascending
    if (ranks.size() < 2) {
      fixed_rank[e] = ranks[0];
      continue;
    }
    auto [it, added] = item_ids.emplace(ranks, static_cast<int32_t>(item_ranks.size()));
    if (added) item_ranks.push_back(ranks);
    L.item_of[e] = it->second;
  }
  L.num_items = static_cast<int64_t>(item_ranks.size());
  L.item_offset.assign(L.num_items + 1, 0);
  for (int64_t i = 0; i < L.num_items; ++i) {
    for (int32_t r : item_ranks[i]) {
      L.item_rank.push_back(r);
      L.arc_item.push_back(static_cast<int32_t>(i));
    }
    L.item_offset[i + 1] = static_cast<int32_t>(L.item_rank.size());
  }
  bucket(L.item_rank, P, L.rank_offset, L.rank_arc);  // arcs by rank, ascending item
  bucket(L.item_of, L.num_items, L.item_expert_offset, L.item_expert);
  bucket(fixed_rank, P, L.fixed_offset, L.fixed_expert);

  // Per present slot: its arc and how many of its expert's present slots
  // share its rank.
  L.slot_arc.assign(n, -1);
  L.slot_mult.assign(n, 0);
  for (int64_t e = 0; e < E; ++e) {
    const int32_t first = L.slot_offset[e], last = L.slot_offset[e + 1];
    for (int32_t k = first; k < last; ++k) {
      const int32_t rank = static_cast<int32_t>(L.slots[k] / L.n_local);
      int32_t mult = 0;
      for (int32_t q = first; q < last; ++q) mult += L.slots[q] / L.n_local == rank;
      L.slot_mult[L.slots[k]] = mult;
      const int32_t item = L.item_of[e];
      if (item < 0) continue;
      for (int32_t a = L.item_offset[item]; a < L.item_offset[item + 1]; ++a)
        if (L.item_rank[a] == rank) L.slot_arc[L.slots[k]] = a;
    }
  }
  return L;
}

}  // namespace lplb::detail
