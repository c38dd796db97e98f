// lplb::replan: see lplb/replan.hpp. Validation, the scenarios drawn from
// the history, the greedy one-slot rounds, and the copy sources.
#include "lplb/replan.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "core/input_checks.hpp"
#include "core/placement_layout.hpp"
#include "core/replan_lp.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

// One workload the placement is scored on, with its weight in the objective
// and 1 / its mean rank load (the objective sums weight * optimum / mean:
// imbalances, so scenarios of different totals count alike).
struct Scenario {
  std::vector<double> load;
  double weight = 0, inv_mean = 0;
  bool batch = false;  // one real step of the history (not a smoothed prediction)
};

void check_options(const ReplanOptions& o) {
  const auto finite = [](double x) { return std::isfinite(x); };
  check_arg(finite(o.half_life), "options", "half_life must be finite");
  check_arg(finite(o.hedge_deviations) && o.hedge_deviations >= 0, "options",
            "hedge_deviations must be finite and >= 0");
  check_arg(finite(o.hedge_weight) && o.hedge_weight >= 0 && o.hedge_weight <= 1, "options",
            "hedge_weight must be in [0, 1]");
  check_arg(finite(o.recent_weight) && o.recent_weight >= 0 && o.hedge_weight + o.recent_weight <= 1,
            "options", "recent_weight must be >= 0 and hedge_weight + recent_weight <= 1");
  check_arg(o.recent_steps >= 0, "options", "recent_steps must be >= 0");
  check_arg(finite(o.noise_deviations) && o.noise_deviations >= 0, "options",
            "noise_deviations must be finite and >= 0");
  check_arg(o.receivers >= 1 && o.donors >= 1 && o.finalists >= 1, "options",
            "receivers, donors and finalists must be >= 1");
}

// The recency-weighted mean, and mean + hedge_deviations * sd (the plain
// standard deviation over all steps: which experts burst persists longer than
// their level) when the history has more than one step.
std::vector<Scenario> make_scenarios(std::span<const double> history, int64_t steps, int64_t E,
                                     int64_t P, const ReplanOptions& o) {
  std::vector<double> mean(E, 0.0), s1(E, 0.0), s2(E, 0.0);
  const double decay = o.half_life > 0 ? std::pow(0.5, 1.0 / o.half_life) : 1.0;
  double weight = 1.0, weights = 0.0;
  for (int64_t t = steps - 1; t >= 0; --t, weight *= decay) {
    const double* row = history.data() + t * E;
    for (int64_t e = 0; e < E; ++e) {
      mean[e] += weight * row[e];
      s1[e] += row[e];
      s2[e] += row[e] * row[e];
    }
    weights += weight;
  }
  for (double& m : mean) m /= weights;
  std::vector<Scenario> out;
  const double hedge = steps > 1 && o.hedge_deviations > 0 ? o.hedge_weight : 0.0;
  const int64_t recent = std::min(o.recent_steps, steps);
  const double recent_weight = recent > 0 ? o.recent_weight : 0.0;
  out.push_back({mean, 1.0 - hedge - recent_weight, 0.0});
  for (int64_t t = steps - recent; t < steps; ++t)
    out.push_back({std::vector<double>(history.begin() + t * E, history.begin() + (t + 1) * E),
                   recent_weight / static_cast<double>(recent), 0.0, true});
  if (hedge > 0) {
    const double n = static_cast<double>(steps);
    std::vector<double> hedged(E);
    for (int64_t e = 0; e < E; ++e) {
      const double var = std::max(0.0, s2[e] / n - (s1[e] / n) * (s1[e] / n));
      hedged[e] = mean[e] + o.hedge_deviations * std::sqrt(var);
    }
    out.push_back({std::move(hedged), hedge, 0.0});
  }
  // Scenarios without load (or weight) cannot rank placements: drop them.
  std::vector<Scenario> kept;
  for (Scenario& s : out) {
    double total = 0;
    for (double x : s.load) total += x;
    if (total > 0 && s.weight > 0) {
      s.inv_mean = static_cast<double>(P) / total;
      kept.push_back(std::move(s));
    }
  }
  return kept;
}

