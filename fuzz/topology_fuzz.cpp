// Fuzzes topology validation: the Topology constructor and from_rows with
// arbitrary matrices, and Topology::named with arbitrary names. A matrix must
// be accepted exactly when it is valid (lplb/topology.hpp: every column a
// permutation of 0..S-1 without fixed points), and an accepted topology must
// pass check_topology.
#include <algorithm>

#include "fuzz_common.hpp"

namespace lplb::fuzz::topology {

// Validity computed independently of topology.cpp.
bool valid_matrix(int64_t S, int64_t D, const std::vector<int64_t>& flat) {
  if (S < 2 || S > 65536 || D < 1 || D > 64 || static_cast<int64_t>(flat.size()) != S * D)
    return false;
  for (int64_t d = 0; d < D; ++d) {
    std::vector<char> seen(S, 0);
    for (int64_t i = 0; i < S; ++i) {
      const int64_t j = flat[i * D + d];
      if (j < 0 || j >= S || j == i || seen[j]) return false;
      seen[j] = 1;
    }
  }
  return true;
}

void fuzz_matrix(ByteReader& in) {
  const int64_t S = in.size(0, 20), D = in.size(0, 6);
  // Mostly near-valid matrices: derangement columns with a few entries
  // perturbed, so both sides of every check are reached.
  const bool shaped = S >= 0 && S <= 70000 && D >= 0 && D <= 70;
  const bool has_flat = shaped && S * D <= 1 << 20;
  std::vector<int64_t> flat;
  if (has_flat) {
    flat.resize(S * D);
    for (int64_t d = 0; d < D; ++d) {
      std::vector<int32_t> col(S);
      if (S >= 2) col = derangement(S, in);
      for (int64_t i = 0; i < S; ++i) flat[i * D + d] = col[i];
    }
    const int64_t edits = in.range(0, 3);
    for (int64_t k = 0; k < edits && !flat.empty(); ++k) {
      const int64_t at = in.range(0, static_cast<int64_t>(flat.size()) - 1);
      switch (in.u8() % 4) {
        case 0:
          flat[at] = at / std::max<int64_t>(D, 1);
          break;  // a fixed point
        case 1:
          flat[at] = in.range(-3, S + 3);
          break;
        case 2:
          flat[at] = static_cast<int32_t>(in.u32());
          break;
        default:
          flat[at] = static_cast<int64_t>(in.u64());
          break;  // beyond int32
      }
    }
    if (in.u8() == 0xff && !flat.empty()) flat.pop_back();  // wrong length
  }
  const bool expect_ok = valid_matrix(S, D, flat);

  if (in.flag()) {
    // Rows path (JSON-like input, int64 entries, maybe ragged).
    std::vector<std::vector<int64_t>> rows;
    if (has_flat && S > 0 && D > 0 && static_cast<int64_t>(flat.size()) == S * D)
      for (int64_t i = 0; i < S; ++i)
        rows.emplace_back(flat.begin() + i * D, flat.begin() + (i + 1) * D);
    bool ragged = false;
    if (!rows.empty() && in.u8() == 0xfe) {
      rows.back().push_back(0);
      ragged = true;
    }
    const bool ok = accepts([&] { check_topology(Topology::from_rows(rows, "r2o")); });
    LPLB_FUZZ_CHECK(ok == (expect_ok && !ragged && !rows.empty()),
                    "from_rows: accepted=%d, expected %d (S=%lld D=%lld)", ok, expect_ok,
                    (long long)S, (long long)D);
    return;
  }
  // Constructor path: entries narrowed to int32 like the API takes them.
  std::vector<int32_t> narrow(flat.size());
  bool fits = true;
  for (size_t k = 0; k < flat.size(); ++k) {
    fits = fits && flat[k] == static_cast<int32_t>(flat[k]);
    narrow[k] = static_cast<int32_t>(flat[k]);
  }
  if (!fits) return;
  const bool ok = accepts([&] { check_topology(Topology(S, D, narrow)); });
  LPLB_FUZZ_CHECK(ok == expect_ok, "constructor: accepted=%d, expected %d (S=%lld D=%lld)", ok,
                  expect_ok, (long long)S, (long long)D);
}

void fuzz_name(ByteReader& in) {
  std::string name = in.rest();
  if (name.size() > 64) name.resize(64);
  accepts([&] {
    const Topology t = Topology::named(name);
    check_topology(t);
    LPLB_FUZZ_CHECK(t.group_size() <= 65536, "group size %lld", (long long)t.group_size());
  });
  // parse() opens files for names with a '/' or a .json suffix; the fuzzer
  // must not wander the file system, so only names without those go there.
  if (name.find('/') == std::string::npos && !name.ends_with(".json"))
    accepts([&] { check_topology(Topology::parse(name)); });
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  if (in.u8() % 4 == 0)
    fuzz_name(in);
  else
    fuzz_matrix(in);
  return 0;
}

}  // namespace lplb::fuzz::topology
