// design_placement (lplb/placement_design.hpp): replica counts, a connected
// packing, and a local search on the exact LP over sample batches.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "common/placement_lp.hpp"
#include "core/input_checks.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement_design.hpp"

namespace lplb {
namespace {

// EPLB's replication rule: each extra copy goes to the expert with the
// largest predicted load per copy (lowest id on ties), at most `cap` each.
std::vector<int32_t> replica_counts(std::span<const double> predicted, int64_t slots,
                                    int64_t cap) {
  const int64_t E = static_cast<int64_t>(predicted.size());
  const double mean = std::accumulate(predicted.begin(), predicted.end(), 0.0) / E;
  // A tiny floor spreads copies over experts without history.
  const double floor = 1e-9 * mean + 1e-30;
  std::vector<int32_t> count(E, 1);
  using Key = std::pair<double, int64_t>;  // (load per copy, -id)
  std::vector<Key> heap;
  for (int64_t e = 0; e < E; ++e) heap.emplace_back(predicted[e] + floor, -e);
  std::make_heap(heap.begin(), heap.end());
  for (int64_t k = E; k < slots && !heap.empty();) {
    std::pop_heap(heap.begin(), heap.end());
    const int64_t e = -heap.back().second;
    heap.pop_back();
    if (count[e] >= cap) continue;
    ++count[e];
    ++k;
    heap.emplace_back((predicted[e] + floor) / count[e], -e);
    std::push_heap(heap.begin(), heap.end());
  }
  return count;
}

// A second copy of an expert on one rank adds no flexibility: when packing
// ran out of other ranks, swap it with the slot of closest load per copy on
// a rank that holds neither expert.
void remove_duplicates(std::vector<int32_t>& phy2log, std::span<const double> predicted,
                       const std::vector<int32_t>& count, int64_t P, int64_t n_local) {
  auto holds = [&](int64_t rank, int32_t e) {
    for (int64_t k = 0; k < n_local; ++k)
      if (phy2log[rank * n_local + k] == e) return true;
    return false;
  };
  for (int64_t r = 0; r < P; ++r)
    for (int64_t k = 1; k < n_local; ++k) {
      const int64_t a = r * n_local + k;
      const int32_t e = phy2log[a];
      if (count[e] > P || std::find(&phy2log[r * n_local], &phy2log[a], e) == &phy2log[a])
        continue;
      const double w = predicted[e] / count[e];
      int64_t best = -1;
      double best_gap = 0;
      for (int64_t q = 0; q < P; ++q) {
        if (q == r || holds(q, e)) continue;
        for (int64_t j = 0; j < n_local; ++j) {
          const int32_t f = phy2log[q * n_local + j];
          if (holds(r, f)) continue;
          const double gap = std::abs(predicted[f] / count[f] - w);
          if (best < 0 || gap < best_gap) {
            best = q * n_local + j;
            best_gap = gap;
          }
        }
      }
      if (best >= 0) std::swap(phy2log[a], phy2log[best]);
    }
}

// Greedy packing: replicas heaviest first onto the least loaded rank with a
// free slot and no copy of the expert; among near-equal loads, the rank that
// shares the fewest experts with the expert's other ranks.
std::vector<int32_t> pack(std::span<const double> predicted, const std::vector<int32_t>& count,
                          int64_t P, int64_t n_local, double tie_fraction) {
  const int64_t E = static_cast<int64_t>(predicted.size());
  struct Replica {
    double weight;
    int32_t expert;
  };
  std::vector<Replica> reps;
  for (int64_t e = 0; e < E; ++e)
    for (int32_t k = 0; k < count[e]; ++k)
      reps.push_back({predicted[e] / count[e], static_cast<int32_t>(e)});
  std::stable_sort(reps.begin(), reps.end(),
                   [](const Replica& a, const Replica& b) { return a.weight > b.weight; });
  const double total = std::accumulate(predicted.begin(), predicted.end(), 0.0);
  const double tie = tie_fraction * total / static_cast<double>(P * n_local);  // "near-equal" loads
  // Flexible slots (replicas of experts with >= 2 copies) are spread evenly:
  // every rank gets about F / P of them, so every rank can shed load.
  int64_t flex = 0;
  for (int64_t e = 0; e < E; ++e) flex += count[e] >= 2 ? count[e] : 0;
  const int64_t flex_cap = (flex + P - 1) / P, single_cap = n_local - flex / P;

  std::vector<double> load(P, 0.0);
  std::vector<int32_t> used(P, 0), used_flex(P, 0), link(P * P, 0);
  std::vector<std::vector<int32_t>> ranks_of(E);
  std::vector<int32_t> phy2log(P * n_local, -1);
  for (const Replica& r : reps) {
    const auto& mine = ranks_of[r.expert];
    int64_t best = -1;
    double best_load = 0;
    int32_t best_links = 0;
    const bool is_flex = count[r.expert] >= 2;
    // Pass 0: quotas and no second copy on a rank; pass 1: no quotas; pass 2: anything free.
    for (int pass = 0; pass < 3 && best < 0; ++pass) {
      for (int64_t q = 0; q < P; ++q) {
        if (used[q] >= n_local) continue;
        if (pass == 0 && (is_flex ? used_flex[q] >= flex_cap : used[q] - used_flex[q] >= single_cap))
          continue;
        if (pass <= 1 && std::find(mine.begin(), mine.end(), q) != mine.end()) continue;
        int32_t links = 0;
        for (int32_t s : mine) links += link[q * P + s];
        const bool better = best < 0 || load[q] < best_load - tie ||
                            (load[q] <= best_load + tie && links < best_links);
        if (better) {
          best = q;
          best_load = load[q];
          best_links = links;
        }
      }
    }
    for (int32_t s : mine) {
      ++link[best * P + s];
      ++link[s * P + best];
    }
    ranks_of[r.expert].push_back(static_cast<int32_t>(best));
    phy2log[best * n_local + used[best]++] = r.expert;
    used_flex[best] += is_flex;
    load[best] += r.weight;
  }
  remove_duplicates(phy2log, predicted, count, P, n_local);
  return phy2log;
}

// Mean LP imbalance (optimum / mean rank load) of a placement over sample
// batches, with the solver of placement_lp.hpp. Every expert with >= 2 ranks
// is its own item (no merging: the graph is rebuilt for every candidate).
class Evaluator {
 public:
  Evaluator(int64_t E, int64_t P, int64_t n_local, std::span<const double> samples)
      : E_(E), P_(P), n_local_(n_local), samples_(samples),
        num_samples_(static_cast<int64_t>(samples.size()) / E) {
    const int64_t n = P * n_local;
    item_of_.resize(E);
    home_.resize(E);
    item_offset_.reserve(E + 1);
    item_rank_.reserve(n);
    arc_item_.reserve(n);
    rank_offset_.resize(P + 1);
    rank_arc_.resize(n);
    fixed_.resize(P);
    weight_.resize(E);
    buffer_.resize(detail::placement_workspace_bytes(static_cast<int>(P), static_cast<int>(E),
                                                     static_cast<int>(n)) / 8 + 1);
    per_sample_.resize(num_samples_);
  }

