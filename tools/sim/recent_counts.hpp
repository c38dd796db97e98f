// The last batches a balancer has seen (per-expert counts), for the
// placements that predict from recent traffic (hybrid_lp, online_lp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace lplb::sim {

class RecentCounts {
 public:
  static constexpr int64_t kKeep = 100;  // batches remembered

  void push(std::span<const int64_t> counts) {
    batches_.emplace_back(counts.begin(), counts.end());
    if (static_cast<int64_t>(batches_.size()) > kKeep) batches_.pop_front();
  }
  bool empty() const { return batches_.empty(); }
  int64_t size() const { return static_cast<int64_t>(batches_.size()); }

  // Exponentially weighted mean, the newest batch weighing most.
  std::vector<double> weighted_mean(double half_life) const {
    const size_t E = batches_.back().size();
    const double decay = std::pow(0.5, 1.0 / half_life);
    std::vector<double> mean(E, 0.0);
    double weight = 1.0, weights = 0.0;
    for (auto it = batches_.rbegin(); it != batches_.rend(); ++it, weight *= decay) {
      for (size_t e = 0; e < E; ++e) mean[e] += weight * static_cast<double>((*it)[e]);
      weights += weight;
    }
    for (double& m : mean) m /= weights;
    return mean;
  }

  // Plain per-expert standard deviation over all remembered batches.
  std::vector<double> deviation() const {
    const size_t E = batches_.back().size();
    const double n = static_cast<double>(batches_.size());
    std::vector<double> out(E, 0.0);
    for (size_t e = 0; e < E; ++e) {
      double s1 = 0, s2 = 0;
      for (const auto& b : batches_) {
        const double x = static_cast<double>(b[e]);
        s1 += x;
        s2 += x * x;
      }
      out[e] = std::sqrt(std::max(0.0, s2 / n - (s1 / n) * (s1 / n)));
    }
    return out;
  }

  // [size()][E] row-major, oldest first (lplb::replan's history).
  std::vector<double> rows() const {
    std::vector<double> out;
    for (const auto& b : batches_) out.insert(out.end(), b.begin(), b.end());
    return out;
  }

 private:
  std::deque<std::vector<int64_t>> batches_;
};

}  // namespace lplb::sim
