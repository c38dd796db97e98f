// open_source and the two count sources: see count_source.hpp.
#include "sim/count_source.hpp"

#include <algorithm>
#include <numeric>
#include <thread>

#include "cli/json_io.hpp"
#include "lplb/errors.hpp"
#include "sim/synthetic.hpp"
#include "sim/trace.hpp"
#include "sim/trace_scale.hpp"

namespace lplb::sim {
namespace {

constexpr int64_t kDefaultExperts = 256;
constexpr int64_t kDefaultSteps = 500;

class SyntheticSource final : public CountSource {
 public:
  explicit SyntheticSource(SyntheticConfig c) : stream_(std::move(c)) {}
  void next(int64_t, std::vector<std::vector<int64_t>>& counts) override { stream_.next(counts[0]); }

 private:
  SyntheticStream stream_;
};

class TraceSource final : public CountSource {
 public:
  TraceSource(Trace trace, std::vector<int64_t> layers)
      : trace_(std::move(trace)), layers_(std::move(layers)) {}
  void next(int64_t step, std::vector<std::vector<int64_t>>& counts) override {
    for (size_t i = 0; i < layers_.size(); ++i) {
      const int64_t* c = trace_.at(step, layers_[i]);
      counts[i].assign(c, c + trace_.num_experts);
    }
  }

 private:
  Trace trace_;
  std::vector<int64_t> layers_;
};

}  // namespace

OpenedSource open_source(const SimOptions& o, nlohmann::json& config) {
  OpenedSource out;
  if (!o.trace_path.empty()) {
    Trace trace = load_trace(o.trace_path, "--trace");
    out.num_experts = trace.num_experts;
    if (o.trace_tokens_per_rank) {
      // Token-slots per step: tokens per rank x ranks x the trace's top-k
      // (1 when the trace does not record it: N then counts token-slots).
      const nlohmann::json& tk = trace.config.is_object() && trace.config.contains("topk")
                                     ? trace.config["topk"]
                                     : nlohmann::json();
      const int64_t topk = tk.is_number_integer() && tk.get<int64_t>() > 0 ? tk.get<int64_t>() : 1;
      check_arg(*o.trace_tokens_per_rank > 0, "--tokens",
                "must be > 0, got " + std::to_string(*o.trace_tokens_per_rank));
      check_arg(*o.trace_tokens_per_rank <= (int64_t{1} << 40) / (o.ep * topk), "--tokens",
                "too large: tokens x ranks x top-k exceeds 2^40");
      scale_trace(trace, *o.trace_tokens_per_rank * o.ep * topk);
      config["trace_tokens_per_rank"] = *o.trace_tokens_per_rank;
      config["trace_topk"] = topk;
    }
    if (o.experts)
      check_arg(*o.experts == out.num_experts, "--experts",
                std::to_string(*o.experts) + " does not match the trace's " + std::to_string(out.num_experts) +
                    " experts");
    out.num_steps = o.steps ? std::min(*o.steps, trace.num_steps) : trace.num_steps;
    if (o.layer) {
      check_arg(*o.layer >= 0 && *o.layer < trace.num_layers, "--layer",
                std::to_string(*o.layer) + " is out of range: the trace has " +
                    std::to_string(trace.num_layers) + " layers (0.." +
                    std::to_string(trace.num_layers - 1) + ")");
      out.layers = {*o.layer};
    } else {
      out.layers.resize(trace.num_layers);
      std::iota(out.layers.begin(), out.layers.end(), 0);
    }
    config["source"] = "trace";
    config["trace"] = o.trace_path;
    config["trace_steps"] = trace.num_steps;
    config["trace_layers"] = trace.num_layers;
    if (!trace.config.is_null()) config["trace_config"] = trace.config;
    out.source = std::make_unique<TraceSource>(std::move(trace), out.layers);
  } else {
    SyntheticConfig s;
    if (!o.base_path.empty()) {
      s.base = cli::read_vector(o.base_path, "--base");
      if (o.experts)
        check_arg(static_cast<int64_t>(s.base.size()) == *o.experts, "--base",
                  "has " + std::to_string(s.base.size()) + " entries, --experts is " +
                      std::to_string(*o.experts));
    }
    out.num_experts = o.experts ? *o.experts : (s.base.empty() ? kDefaultExperts : static_cast<int64_t>(s.base.size()));
    out.num_steps = o.steps ? *o.steps : kDefaultSteps;
    out.layers = {0};
    s.num_experts = out.num_experts;
    s.topk = o.topk;
    s.num_ranks = o.ep;
    s.tokens_per_rank = o.tokens_per_rank;
    s.skew = o.skew;
    s.drift = o.drift;
    s.batch_noise = o.batch_noise;
    s.seed = o.seed;
    s.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    config["source"] = "synthetic";
    config["topk"] = o.topk;
    config["tokens_per_rank"] = o.tokens_per_rank;
    config["skew"] = o.skew;
    config["drift"] = o.drift;
    config["batch_noise"] = o.batch_noise;
    config["seed"] = o.seed;
    if (!o.base_path.empty()) config["base"] = o.base_path;
    out.source = std::make_unique<SyntheticSource>(std::move(s));  // validates the rest
  }

  return out;
}

}  // namespace lplb::sim
