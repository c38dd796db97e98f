// mpi_planner: distributed LPLB planning on P MPI ranks (docs/DISTRIBUTED.md).
//
//   mpirun -np 4 mpi_planner --topology ring:4 --experts 64 --redundant 2 --tokens 4096 --seed 1
//
// Every rank draws its own synthetic tokens, counts them, all-reduces the
// counts through MPI, solves the same LPs and maps its tokens; then prints
// one JSON line (in rank order):
//   {"rank", "probs_sha256", "send_before", "send_after", "global_load_after", ...}
// send_* [P]: tokens this rank sends to each rank without / with balancing;
// global_load_after [P]: send_after summed over all ranks. The EP size is the
// number of MPI ranks.
//
// Failure handling, so that no rank ever hangs: set-up errors (bad options,
// a planner that cannot be built) are shared through one all-reduce, and a
// configuration mismatch between ranks is caught by lplb::check_consistent;
// in both cases every rank prints `error: rank R: ...` and exits 1. A failure
// after that point (not expected) aborts the whole job with MPI_Abort.
#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lplb/comm.hpp"
#include "lplb/mpi/comm_mpi.hpp"
#include "lplb/planner.hpp"
#include "sha256.hpp"
#include "synthetic_tokens.hpp"

namespace {

struct Args {
  std::string topology;  // empty: ring:P
  std::string solver = "exact";
  int64_t redundant = 2;
  int64_t gpus_per_node = 8;
  bool print_counts = false;
  lplb::example::TokenOptions tokens{.experts = 256, .tokens = 4096};
};

enum Status : int64_t { kOk = 0, kExitZero = 1, kFailed = 2 };

void print_error(int rank, const std::string& message) {
  std::fprintf(stderr, "error: rank %d: %s\n", rank, message.c_str());
  std::fflush(stderr);
}

// Rank 0 prints every rank's line, in rank order. (Ranks writing in turn
// between barriers is not enough: mpirun forwards each rank's stdout on its
// own channel, so their lines can interleave in any order.)
void print_in_rank_order(const lplb::MpiCommunicator& comm, const std::string& line) {
  const int P = comm.size();
  const int len = static_cast<int>(line.size());
  std::vector<int> lens(P), offsets(P);
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, comm.comm());
  std::string all;
  if (comm.rank() == 0) {
    for (int r = 0, off = 0; r < P; off += lens[r], ++r) offsets[r] = off;
    all.resize(static_cast<size_t>(offsets[P - 1] + lens[P - 1]));
  }
  MPI_Gatherv(line.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0,
              comm.comm());
  if (comm.rank() == 0) {
    std::fwrite(all.data(), 1, all.size(), stdout);
    std::fflush(stdout);
  }
}

std::string describe(const Args& a, int P) {
  return "--topology " + (a.topology.empty() ? "ring:" + std::to_string(P) : a.topology) +
         " --experts " + std::to_string(a.tokens.experts) + " --redundant " +
         std::to_string(a.redundant) + " --solver " + a.solver + " --gpus-per-node " +
         std::to_string(a.gpus_per_node) + ", " + std::to_string(P) + " ranks";
}