  int64_t num_samples() const { return num_samples_; }
  const std::vector<double>& per_sample() const { return per_sample_; }
  void set_per_sample(const std::vector<double>& v) { per_sample_ = v; }

  double evaluate(const std::vector<int32_t>& phy2log) {
    build(phy2log);
    double sum = 0;
    for (int64_t k = 0; k < num_samples_; ++k) {
      per_sample_[k] = solve(&samples_[k * E_]);
      sum += per_sample_[k];
    }
    return num_samples_ > 0 ? sum / static_cast<double>(num_samples_) : 0.0;
  }

  // Ranks at the optimum in the last solved sample's solution.
  void hot_ranks(int64_t sample, const std::vector<int32_t>& phy2log, std::vector<int32_t>& out) {
    build(phy2log);
    solve(&samples_[sample * E_]);
    out.clear();
    std::vector<double> load(fixed_);
    for (int32_t a = 0; a < item_offset_.back(); ++a) load[item_rank_[a]] += ws_.flow[a];
    const double top = *std::max_element(load.begin(), load.end());
    for (int64_t r = 0; r < P_; ++r)
      if (load[r] >= top * (1 - 1e-9)) out.push_back(static_cast<int32_t>(r));
  }

 private:
  void build(const std::vector<int32_t>& phy2log) {
    // Distinct ranks per expert (slots are rank-major, so ranks come sorted).
    std::vector<std::vector<int32_t>>& ranks = ranks_;
    ranks.assign(E_, {});
    for (int64_t s = 0; s < P_ * n_local_; ++s) {
      auto& v = ranks[phy2log[s]];
      const int32_t r = static_cast<int32_t>(s / n_local_);
      if (v.empty() || v.back() != r) v.push_back(r);
    }
    item_offset_.assign(1, 0);
    item_rank_.clear();
    arc_item_.clear();
    int32_t items = 0;
    for (int64_t e = 0; e < E_; ++e) {
      home_[e] = ranks[e][0];
      if (ranks[e].size() < 2) {
        item_of_[e] = -1;
        continue;
      }
      item_of_[e] = items;
      for (int32_t r : ranks[e]) {
        item_rank_.push_back(r);
        arc_item_.push_back(items);
      }
      item_offset_.push_back(static_cast<int32_t>(item_rank_.size()));
      ++items;
    }
    std::fill(rank_offset_.begin(), rank_offset_.end(), 0);
    for (int32_t r : item_rank_) ++rank_offset_[r + 1];
    for (int64_t r = 0; r < P_; ++r) rank_offset_[r + 1] += rank_offset_[r];
    std::vector<int32_t>& at = at_;
    at.assign(rank_offset_.begin(), rank_offset_.end() - 1);
    for (size_t a = 0; a < item_rank_.size(); ++a) rank_arc_[at[item_rank_[a]]++] = static_cast<int32_t>(a);
    graph_ = detail::PlacementGraph{static_cast<int32_t>(P_), items, item_offset_.data(),
                                    item_rank_.data(), rank_offset_.data(), rank_arc_.data(),
                                    arc_item_.data()};
    ws_ = detail::placement_workspace_bind(buffer_.data(), static_cast<int>(P_), items,
                                           static_cast<int>(item_rank_.size()));
  }

