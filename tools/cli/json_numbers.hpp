// Fast paths for the CLI's big JSON documents: rectangular arrays of plain
// numbers (weights, workloads, trace counts) read without building a
// nlohmann DOM, and integer arrays written with std::to_chars. Readers
// return nullopt on anything unusual (objects, strings, ragged rows, signs,
// nan, overflow...), and the caller then takes the full nlohmann path, which
// produces the validation and error messages; so a fast path never changes
// what is accepted or what an error says.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lplb::cli {

struct NumberArray {
  std::vector<int64_t> shape;  // e.g. {layers, experts}
  std::vector<double> values;  // row-major, all finite and >= 0
};

// A rectangular array of non-negative decimal numbers, `dims` deep (1..3),
// starting at text[pos] (after whitespace); pos moves past it.
std::optional<NumberArray> scan_number_array(std::string_view text, size_t& pos, int dims);
// The whole text is such an array (surrounding whitespace allowed); any of
// 1..max_dims dimensions.
std::optional<NumberArray> parse_number_array(std::string_view text, int max_dims);

// Appends values as nested JSON arrays of the given shape (compact).
void append_int_array(std::string& out, std::span<const int64_t> values,
                      std::span<const int64_t> shape);
void append_int_array(std::string& out, std::span<const int32_t> values,
                      std::span<const int64_t> shape);

}  // namespace lplb::cli