nlohmann::ordered_json plan_and_report(const lplb::Planner& planner, const Args& a,
                                       const std::vector<int64_t>& ids,
                                       lplb::MpiCommunicator& comm) {
  const int P = comm.size();
  std::vector<int64_t> out(ids.size());
  const lplb::SolveOutput plan =
      planner.run(std::span<const int64_t>(ids), std::span<int64_t>(out), &comm);

  const int64_t n_local = planner.n_local();
  const std::vector<int32_t>& log2phy = planner.mapping().log2phy;
  std::vector<int64_t> send_before(P, 0), send_after(P, 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0) continue;
    ++send_before[log2phy[ids[k] * 2] / n_local];
    ++send_after[out[k] / n_local];
  }
  std::vector<int64_t> global_before = send_before, global_after = send_after;
  comm.all_reduce_sum(global_before);
  comm.all_reduce_sum(global_after);
  auto as_double = [](const std::vector<int64_t>& v) {
    return std::vector<double>(v.begin(), v.end());
  };

  nlohmann::ordered_json j;
  j["rank"] = comm.rank();
  j["probs_sha256"] = lplb::example::sha256_hex_le(plan.probs);
  j["send_before"] = send_before;
  j["send_after"] = send_after;
  j["global_load_after"] = global_after;
  j["global_load_before"] = global_before;
  j["lp_load_after"] = plan.load_after;  // what the LP promised (before rounding)
  j["imbalance_before"] = lplb::imbalance(as_double(global_before));
  j["imbalance_after"] = lplb::imbalance(as_double(global_after));
  j["ep_size"] = P;
  j["topology"] = planner.topology().name();
  j["solver"] = a.solver;
  if (a.print_counts) j["counts"] = planner.count(std::span<const int64_t>(ids));
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  lplb::MpiSession mpi(&argc, &argv);
  std::optional<lplb::MpiCommunicator> comm_storage;
  try {
    comm_storage.emplace(MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  lplb::MpiCommunicator& comm = *comm_storage;
  const int rank = comm.rank(), P = comm.size();

  // Set-up: anything here may fail on one rank only, so the outcome is
  // shared before any collective whose length depends on the options.
  Args a;
  std::optional<lplb::Planner> planner;
  std::vector<int64_t> ids;
  Status status = kOk;
  std::string message;
  CLI::App app{"Distributed LPLB planning: one JSON line per MPI rank"};
  try {
    app.add_option("--topology", a.topology,
                   "cube, hypercube, ring[:S], torus:MxN or r2o.json (default ring:P)");
    app.add_option("--experts", a.tokens.experts, "logical experts E (a multiple of P)")
        ->capture_default_str();
    app.add_option("--redundant", a.redundant, "redundant experts per rank R")
        ->capture_default_str();
    app.add_option("--tokens", a.tokens.tokens, "tokens on each rank")->capture_default_str();
    app.add_option("--topk", a.tokens.topk, "experts per token")->capture_default_str();
    app.add_option("--seed", a.tokens.seed, "seed (rank r draws from seed and r)")
        ->capture_default_str();
    app.add_option("--skew", a.tokens.skew, "Zipf exponent of expert popularity")
        ->capture_default_str();
    app.add_option("--drop", a.tokens.drop, "share of slots with no expert (-1)")
        ->capture_default_str();
    app.add_option("--solver", a.solver, "exact | ipm")->capture_default_str();
    app.add_option("--gpus-per-node", a.gpus_per_node, "GPUs per node (EPLB reorder)")
        ->capture_default_str();
    app.add_flag("--print-counts", a.print_counts, "add this rank's counts[E] to its JSON line");
    app.parse(argc, argv);

    lplb::PlannerOptions o;
    o.num_experts = a.tokens.experts;
    o.ep_size = P;
    o.redundant_per_rank = a.redundant;
    o.gpus_per_node = a.gpus_per_node;
    o.solver = lplb::parse_solver(a.solver);
    const std::string topo = a.topology.empty() ? "ring:" + std::to_string(P) : a.topology;
    planner.emplace(lplb::Topology::parse(topo), o);
    ids = lplb::example::synthetic_ids(a.tokens, rank);
  } catch (const CLI::CallForHelp&) {
    status = kExitZero;
    message = app.help();
  } catch (const CLI::ParseError& e) {
    status = kFailed;
    message = e.what();
  } catch (const std::exception& e) {
    status = kFailed;
    message = e.what();
  }
  // [worst status, -(lowest failing rank)]: one max-reduction gives both.
  std::array<int64_t, 2> worst{status, status == kFailed ? -int64_t{rank} : -int64_t{P}};
  comm.all_reduce_max(worst);
  if (worst[0] == kExitZero) {
    if (status == kExitZero && rank == 0) std::fputs(message.c_str(), stdout);
    return 0;
  }
  if (worst[0] == kFailed) {
    print_error(rank, status == kFailed ? message
                                        : "stopping: rank " + std::to_string(-worst[1]) +
                                              " failed to start (see its error)");
    return 1;
  }

  // Same planner everywhere, or every rank stops with the same message.
  try {
    lplb::check_consistent(*planner, comm);
  } catch (const lplb::InvalidArgument& e) {
    print_error(rank, std::string(e.what()) + " [this rank: " + describe(a, P) + "]");
    return 1;
  }

  try {
    print_in_rank_order(comm, plan_and_report(*planner, a, ids, comm).dump() + "\n");
  } catch (const std::exception& e) {
    print_error(rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may be inside a collective
  }
  return 0;
}