// The greedy search over one-slot changes (see lplb/replan.hpp).
class Greedy {
 public:
  Greedy(std::vector<int32_t> phy2log, int64_t E, int64_t P, std::vector<Scenario> scenarios,
         const ReplanOptions& o)
      : E_(E), P_(P), n_local_(static_cast<int64_t>(phy2log.size()) / P), o_(o),
        scenarios_(std::move(scenarios)), current_(std::move(phy2log)),
        lp_(E, P, n_local_), changed_(current_.size(), 0), count_(E, 0), unchanged_(E, 0) {
    for (int32_t e : current_) ++count_[e], ++unchanged_[e];
    // Heaviest scenario first: the early exit of score() then prunes most.
    std::stable_sort(scenarios_.begin(), scenarios_.end(),
                     [](const Scenario& x, const Scenario& y) { return x.weight > y.weight; });
    for (const Scenario& sc : scenarios_) total_weight_ += sc.weight;
  }

  const std::vector<int32_t>& placement() const { return current_; }
  int64_t evaluations() const { return evaluations_; }

  // The objective of the current placement (loads the LP graph).
  double objective() {
    lp_.load(current_);
    return score();
  }

  // One round: applies the best strictly improving change; false if none.
  bool round(std::vector<ReplanMove>& moves, double& objective) {
    lp_.load(current_);
    const double now = analyse();
    std::vector<int32_t> receivers = pick_receivers();
    std::vector<int32_t> donors = pick_donors();
    // Screen every pair on the heaviest scenario alone, then score the
    // `finalists` best in full.
    std::vector<std::tuple<double, int32_t, int32_t>> screened;
    for (int32_t a : receivers)
      for (int32_t s : donors) {
        const int32_t r = static_cast<int32_t>(s / n_local_);
        if (holds(a, r)) continue;  // a second copy on one rank cannot move load
        const int32_t b = current_[s];
        current_[s] = a;
        lp_.load(current_);
        screened.emplace_back(lp_.solve(scenarios_[0].load.data()), a, s);
        current_[s] = b;
      }
    const size_t n = std::min(screened.size(), static_cast<size_t>(o_.finalists));
    std::partial_sort(screened.begin(), screened.begin() + n, screened.end());
    double best = now * (1.0 - 1e-9);
    int32_t best_expert = -1, best_slot = -1;
    for (size_t k = 0; k < n; ++k) {
      const auto [first, a, s] = screened[k];
      const int32_t b = current_[s];
      current_[s] = a;
      lp_.load(current_);
      const double value = score(best, first);
      current_[s] = b;
      if (value < best) {
        best = value;
        best_expert = a;
        best_slot = s;
      }
    }
    if (best_slot < 0 || !beats_noise(best_expert, best_slot, now - best)) return false;
    const int32_t b = current_[best_slot];
    moves.push_back({best_slot, best_expert, b, 0});
    current_[best_slot] = best_expert;
    changed_[best_slot] = 1;
    --count_[b], --unchanged_[b], ++count_[best_expert];
    objective = best;
    return true;
  }

 private:
  // The objective of the loaded graph; stops early (returning a value >=
  // `cutoff`) once it cannot end below cutoff: no scenario's optimum is
  // below its mean rank load, so the rest adds at least their weights.
  // `first`: the heaviest scenario's optimum on this graph when already
  // known (the screening solved it), NaN if not.
  double score(double cutoff = INFINITY, double first = NAN) {
    ++evaluations_;
    double value = 0, rest = total_weight_;
    for (const Scenario& sc : scenarios_) {
      rest -= sc.weight;
      const double opt = &sc == &scenarios_[0] && !std::isnan(first) ? first : lp_.solve(sc.load.data());
      value += sc.weight * sc.inv_mean * opt;
      if (value + rest >= cutoff) return INFINITY;
    }
    return value;
  }