  double solve(const double* w) {
    std::fill(fixed_.begin(), fixed_.end(), 0.0);
    const int32_t items = graph_.num_items;
    std::fill(weight_.begin(), weight_.begin() + items, 0.0);
    double total = 0;
    for (int64_t e = 0; e < E_; ++e) {
      total += w[e];
      if (item_of_[e] >= 0)
        weight_[item_of_[e]] += w[e];
      else
        fixed_[home_[e]] += w[e];
    }
    if (!(total > 0)) return 1.0;
    const detail::PlacementInfo info =
        detail::placement_solve(graph_, ws_, weight_.data(), fixed_.data());
    return info.bound / (total / static_cast<double>(P_));
  }

  int64_t E_, P_, n_local_;
  std::span<const double> samples_;
  int64_t num_samples_;
  std::vector<std::vector<int32_t>> ranks_;
  std::vector<int32_t> item_of_, home_, item_offset_, item_rank_, arc_item_, rank_offset_,
      rank_arc_, at_;
  std::vector<double> fixed_, weight_, buffer_, per_sample_;
  detail::PlacementGraph graph_;
  detail::PlacementWorkspace ws_{};
};

// Local search: first-improvement hill climbing (sideways moves allowed) over
// slot swaps between a hot rank and another rank, and moves of a copy from
// one expert to another.
int64_t local_search(std::vector<int32_t>& phy2log, std::span<const double> predicted,
                     const std::vector<int32_t>& expert_node, int64_t ranks_per_node,
                     int64_t n_local, int64_t cap, Evaluator& eval, int64_t moves,
                     uint64_t seed, double& value) {
  const int64_t E = static_cast<int64_t>(predicted.size());
  std::mt19937_64 rng(seed);
  std::vector<int32_t> count(E, 0);
  for (int32_t e : phy2log) ++count[e];
  auto holds = [&](int64_t rank, int32_t e) {
    for (int64_t k = 0; k < n_local; ++k)
      if (phy2log[rank * n_local + k] == e) return true;
    return false;
  };
  // New copies go to experts drawn by predicted load (plus a floor, so that
  // all-zero predictions still give a valid distribution).
  const double mean = std::accumulate(predicted.begin(), predicted.end(), 0.0) / E;
  std::vector<double> draw(predicted.begin(), predicted.end());
  for (double& d : draw) d += 1e-3 * mean + 1e-30;
  std::discrete_distribution<int64_t> pick_expert(draw.begin(), draw.end());
  // Moves stay inside a node (ranks_per_node == P without nodes).
  std::uniform_int_distribution<int64_t> pick_slot(0, n_local - 1),
      pick_rank(0, ranks_per_node - 1);
  std::vector<int32_t> hot;
  std::vector<double> saved;
  int64_t accepted = 0;
  value = eval.evaluate(phy2log);
  for (int64_t m = 0; m < moves; ++m) {
    // A hot rank of the worst sample half the time, else of a random sample.
    const auto& per = eval.per_sample();
    int64_t sample = std::uniform_int_distribution<int64_t>(0, eval.num_samples() - 1)(rng);
    if (m % 2 == 0)
      sample = std::max_element(per.begin(), per.end()) - per.begin();
    eval.hot_ranks(sample, phy2log, hot);
    const int64_t a_rank = hot[std::uniform_int_distribution<size_t>(0, hot.size() - 1)(rng)];
    const int64_t a = a_rank * n_local + pick_slot(rng);
    const int32_t ea = phy2log[a];
    int64_t b = -1;
    int32_t new_a = -1, new_b = -1;
    if (m % 4 != 3) {  // swap with a slot on another rank
      const int64_t b_rank = a_rank / ranks_per_node * ranks_per_node + pick_rank(rng);
      if (b_rank == a_rank) continue;
      b = b_rank * n_local + pick_slot(rng);
      const int32_t eb = phy2log[b];
      if (ea == eb || holds(b_rank, ea) || holds(a_rank, eb)) continue;
      new_a = eb;
      new_b = ea;
    } else {  // the slot's copy goes to another (likely heavy) expert
      const int32_t f = static_cast<int32_t>(pick_expert(rng));
      if (count[ea] < 2 || count[f] >= cap || f == ea || holds(a_rank, f) ||
          expert_node[f] != a_rank / ranks_per_node)
        continue;
      new_a = f;
    }
    saved = eval.per_sample();
    phy2log[a] = new_a;
    if (b >= 0) phy2log[b] = new_b;
    const double v = eval.evaluate(phy2log);
    if (v <= value) {
      value = v;
      ++accepted;
      if (b < 0) {
        --count[ea];
        ++count[new_a];
      }
    } else {
      phy2log[a] = ea;
      if (b >= 0) phy2log[b] = new_a;
      eval.set_per_sample(saved);
    }
  }
  return accepted;
}

// EPLB's first step: groups of E / num_groups consecutive experts go to
// nodes, the same number of groups each, heaviest group first onto the
// lightest node with room (lowest index on ties). Returns each expert's node.
std::vector<int32_t> expert_nodes(std::span<const double> load, int64_t groups, int64_t nodes) {
  const int64_t E = static_cast<int64_t>(load.size()), size = E / groups;
  std::vector<double> group_load(groups, 0.0);
  for (int64_t e = 0; e < E; ++e) group_load[e / size] += load[e];
  std::vector<int64_t> order(groups);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return group_load[a] > group_load[b]; });
  std::vector<double> node_load(nodes, 0.0);
  std::vector<int64_t> node_groups(nodes, 0);
  std::vector<int32_t> node_of(E);
  for (int64_t g : order) {
    int64_t best = -1;
    for (int64_t k = 0; k < nodes; ++k)
      if (node_groups[k] < groups / nodes && (best < 0 || node_load[k] < node_load[best])) best = k;
    node_load[best] += group_load[g];
    ++node_groups[best];
    for (int64_t e = g * size; e < (g + 1) * size; ++e) node_of[e] = static_cast<int32_t>(best);
  }
  return node_of;
}

}  // namespace

