#include "cli/json_numbers.hpp"

#include <charconv>
#include <cmath>

namespace lplb::cli {
namespace {

void skip_ws(std::string_view t, size_t& p) {
  while (p < t.size() && (t[p] == ' ' || t[p] == '\n' || t[p] == '\r' || t[p] == '\t')) ++p;
}

// A non-negative JSON number (no sign); integers of up to 15 digits are
// exact in the fast loop, the rest goes through from_chars (correctly
// rounded, as nlohmann's strtod).
bool scan_number(std::string_view t, size_t& p, double& out) {
  const size_t start = p;
  uint64_t v = 0;
  while (p < t.size() && t[p] >= '0' && t[p] <= '9' && p - start < 15) v = v * 10 + (t[p++] - '0');
  if (p == start) return false;
  if (p - start > 1 && t[start] == '0') return false;  // JSON forbids leading zeros
  if (p < t.size() && (t[p] == '.' || t[p] == 'e' || t[p] == 'E' || (t[p] >= '0' && t[p] <= '9'))) {
    // A fraction, an exponent or a long integer: let from_chars decide, then
    // check the JSON grammar loosely by requiring it to end at a delimiter.
    auto [end, ec] = std::from_chars(t.data() + start, t.data() + t.size(), out);
    if (ec != std::errc() || !std::isfinite(out)) return false;
    p = static_cast<size_t>(end - t.data());
    if (t[p - 1] == '.' || t[p - 1] == 'e' || t[p - 1] == 'E') return false;
    return true;
  }
  out = static_cast<double>(v);
  return true;
}

bool scan(std::string_view t, size_t& p, int dims, int level, NumberArray& a) {
  skip_ws(t, p);
  if (p >= t.size() || t[p] != '[') return false;
  ++p;
  int64_t n = 0;
  skip_ws(t, p);
  if (p < t.size() && t[p] == ']') return false;  // empty: the full path names it
  for (;;) {
    if (level + 1 == dims) {
      skip_ws(t, p);
      double x = 0;
      if (!scan_number(t, p, x)) return false;
      a.values.push_back(x);
    } else if (!scan(t, p, dims, level + 1, a)) {
      return false;
    }
    ++n;
    skip_ws(t, p);
    if (p >= t.size()) return false;
    if (t[p] == ',') {
      ++p;
      continue;
    }
    if (t[p] != ']') return false;
    ++p;
    break;
  }
  // Rectangular: the first array at each level fixes the length.
  if (a.shape[level] < 0) a.shape[level] = n;
  return a.shape[level] == n;
}

template <typename T>
void append_ints(std::string& out, std::span<const T> v, std::span<const int64_t> shape,
                 size_t level, size_t& k) {
  out += '[';
  for (int64_t i = 0; i < shape[level]; ++i) {
    if (i > 0) out += ',';
    if (level + 1 < shape.size()) {
      append_ints(out, v, shape, level + 1, k);
    } else {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[k++]);
      out.append(buf, end);
    }
  }
  out += ']';
}

}  // namespace

std::optional<NumberArray> scan_number_array(std::string_view text, size_t& pos, int dims) {
  NumberArray a;
  a.shape.assign(dims, -1);
  size_t p = pos;
  if (!scan(text, p, dims, 0, a)) return std::nullopt;
  pos = p;
  return a;
}

std::optional<NumberArray> parse_number_array(std::string_view text, int max_dims) {
  size_t p = 0;
  skip_ws(text, p);
  int dims = 0;
  for (size_t q = p; q < text.size() && text[q] == '['; skip_ws(text, ++q)) ++dims;
  if (dims < 1 || dims > max_dims) return std::nullopt;
  auto a = scan_number_array(text, p, dims);
  if (!a) return std::nullopt;
  skip_ws(text, p);
  if (p != text.size()) return std::nullopt;
  return a;
}

void append_int_array(std::string& out, std::span<const int64_t> values,
                      std::span<const int64_t> shape) {
  size_t k = 0;
  append_ints(out, values, shape, 0, k);
}

void append_int_array(std::string& out, std::span<const int32_t> values,
                      std::span<const int64_t> shape) {
  size_t k = 0;
  append_ints(out, values, shape, 0, k);
}

}  // namespace lplb::cli