  // Whether `gain` (the objective's drop when slot s receives expert a)
  // exceeds noise_deviations standard errors of the per-batch part of the
  // objective: per recent batch, the change of its optimum (as an
  // imbalance) under the move; a gain carried by one lucky batch of the few
  // is noise the next batches will not repeat, and the move then costs a
  // copy and an absent slot for nothing. Needs analyse() on the current
  // placement first (it keeps the per-scenario optima).
  bool beats_noise(int32_t a, int32_t s, double gain) {
    if (o_.noise_deviations <= 0) return true;
    const int32_t b = current_[s];
    current_[s] = a;
    lp_.load(current_);
    double n = 0, sum = 0, sum2 = 0, weight = 0;
    for (size_t i = 0; i < scenarios_.size(); ++i) {
      const Scenario& sc = scenarios_[i];
      if (!sc.batch) continue;
      const double d = sc.inv_mean * (optimum_[i] - lp_.solve(sc.load.data()));
      n += 1, sum += d, sum2 += d * d, weight += sc.weight;
    }
    current_[s] = b;
    if (n < 2) return true;
    const double var = std::max(0.0, (sum2 - sum * sum / n) / (n - 1));
    // The per-batch part weighs `weight` in total, as weight * their mean.
    return gain > o_.noise_deviations * weight * std::sqrt(var / n);
  }

  // Solves every scenario on the loaded graph, keeping its rank loads and
  // bottleneck ranks; returns the objective.
  double analyse() {
    const size_t k = scenarios_.size();
    rank_load_.resize(k);
    in_set_.resize(k);
    optimum_.resize(k);
    double value = 0;
    for (size_t i = 0; i < k; ++i) {
      const Scenario& sc = scenarios_[i];
      const double opt = optimum_[i] = lp_.solve(sc.load.data());
      lp_.bottleneck(sc.load.data(), opt, rank_load_[i], in_set_[i]);
      value += sc.weight * sc.inv_mean * opt;
    }
    ++evaluations_;
    return value;
  }

  bool holds(int32_t e, int32_t r) const {
    return std::binary_search(lp_.ranks_begin(e), lp_.ranks_end(e), r);
  }

  // Experts whose every rank is a bottleneck rank of some scenario, by
  // their load per replica (as an imbalance) summed over the scenarios
  // where they are stuck, weighted; the `receivers` highest.
  std::vector<int32_t> pick_receivers() const {
    std::vector<std::pair<double, int32_t>> scored;
    for (int32_t e = 0; e < E_; ++e) {
      double score = 0;
      for (size_t i = 0; i < scenarios_.size(); ++i) {
        const Scenario& sc = scenarios_[i];
        bool inside = sc.load[e] > 0;
        for (const int32_t* r = lp_.ranks_begin(e); r != lp_.ranks_end(e) && inside; ++r)
          inside = in_set_[i][*r] != 0;
        if (inside) score += sc.weight * sc.inv_mean * sc.load[e] / count_[e];
      }
      if (score > 0) scored.push_back({-score, e});
    }
    const size_t n = std::min(scored.size(), static_cast<size_t>(o_.receivers));
    std::partial_sort(scored.begin(), scored.begin() + n, scored.end());
    std::vector<int32_t> out;
    for (size_t k = 0; k < n; ++k) out.push_back(scored[k].second);
    return out;
  }

  // Slots that may be given away (not yet rewritten, their expert keeps an
  // unrewritten slot), the cheapest per rank, the `donors` cheapest ranks.
  // Cost: the rank's load (the receiver lands there) plus the donor's load
  // per replica once it has one fewer, both as imbalances, weighted over
  // the scenarios.
  std::vector<int32_t> pick_donors() const {
    std::vector<std::pair<double, int32_t>> best(P_, {INFINITY, -1});
    for (size_t s = 0; s < current_.size(); ++s) {
      const int32_t b = current_[s];
      if (changed_[s] || count_[b] < 2 || unchanged_[b] < 2) continue;
      const int64_t r = static_cast<int64_t>(s) / n_local_;
      double cost = 0;
      for (size_t i = 0; i < scenarios_.size(); ++i) {
        const Scenario& sc = scenarios_[i];
        cost += sc.weight * sc.inv_mean * (rank_load_[i][r] + sc.load[b] / (count_[b] - 1));
      }
      if (cost < best[r].first) best[r] = {cost, static_cast<int32_t>(s)};
    }
    std::sort(best.begin(), best.end());
    std::vector<int32_t> out;
    for (const auto& [cost, s] : best)
      if (s >= 0 && static_cast<int64_t>(out.size()) < o_.donors) out.push_back(s);
    return out;
  }

