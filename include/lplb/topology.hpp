// Redundancy topologies: which rank of a redundancy group holds a copy of
// which other rank's replicated blocks (docs/ARCHITECTURE.md, "Notation").
//
// A topology is an S x D matrix r2o: r2o(i, d) = j means rank i of a
// redundancy group holds copies of the d-th replicated block of rank j.
// Valid iff every column is a permutation of 0..S-1 without fixed points, so
// every replicated block lives on exactly two ranks. o2r is the inverse per
// column: o2r(j, d) = i iff r2o(i, d) = j (block (j, d) overflows to rank i).
//
// Thread safety: a Topology is immutable after construction; concurrent
// reads are safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lplb {

class Topology {
 public:
  // Validates; throws InvalidArgument naming `what` on a bad matrix.
  Topology(int64_t group_size, int64_t slots, std::vector<int32_t> r2o_row_major,
           std::string name = "custom", const char* what = "topology");
  // From rows (S rows of D entries each).
  static Topology from_rows(const std::vector<std::vector<int64_t>>& rows,
                            const char* what = "topology");

  // `cube`, `hypercube`, `ring`, `ring:S`, `torus:MxN`.
  static Topology named(std::string_view spec);
  // A JSON matrix (S rows x D columns), or {"r2o": [[...]]}.
  static Topology from_json_text(std::string_view text, const char* what = "topology");
  static Topology from_file(const std::string& path);
  // A name as above, or else a path to a JSON file.
  static Topology parse(std::string_view spec_or_path);

  int64_t group_size() const { return S_; }  // S
  int64_t slots() const { return D_; }       // D
  const std::string& name() const { return name_; }
  int32_t r2o(int64_t i, int64_t d) const { return r2o_[i * D_ + d]; }
  int32_t o2r(int64_t i, int64_t d) const { return o2r_[i * D_ + d]; }
  const std::vector<int32_t>& r2o_data() const { return r2o_; }  // S x D row-major
  const std::vector<int32_t>& o2r_data() const { return o2r_; }  // S x D row-major
  std::vector<std::vector<int32_t>> r2o_rows() const;

 private:
  int64_t S_ = 0, D_ = 0;
  std::vector<int32_t> r2o_, o2r_;
  std::string name_;
};

}  // namespace lplb
