#include "lplb/comm.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/lp.hpp"
#include "lplb/planner.hpp"

namespace lplb {

void Communicator::all_reduce_max(std::span<int64_t> values) {
  // All-gather through the sum: row r holds rank r's values, other rows 0,
  // so every sum has one non-zero term and cannot overflow.
  const size_t n = values.size(), p = static_cast<size_t>(size());
  const size_t me = static_cast<size_t>(rank());
  std::vector<int64_t> rows(n * p, 0);
  std::copy(values.begin(), values.end(), rows.begin() + me * n);
  all_reduce_sum(rows);
  for (size_t k = 0; k < n; ++k) {
    int64_t m = rows[k];
    for (size_t r = 1; r < p; ++r) m = std::max(m, rows[r * n + k]);
    values[k] = m;
  }
}

namespace {

// FNV-1a over the little-endian bytes of 64-bit words, so the hash does not
// depend on the host's byte order or on the width of the source integers.
class Fnv1a {
 public:
  void add(uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h_ ^= (v >> (8 * b)) & 0xffu;
      h_ *= 0x100000001b3ull;
    }
  }
  template <typename T>
  void add_all(const std::vector<T>& values) {
    add(values.size());
    for (const T v : values) add(static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// Bumped whenever the meaning of the plans changes, so two builds that would
// plan differently refuse to run together.
constexpr int64_t kPlanFormat = 1;

enum class Show { kNumber, kHash, kSolver };  // how a differing field is printed

struct Field {
  const char* name;
  int64_t value;
  Show show;
};

std::string show_value(Show show, int64_t v) {
  if (show == Show::kSolver && (v == static_cast<int64_t>(SolverKind::kExact) ||
                                v == static_cast<int64_t>(SolverKind::kIpm)))
    return solver_name(static_cast<SolverKind>(v));
  return std::to_string(v);
}

std::vector<Field> config_fields(const Planner& planner) {
  const PlannerOptions& o = planner.options();
  const Topology& t = planner.topology();
  Fnv1a topo, placement;
  topo.add(static_cast<uint64_t>(t.group_size()));
  topo.add(static_cast<uint64_t>(t.slots()));
  topo.add_all(t.r2o_data());
  placement.add_all(planner.mapping().phy2log);
  // Hashes travel as two 32-bit halves so that negating them cannot overflow.
  auto hi = [](uint64_t h) { return static_cast<int64_t>(h >> 32); };
  auto lo = [](uint64_t h) { return static_cast<int64_t>(h & 0xffffffffu); };
  return {
      {"plan format", kPlanFormat, Show::kNumber},
      {"num_experts", o.num_experts, Show::kNumber},
      {"ep_size", o.ep_size, Show::kNumber},
      {"redundant_per_rank", o.redundant_per_rank, Show::kNumber},
      {"gpus_per_node", o.gpus_per_node, Show::kNumber},
      {"solver", static_cast<int64_t>(o.solver), Show::kSolver},
      {"topology group size S", t.group_size(), Show::kNumber},
      {"topology slots D", t.slots(), Show::kNumber},
      {"topology r2o", hi(topo.value()), Show::kHash},
      {"topology r2o", lo(topo.value()), Show::kHash},
      {"placement phy2log", hi(placement.value()), Show::kHash},
      {"placement phy2log", lo(placement.value()), Show::kHash},
  };
}

}  // namespace

uint64_t config_hash(const Planner& planner) {
  Fnv1a h;
  for (const Field& f : config_fields(planner)) h.add(static_cast<uint64_t>(f.value));
  return h.value();
}

void check_consistent(const Planner& planner, Communicator& comm) {
  const std::vector<Field> fields = config_fields(planner);
  const size_t n = fields.size();
  // [value..., -value...]: one max-reduction yields max and -min. Every
  // field is bounded well inside int64 (sizes are validated, hashes split).
  std::vector<int64_t> buf(2 * n);
  for (size_t k = 0; k < n; ++k) {
    buf[k] = fields[k].value;
    buf[n + k] = -fields[k].value;
  }
  comm.all_reduce_max(buf);

  std::string diffs;
  const char* last = nullptr;
  for (size_t k = 0; k < n; ++k) {
    const int64_t hi = buf[k], lo = -buf[n + k];
    if (hi == lo) continue;
    if (last != nullptr && std::string(last) == fields[k].name) continue;  // other half
    last = fields[k].name;
    diffs += diffs.empty() ? "" : "; ";
    diffs += fields[k].name;
    if (fields[k].show == Show::kHash)
      diffs += " differs";
    else
      diffs += " ranges over [" + show_value(fields[k].show, lo) + ", " +
               show_value(fields[k].show, hi) + "]";
  }
  if (diffs.empty()) return;
  // Same text on every rank: it is built from reduced values only.
  throw_arg("planner", "the " + std::to_string(comm.size()) +
                        " ranks of the communicator disagree on the planner configuration (" +
                        diffs +
                        "); every rank must build its Planner with the same topology, "
                        "experts, ep size, redundancy, gpus_per_node, solver and history");
}

}  // namespace lplb