  int64_t E_, P_, n_local_;
  ReplanOptions o_;
  std::vector<Scenario> scenarios_;
  std::vector<int32_t> current_;
  detail::ReplanLp lp_;
  std::vector<uint8_t> changed_;
  std::vector<int32_t> count_, unchanged_;  // per expert: slots, slots not rewritten
  std::vector<std::vector<double>> rank_load_;
  std::vector<std::vector<uint8_t>> in_set_;
  std::vector<double> optimum_;  // per scenario, of the placement analysed
  int64_t evaluations_ = 0;
  double total_weight_ = 0;
};

// For every move, a rank that holds the expert before and after (a slot
// not rewritten): on the receiving slot's node when there is one, else the
// lowest such rank.
void assign_sources(const std::vector<int32_t>& before, const std::vector<int32_t>& after,
                    int64_t n_local, int64_t gpus_per_node, std::vector<ReplanMove>& moves) {
  for (ReplanMove& m : moves) {
    const int64_t node = m.slot / n_local / gpus_per_node;
    int64_t first = -1, local = -1;
    for (size_t s = 0; s < before.size() && local < 0; ++s) {
      if (before[s] != m.expert || after[s] != m.expert) continue;
      const int64_t r = static_cast<int64_t>(s) / n_local;
      if (first < 0) first = r;
      if (r / gpus_per_node == node) local = r;
    }
    m.source_rank = local >= 0 ? local : first;
  }
}

ReplanResult replan_checked(std::vector<int32_t> phy2log, std::span<const double> history,
                            int64_t steps, int64_t E, int64_t P, int64_t gpus_per_node,
                            int64_t budget, const ReplanOptions& o) {
  check_arg(steps >= 1, "steps", "must be >= 1, got " + std::to_string(steps));
  check_arg(steps <= static_cast<int64_t>(history.size()) / E, "steps",
            std::to_string(steps) + " rows of " + std::to_string(E) + " experts exceed the " +
                std::to_string(history.size()) + " history entries");
  detail::check_length(history.size(), steps * E, "history",
                       "step and logical expert: steps * num_experts");
  detail::check_entries(history, "history", detail::Bound::kNonNegative);
  check_arg(gpus_per_node >= 1, "gpus_per_node", "must be >= 1, got " + std::to_string(gpus_per_node));
  check_arg(budget >= 0, "budget", "must be >= 0, got " + std::to_string(budget));
  check_options(o);

  const int64_t n_local = static_cast<int64_t>(phy2log.size()) / P;
  std::vector<Scenario> scenarios = make_scenarios(history, steps, E, P, o);
  ReplanResult out;
  if (scenarios.empty()) {  // no load at all: nothing to balance
    out.phy2log = std::move(phy2log);
    out.objective_before = out.objective_after = 1.0;
    return out;
  }
  const std::vector<int32_t> before = phy2log;
  Greedy greedy(std::move(phy2log), E, P, std::move(scenarios), o);
  out.objective_before = out.objective_after = greedy.objective();
  for (int64_t k = 0; k < budget; ++k)
    if (!greedy.round(out.moves, out.objective_after)) break;
  out.phy2log = greedy.placement();
  out.evaluations = greedy.evaluations();
  assign_sources(before, out.phy2log, n_local, gpus_per_node, out.moves);
  return out;
}

}  // namespace

ReplanResult replan(std::span<const int32_t> phy2log, std::span<const double> history,
                    int64_t steps, int64_t E, int64_t P, int64_t gpus_per_node, int64_t budget,
                    const ReplanOptions& options) {
  return replan_checked(detail::checked_phy2log(phy2log, E, P), history, steps, E, P,
                        gpus_per_node, budget, options);
}

ReplanResult replan(std::span<const int64_t> phy2log, std::span<const double> history,
                    int64_t steps, int64_t E, int64_t P, int64_t gpus_per_node, int64_t budget,
                    const ReplanOptions& options) {
  return replan_checked(detail::checked_phy2log(phy2log, E, P), history, steps, E, P,
                        gpus_per_node, budget, options);
}

}  // namespace lplb
