// EPLB static placement (docs/EPLB.md), following deepseek-ai/EPLB's
// rebalance_experts step by step; layers are independent.
#include "lplb/eplb.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "core/eplb_packing.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

struct Sizes {
  int64_t num_logical, num_replicas, num_groups, num_nodes, num_gpus;
};

void validate(const double* weight, int64_t num_layers, const Sizes& s) {
  const auto str = [](int64_t v) { return std::to_string(v); };
  check_arg(num_layers > 0, "num_layers", "must be > 0, got " + str(num_layers));
  check_arg(s.num_logical > 0, "num_logical", "must be > 0, got " + str(s.num_logical));
  check_arg(s.num_groups > 0, "num_groups", "must be > 0, got " + str(s.num_groups));
  check_arg(s.num_nodes > 0, "num_nodes", "must be > 0, got " + str(s.num_nodes));
  check_arg(s.num_gpus > 0, "num_gpus", "must be > 0, got " + str(s.num_gpus));
  check_arg(s.num_replicas >= s.num_logical, "num_replicas",
            "must be >= the number of logical experts (" + str(s.num_logical) + "), got " +
                str(s.num_replicas));
  // The replication loop is O(replicas x experts): a cap keeps a mistyped
  // size from running for minutes (real placements use 1-2x).
  check_arg(static_cast<double>(s.num_replicas) * static_cast<double>(s.num_logical) <= 0x1p31,
            "num_replicas",
            "num_replicas x num_logical must be <= 2^31 (got " + str(s.num_replicas) + " x " +
                str(s.num_logical) + ")");
  check_arg(s.num_replicas % s.num_gpus == 0, "num_replicas",
            "must be a multiple of num_gpus (" + str(s.num_gpus) + "), got " + str(s.num_replicas));
  // Group and node sizes matter only to the hierarchical policy; otherwise the
  // reference (and we) fall back to one group on one node.
  if (s.num_groups % s.num_nodes == 0) {
    check_arg(s.num_gpus % s.num_nodes == 0, "num_gpus",
              "must be a multiple of num_nodes (" + str(s.num_nodes) + "), got " + str(s.num_gpus));
    check_arg(s.num_logical % s.num_groups == 0, "num_groups",
              "must divide the number of logical experts (" + str(s.num_logical) + "), got " +
                  str(s.num_groups));
  }
  // Outputs: phy2log and log2phy (at most num_replicas - num_logical + 1 per expert).
  const __int128 out = static_cast<__int128>(num_layers) *
                       (s.num_replicas + static_cast<__int128>(s.num_logical) *
                                             (s.num_replicas - s.num_logical + 1));
  check_arg(out < (__int128{1} << 56), "num_replicas", "output would be too large");
  check_arg(weight != nullptr, "weight", "is null");
  for (int64_t i = 0; i < num_layers * s.num_logical; ++i) {
    const double w = weight[i];
    // The reference computes in float32; larger values would become inf.
    if (!(std::isfinite(w) && w >= 0 && w <= FLT_MAX))  // message built only on failure
      throw_arg("weight",
                "entry [" + str(i / s.num_logical) + "][" + str(i % s.num_logical) + "] = " +
                    std::to_string(w) + " must be finite, >= 0 and <= FLT_MAX");
  }
}

