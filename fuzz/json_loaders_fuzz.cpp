// Fuzzes the JSON loaders every file argument goes through: read_json_file
// (plain and gzipped), to_vector (workloads, histories), to_matrix (weights),
// sim::load_trace (recorded traces) and Topology::from_json_text (topology
// files). Any input must either load
// into values that satisfy the loader's contract or raise InvalidArgument.
#include <unistd.h>
#include <zlib.h>

#include <fstream>

#include "cli/json_io.hpp"
#include "fuzz_common.hpp"
#include "sim/trace.hpp"

namespace lplb::fuzz::json_loaders {

// One scratch file per process (libFuzzer may run several jobs at once).
std::string scratch_path(bool gz) {
  return "/tmp/lplb_fuzz_json_" + std::to_string(::getpid()) + (gz ? ".json.gz" : ".json");
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  LPLB_FUZZ_CHECK(f != nullptr, "cannot create %s", path.c_str());
  if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

void check_values(const std::vector<double>& v) {
  LPLB_FUZZ_CHECK(!v.empty(), "to_vector returned an empty vector");
  for (double x : v) LPLB_FUZZ_CHECK(std::isfinite(x) && x >= 0, "bad value %g", x);
}

void check_trace(const lplb::sim::Trace& t) {
  LPLB_FUZZ_CHECK(t.num_steps > 0 && t.num_layers > 0 && t.num_experts > 0, "empty trace");
  LPLB_FUZZ_CHECK(
      static_cast<int64_t>(t.counts.size()) == t.num_steps * t.num_layers * t.num_experts,
      "trace size");
  for (int64_t c : t.counts) LPLB_FUZZ_CHECK(c >= 0, "negative count %lld", (long long)c);
}

// The loaders' contracts, re-checked on whatever they return.
void load_and_check(const std::string& path, int kind) {
  if (kind == 3) {
    check_trace(lplb::sim::load_trace(path, "--trace"));
    return;
  }
  const nlohmann::json j = lplb::cli::read_json_file(path, "--workload");
  if (kind == 0) {
    const auto v = lplb::cli::to_vector(j, "--workload");
    check_values(v);
    LPLB_FUZZ_CHECK(v.size() == j.size(), "to_vector dropped entries");
    return;
  }
  const bool allow_1d = kind == 1;
  const auto m = lplb::cli::to_matrix(j, "--weights", allow_1d);
  LPLB_FUZZ_CHECK(!m.empty(), "to_matrix returned no rows");
  for (const auto& row : m) {
    check_values(row);
    LPLB_FUZZ_CHECK(row.size() == m[0].size(), "to_matrix returned a ragged matrix");
  }
  LPLB_FUZZ_CHECK(allow_1d || j[0].is_array(), "1-D accepted where 2-D was required");
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  const uint8_t mode = in.u8();
  const int kind = mode % 4;          // vector, matrix (1-D ok), matrix (2-D only), trace
  const int source = (mode / 4) % 4;  // topology text, plain file, gzipped JSON, raw .gz bytes
  const std::string text = in.rest();

  if (source == 0) {
    accepts([&] { check_topology(lplb::Topology::from_json_text(text, "--topology")); });
    return 0;
  }
  const bool gz = source != 1;
  const std::string path = scratch_path(gz);
  if (source == 2)
    write_gzip(path, text);
  else
    write_file(path, text);
  accepts([&] { load_and_check(path, kind); });
  ::unlink(path.c_str());
  return 0;
}

}  // namespace lplb::fuzz::json_loaders
