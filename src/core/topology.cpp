#include "lplb/topology.hpp"

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/json_depth.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

constexpr int64_t kMaxGroupSize = 1 << 16;
constexpr int64_t kMaxSlots = 64;

using detail::json_depth_ok;
using detail::kMaxJsonDepth;

// Parses a decimal integer that must fill `text` completely.
int64_t parse_int(std::string_view text, const char* what) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  check_arg(ec == std::errc() && ptr == text.data() + text.size() && !text.empty(), what,
            "expected an integer, got '" + std::string(text) + "'");
  return value;
}

Topology from_columns(const std::vector<std::vector<int32_t>>& columns, std::string name) {
  const int64_t S = static_cast<int64_t>(columns[0].size());
  const int64_t D = static_cast<int64_t>(columns.size());
  std::vector<int32_t> r2o(S * D);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t i = 0; i < S; ++i) r2o[i * D + d] = columns[d][i];
  return Topology(S, D, std::move(r2o), std::move(name));
}

}  // namespace

Topology::Topology(int64_t group_size, int64_t slots, std::vector<int32_t> r2o_row_major,
                   std::string name, const char* what)
    : S_(group_size), D_(slots), r2o_(std::move(r2o_row_major)), name_(std::move(name)) {
  check_arg(S_ >= 2 && S_ <= kMaxGroupSize, what,
            "group size (rows) must be in [2, " + std::to_string(kMaxGroupSize) + "], got " +
                std::to_string(S_));
  check_arg(D_ >= 1 && D_ <= kMaxSlots, what,
            "slots per rank (columns) must be in [1, " + std::to_string(kMaxSlots) + "], got " +
                std::to_string(D_));
  check_arg(static_cast<int64_t>(r2o_.size()) == S_ * D_, what,
            "expected " + std::to_string(S_ * D_) + " entries, got " +
                std::to_string(r2o_.size()));
  o2r_.assign(S_ * D_, -1);
  for (int64_t d = 0; d < D_; ++d) {
    for (int64_t i = 0; i < S_; ++i) {
      const int64_t j = r2o_[i * D_ + d];
      const std::string where = "r2o[" + std::to_string(i) + "][" + std::to_string(d) + "]";
      check_arg(j >= 0 && j < S_, what,
                where + " = " + std::to_string(j) + " is outside [0, " + std::to_string(S_) + ")");
      check_arg(j != i, what, where + " = " + std::to_string(j) +
                                  " is a fixed point (a rank cannot hold a copy of itself)");
      check_arg(o2r_[j * D_ + d] == -1, what,
                "column " + std::to_string(d) + " is not a permutation: " + std::to_string(j) +
                    " appears twice");
      o2r_[j * D_ + d] = static_cast<int32_t>(i);
    }
  }
}

Topology Topology::from_rows(const std::vector<std::vector<int64_t>>& rows, const char* what) {
  check_arg(!rows.empty(), what, "matrix has no rows");
  const size_t D = rows[0].size();
  std::vector<int32_t> flat;
  flat.reserve(rows.size() * D);
  for (size_t i = 0; i < rows.size(); ++i) {
    check_arg(rows[i].size() == D, what,
              "ragged matrix: row " + std::to_string(i) + " has " + std::to_string(rows[i].size()) +
                  " entries, row 0 has " + std::to_string(D));
    for (int64_t v : rows[i]) {
      check_arg(v >= INT32_MIN && v <= INT32_MAX, what, "entry out of range");
      flat.push_back(static_cast<int32_t>(v));
    }
  }
  return Topology(static_cast<int64_t>(rows.size()), static_cast<int64_t>(D), std::move(flat),
                  "custom", what);
}