// One layer with the hierarchical policy (the global one is num_groups =
// num_nodes = 1). "mlog" numbers logical experts node by node: the node's
// groups in pack order, each group's experts in order.
void rebalance_layer(std::span<const float> weight, const Sizes& s, const EplbOptions& options,
                     std::span<int64_t> phy2log, std::span<int64_t> phyrank,
                     std::span<int64_t> logcnt) {
  const int64_t group_size = s.num_logical / s.num_groups;
  const int64_t groups_per_node = s.num_groups / s.num_nodes;
  const int64_t log_per_node = s.num_logical / s.num_nodes;
  const int64_t phy_per_node = s.num_replicas / s.num_nodes;
  const int64_t gpus_per_node = s.num_gpus / s.num_nodes;
  const int64_t phy_per_gpu = s.num_replicas / s.num_gpus;

  // Step 1: pack groups onto nodes by their total weight.
  std::vector<float> group_weight(s.num_groups);
  for (int64_t g = 0; g < s.num_groups; ++g) {
    double sum = 0;
    for (int64_t k = 0; k < group_size; ++k) sum += weight[g * group_size + k];
    group_weight[g] = static_cast<float>(sum);
  }
  std::vector<int64_t> group_node(s.num_groups), group_rank(s.num_groups);
  detail::balanced_packing(group_weight, s.num_nodes, group_node, group_rank);
  std::vector<int64_t> mlog2log(s.num_logical);
  for (int64_t e = 0; e < s.num_logical; ++e) {
    const int64_t g = e / group_size;
    mlog2log[(group_node[g] * groups_per_node + group_rank[g]) * group_size + e % group_size] = e;
  }

  std::vector<float> node_weight(log_per_node), phy_weight(phy_per_node);
  std::vector<int64_t> phy2mlog(phy_per_node), rank(phy_per_node), count(log_per_node);
  std::vector<int64_t> gpu(phy_per_node), rank_in_gpu(phy_per_node);
  for (int64_t node = 0; node < s.num_nodes; ++node) {
    const int64_t* node_log = mlog2log.data() + node * log_per_node;
    for (int64_t j = 0; j < log_per_node; ++j) node_weight[j] = weight[node_log[j]];
    // Step 2: replicate within the node.
    detail::replicate_experts(node_weight, phy_per_node, phy2mlog, rank, count);
    // Step 3: pack the node's physical experts (weight / count) onto its GPUs.
    for (int64_t p = 0; p < phy_per_node; ++p)
      phy_weight[p] = node_weight[phy2mlog[p]] / static_cast<float>(count[phy2mlog[p]]);
    if (options.spread_replicas)
      detail::balanced_packing(phy_weight, gpus_per_node, gpu, rank_in_gpu, phy2mlog,
                               log_per_node);
    else
      detail::balanced_packing(phy_weight, gpus_per_node, gpu, rank_in_gpu);
    for (int64_t p = 0; p < phy_per_node; ++p) {
      const int64_t slot = node * phy_per_node + gpu[p] * phy_per_gpu + rank_in_gpu[p];
      phy2log[slot] = node_log[phy2mlog[p]];
      phyrank[slot] = rank[p];
    }
    for (int64_t j = 0; j < log_per_node; ++j) logcnt[node_log[j]] = count[j];
  }
}

}  // namespace

EplbResult rebalance_experts(const double* weight, int64_t num_layers, int64_t num_logical,
                             int64_t num_replicas, int64_t num_groups, int64_t num_nodes,
                             int64_t num_gpus, const EplbOptions& options) {
  Sizes s{num_logical, num_replicas, num_groups, num_nodes, num_gpus};
  validate(weight, num_layers, s);
  if (num_groups % num_nodes != 0) s.num_groups = s.num_nodes = 1;  // global policy

  EplbResult r;
  r.num_layers = num_layers;
  r.num_logical = num_logical;
  r.num_replicas = num_replicas;
  r.phy2log.resize(num_layers * num_replicas);
  r.logcnt.resize(num_layers * num_logical);
  std::vector<int64_t> phyrank(num_layers * num_replicas);
  std::vector<float> layer_weight(num_logical);
  for (int64_t l = 0; l < num_layers; ++l) {
    std::transform(weight + l * num_logical, weight + (l + 1) * num_logical,
                   layer_weight.begin(), [](double w) { return static_cast<float>(w); });
    const auto row = [&](std::vector<int64_t>& v, int64_t n) {
      return std::span<int64_t>(v).subspan(l * n, n);
    };
    rebalance_layer(layer_weight, s, options, row(r.phy2log, num_replicas),
                    row(phyrank, num_replicas), row(r.logcnt, num_logical));
  }

  r.max_count = *std::max_element(r.logcnt.begin(), r.logcnt.end());
  r.log2phy.assign(num_layers * num_logical * r.max_count, -1);
  for (int64_t l = 0; l < num_layers; ++l)
    for (int64_t slot = 0; slot < num_replicas; ++slot) {
      const int64_t i = l * num_replicas + slot;
      r.log2phy[(l * num_logical + r.phy2log[i]) * r.max_count + phyrank[i]] = slot;
    }
  return r;
}

}  // namespace lplb
