#include "cli/json_io.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>

#include "cli/json_numbers.hpp"
#include "core/json_depth.hpp"
#include "lplb/errors.hpp"

namespace lplb::cli {
namespace {

using detail::json_depth_ok;
using detail::kMaxJsonDepth;

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// One-pass inflate of a whole gzip stream (concatenated members too).
std::string gunzip(std::string_view bytes, const std::string& name, const char* arg) {
  z_stream z{};
  check_arg(inflateInit2(&z, 15 + 32) == Z_OK, arg, "cannot start zlib");
  std::string out;
  out.resize(std::max<size_t>(bytes.size() * 4, 1 << 16));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  for (;;) {
    if (z.total_out == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - z.total_out, 1u << 30));
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END && z.avail_in > 0 && is_gzip({reinterpret_cast<const char*>(z.next_in), z.avail_in})) {
      rc = inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) break;
    if (z.avail_in == 0 && z.avail_out > 0) break;  // truncated input
  }
  const std::string why = z.msg != nullptr ? z.msg : (rc == Z_STREAM_END ? "" : "unexpected end of data");
  out.resize(z.total_out);
  inflateEnd(&z);
  check_arg(rc == Z_STREAM_END, arg, "cannot decompress '" + name + "': " + why);
  return out;
}

std::string read_stream(std::istream& in, const std::string& name, const char* arg) {
  std::string out;
  try {  // libstdc++ throws ios_base::failure on a read error (e.g. a directory)
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw InvalidArgument(std::string(arg) + ": cannot read file '" + name + "': " + e.what());
  }
  check_arg(!in.bad(), arg, "cannot read file '" + name + "'");
  return out;
}

// The bytes of path, or of stdin for "-" (which can be read only once).
std::string read_bytes(const std::string& path, const char* arg) {
  if (path == "-") {
    static const char* stdin_reader = nullptr;
    check_arg(stdin_reader == nullptr, arg,
              std::string("'-' (stdin) is already read by ") + (stdin_reader ? stdin_reader : ""));
    stdin_reader = arg;
    std::ios::sync_with_stdio(false);
    return read_stream(std::cin, "<stdin>", arg);
  }
  std::ifstream in(path, std::ios::binary);
  check_arg(static_cast<bool>(in), arg, "cannot open file '" + path + "'");
  return read_stream(in, path, arg);
}

double to_number(const nlohmann::json& v, const char* arg) {
  check_arg(v.is_number(), arg, "expected a number, got " + v.dump());
  const double x = v.get<double>();
  check_arg(std::isfinite(x), arg, "value " + v.dump() + " is not finite");
  check_arg(x >= 0, arg, "value " + v.dump() + " is negative");
  return x;
}

}  // namespace

std::string read_json_text(const std::string& path, const char* arg) {
  std::string text = read_bytes(path, arg);
  // gzip by name or by content (stdin has no name).
  const bool gz_name = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz_name || is_gzip(text)) text = gunzip(text, path, arg);
  check_arg(!text.empty(), arg, "file '" + path + "' is empty");
  check_arg(json_depth_ok(text), arg,
            "file '" + path + "' nests arrays or objects deeper than " +
                std::to_string(kMaxJsonDepth) + " levels");
  return text;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& path, const char* arg) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw InvalidArgument(std::string(arg) + ": JSON parse error in '" + path + "': " + e.what());
  }
}

nlohmann::json read_json_file(const std::string& path, const char* arg) {
  return parse_json_text(read_json_text(path, arg), path, arg);
}

std::vector<double> read_vector(const std::string& path, const char* arg) {
  const std::string text = read_json_text(path, arg);
  if (auto a = parse_number_array(text, 1)) return std::move(a->values);
  return to_vector(parse_json_text(text, path, arg), arg);
}

std::vector<std::vector<double>> read_matrix(const std::string& path, const char* arg,
                                             bool allow_1d) {
  const std::string text = read_json_text(path, arg);
  if (auto a = parse_number_array(text, 2)) {
    if (a->shape.size() == 2 || allow_1d) {
      const size_t cols = static_cast<size_t>(a->shape.back());
      std::vector<std::vector<double>> rows;
      for (size_t at = 0; at < a->values.size(); at += cols)
        rows.emplace_back(a->values.begin() + at, a->values.begin() + at + cols);
      return rows;
    }
  }
  return to_matrix(parse_json_text(text, path, arg), arg, allow_1d);
}

std::vector<double> to_vector(const nlohmann::json& j, const char* arg) {
  check_arg(j.is_array(), arg, "expected a 1-D array of numbers");
  check_arg(!j.empty(), arg, "array is empty");
  std::vector<double> out;
  out.reserve(j.size());
  for (const auto& v : j) out.push_back(to_number(v, arg));
  return out;
}

std::vector<std::vector<double>> to_matrix(const nlohmann::json& j, const char* arg,
                                           bool allow_1d) {
  check_arg(j.is_array(), arg, "expected an array");
  check_arg(!j.empty(), arg, "array is empty");
  if (!j[0].is_array()) {
    check_arg(allow_1d, arg, "expected a 2-D array (rows of numbers)");
    return {to_vector(j, arg)};
  }
  std::vector<std::vector<double>> rows;
  rows.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    check_arg(j[i].is_array(), arg, "row " + std::to_string(i) + " is not an array");
    rows.push_back(to_vector(j[i], arg));
    check_arg(rows.back().size() == rows[0].size(), arg,
              "ragged array: row " + std::to_string(i) + " has " +
                  std::to_string(rows.back().size()) + " entries, row 0 has " +
                  std::to_string(rows[0].size()));
  }
  return rows;
}

namespace {
int g_indent = -1;  // nlohmann's "compact"
}  // namespace

void set_pretty(bool pretty) { g_indent = pretty ? 2 : -1; }

std::string dump(const nlohmann::json& j) { return j.dump(g_indent); }

bool is_pretty() { return g_indent >= 0; }

void write_json(const nlohmann::json& j, const std::string& path, const char* arg) {
  write_text(dump(j), path, arg);
}

void write_text(const std::string& text, const std::string& path, const char* arg) {
  if (path.empty() || path == "-") {
    std::cout << text << "\n";
    std::cout.flush();
    check_arg(static_cast<bool>(std::cout), arg, "cannot write to stdout");
    return;
  }
  std::ofstream out(path, std::ios::binary);
  check_arg(static_cast<bool>(out), arg, "cannot open '" + path + "' for writing");
  out << text << "\n";
  out.close();
  check_arg(static_cast<bool>(out), arg, "cannot write '" + path + "'");
}

}  // namespace lplb::cli