Topology Topology::named(std::string_view spec) {
  const char* what = "topology";
  if (spec == "cube")
    return from_columns({{3, 0, 1, 2, 7, 4, 5, 6}, {6, 7, 4, 5, 0, 1, 2, 3}}, "cube");
  if (spec == "hypercube")
    return from_columns({{3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14},
                         {12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
                        "hypercube");
  if (spec == "ring" || spec.starts_with("ring:")) {
    const int64_t S = spec == "ring" ? 8 : parse_int(spec.substr(5), what);
    check_arg(S >= 2 && S <= kMaxGroupSize, what,
              "ring size must be in [2, " + std::to_string(kMaxGroupSize) + "], got " +
                  std::to_string(S));
    std::vector<int32_t> r2o(S);
    for (int64_t i = 0; i < S; ++i) r2o[i] = static_cast<int32_t>((i + 1) % S);
    return Topology(S, 1, std::move(r2o), "ring:" + std::to_string(S));
  }
  if (spec.starts_with("torus:")) {
    const std::string_view dims = spec.substr(6);
    const size_t x = dims.find('x');
    check_arg(x != std::string_view::npos, what,
              "torus needs the form torus:MxN, got '" + std::string(spec) + "'");
    const int64_t M = parse_int(dims.substr(0, x), what);
    const int64_t N = parse_int(dims.substr(x + 1), what);
    // Bound M and N before multiplying: M * N must not overflow.
    check_arg(M >= 2 && N >= 2 && M <= kMaxGroupSize && N <= kMaxGroupSize &&
                  M * N <= kMaxGroupSize,
              what, "torus dimensions must be >= 2 each with M*N <= " +
                        std::to_string(kMaxGroupSize) + ", got " + std::string(dims));
    std::vector<int32_t> r2o(M * N * 2);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        r2o[(i * N + j) * 2 + 0] = static_cast<int32_t>(((i + 1) % M) * N + j);
        r2o[(i * N + j) * 2 + 1] = static_cast<int32_t>(i * N + (j + 1) % N);
      }
    return Topology(M * N, 2, std::move(r2o), "torus:" + std::string(dims));
  }
  throw_arg("topology", "unknown name '" + std::string(spec) +
                            "' (expected cube, hypercube, ring, ring:S, torus:MxN or a JSON file)");
}

Topology Topology::from_json_text(std::string_view text, const char* what) {
  check_arg(json_depth_ok(text), what,
            "JSON nests arrays or objects deeper than " + std::to_string(kMaxJsonDepth) +
                " levels");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw_arg(what, std::string("JSON parse error: ") + e.what());
  }
  if (j.is_object()) {
    check_arg(j.contains("r2o"), what, "JSON object has no \"r2o\" key");
    j = j["r2o"];
  }
  check_arg(j.is_array() && !j.empty(), what, "expected a non-empty 2-D array of integers");
  std::vector<std::vector<int64_t>> rows;
  for (const auto& row : j) {
    check_arg(row.is_array(), what, "expected a 2-D array (rows of integers)");
    std::vector<int64_t> r;
    for (const auto& v : row) {
      check_arg(v.is_number_integer(), what, "entries must be integers, got " + v.dump());
      check_arg(!v.is_number_unsigned() || v.get<uint64_t>() <= INT32_MAX, what,
                "entry " + v.dump() + " is out of range");  // get<int64_t> would wrap it
      r.push_back(v.get<int64_t>());
    }
    rows.push_back(std::move(r));
  }
  return from_rows(rows, what);
}

Topology Topology::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check_arg(static_cast<bool>(in), "topology", "cannot open file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  Topology t = from_json_text(ss.str(), "topology");
  t.name_ = path;
  return t;
}

Topology Topology::parse(std::string_view spec_or_path) {
  const std::string_view s = spec_or_path;
  if (s == "cube" || s == "hypercube" || s == "ring" || s.starts_with("ring:") ||
      s.starts_with("torus:"))
    return named(s);
  if (s.ends_with(".json") || s.find('/') != std::string_view::npos)
    return from_file(std::string(s));
  return named(s);  // throws "unknown name"
}

std::vector<std::vector<int32_t>> Topology::r2o_rows() const {
  std::vector<std::vector<int32_t>> rows(S_);
  for (int64_t i = 0; i < S_; ++i) rows[i].assign(r2o_.begin() + i * D_, r2o_.begin() + (i + 1) * D_);
  return rows;
}

}  // namespace lplb