PlacementDesign design_placement(std::span<const double> predicted,
                                 std::span<const double> deviation, int64_t ep_size,
                                 std::span<const double> samples,
                                 const PlacementDesignOptions& options) {
  const int64_t E = static_cast<int64_t>(predicted.size()), P = ep_size;
  const int64_t n_local = options.slots_per_rank;
  check_arg(E > 0, "predicted", "is empty");
  check_arg(P > 0, "ep_size", "must be > 0, got " + std::to_string(P));
  check_arg(n_local > 0, "slots_per_rank", "must be > 0, got " + std::to_string(n_local));
  check_arg(std::isfinite(options.tie_fraction) && options.tie_fraction >= 0, "tie_fraction",
            "must be finite and >= 0, got " + std::to_string(options.tie_fraction));
  const int64_t G = options.num_groups, N = options.num_nodes;
  check_arg(N > 0 && P % N == 0, "num_nodes",
            "must be > 0 and divide ep_size " + std::to_string(P) + ", got " + std::to_string(N));
  check_arg(G > 0 && E % G == 0, "num_groups",
            "must be > 0 and divide the " + std::to_string(E) + " experts, got " +
                std::to_string(G));
  check_arg(N == 1 || G % N == 0, "num_groups",
            std::to_string(G) + " groups cannot be shared evenly by " + std::to_string(N) +
                " nodes");
  // Per node (the whole cluster when N == 1): its experts, ranks and slots.
  const int64_t E_node = E / N, P_node = P / N;
  check_arg(P_node * n_local >= E_node, "slots_per_rank",
            std::to_string(P_node) + " ranks x " + std::to_string(n_local) +
                " slots cannot hold " + std::to_string(E_node) + " experts" +
                (N > 1 ? " per node" : ""));
  // Default cap: one copy per rank, unless the slots cannot be filled so.
  const int64_t cap = options.max_copies > 0
                          ? options.max_copies
                          : std::max(P_node, (P_node * n_local + E_node - 1) / E_node);
  check_arg(cap * E_node >= P_node * n_local, "max_copies",
            std::to_string(E_node) + " experts x " + std::to_string(cap) +
                " copies cannot fill " + std::to_string(P_node * n_local) + " slots" +
                (N > 1 ? " per node" : ""));
  check_arg(options.search_moves >= 0, "search_moves", "must be >= 0");
  detail::check_entries(predicted, "predicted", detail::Bound::kNonNegative);
  check_arg(deviation.empty() || deviation.size() == predicted.size(), "deviation",
            "expected " + std::to_string(E) + " entries (or none), got " +
                std::to_string(deviation.size()));
  detail::check_entries(deviation, "deviation", detail::Bound::kNonNegative);
  check_arg(std::isfinite(options.count_deviations) && options.count_deviations >= 0,
            "count_deviations", "must be finite and >= 0");
  check_arg(std::isfinite(options.pack_deviations) && options.pack_deviations >= 0,
            "pack_deviations", "must be finite and >= 0");
  check_arg(samples.size() % E == 0, "samples",
            "length " + std::to_string(samples.size()) + " is not a multiple of E = " +
                std::to_string(E));
  detail::check_entries(samples, "samples", detail::Bound::kNonNegative);

  PlacementDesign out;
  // Risk-adjusted loads: mean + k * deviation, one k for counts, one for packing.
  auto adjusted = [&](double k) {
    std::vector<double> v(predicted.begin(), predicted.end());
    if (!deviation.empty())
      for (int64_t e = 0; e < E; ++e) v[e] += k * deviation[e];
    return v;
  };
  const std::vector<double> for_count = adjusted(options.count_deviations);
  const std::vector<double> for_pack = adjusted(options.pack_deviations);
  const std::vector<int32_t> node_of =
      N > 1 ? expert_nodes(predicted, G, N) : std::vector<int32_t>(E, 0);
  out.phy2log.assign(P * n_local, -1);
  for (int64_t k = 0; k < N; ++k) {  // each node's experts on its own ranks
    std::vector<int32_t> ids;
    for (int64_t e = 0; e < E; ++e)
      if (node_of[e] == k) ids.push_back(static_cast<int32_t>(e));
    std::vector<double> c(ids.size()), q(ids.size());
    for (size_t j = 0; j < ids.size(); ++j) {
      c[j] = for_count[ids[j]];
      q[j] = for_pack[ids[j]];
    }
    const std::vector<int32_t> local =
        pack(q, replica_counts(c, P_node * n_local, cap), P_node, n_local, options.tie_fraction);
    for (size_t s = 0; s < local.size(); ++s)
      out.phy2log[k * P_node * n_local + s] = ids[local[s]];
  }
  if (samples.empty()) return out;
  Evaluator eval(E, P, n_local, samples);
  out.sample_imbalance_before = eval.evaluate(out.phy2log);
  out.sample_imbalance_after = out.sample_imbalance_before;
  if (options.search_moves > 0)
    out.moves_accepted = local_search(out.phy2log, predicted, node_of, P_node, n_local, cap, eval,
                                      options.search_moves, options.seed,
                                      out.sample_imbalance_after);
  return out;
}

}  // namespace lplb
