#include "cli/json_io.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>

#include "core/json_depth.hpp"
#include "lplb/errors.hpp"

namespace lplb::cli {
namespace {

using detail::json_depth_ok;
using detail::kMaxJsonDepth;

std::string read_gzip(const std::string& path, const char* arg) {
  gzFile f = gzopen(path.c_str(), "rb");
  check_arg(f != nullptr, arg, "cannot open file '" + path + "'");
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string why = failed ? msg : "";
  gzclose(f);
  check_arg(!failed, arg, "cannot decompress '" + path + "': " + why);
  return out;
}

std::string read_plain(const std::string& path, const char* arg) {
  std::ifstream in(path, std::ios::binary);
  check_arg(static_cast<bool>(in), arg, "cannot open file '" + path + "'");
  std::string out;
  try {  // libstdc++ throws ios_base::failure on a read error (e.g. a directory)
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw InvalidArgument(std::string(arg) + ": cannot read file '" + path + "': " + e.what());
  }
  check_arg(!in.bad(), arg, "cannot read file '" + path + "'");
  return out;
}

double to_number(const nlohmann::json& v, const char* arg) {
  check_arg(v.is_number(), arg, "expected a number, got " + v.dump());
  const double x = v.get<double>();
  check_arg(std::isfinite(x), arg, "value " + v.dump() + " is not finite");
  check_arg(x >= 0, arg, "value " + v.dump() + " is negative");
  return x;
}

}  // namespace

nlohmann::json read_json_file(const std::string& path, const char* arg) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  const std::string text = gz ? read_gzip(path, arg) : read_plain(path, arg);
  check_arg(!text.empty(), arg, "file '" + path + "' is empty");
  check_arg(json_depth_ok(text), arg,
            "file '" + path + "' nests arrays or objects deeper than " +
                std::to_string(kMaxJsonDepth) + " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw InvalidArgument(std::string(arg) + ": JSON parse error in '" + path + "': " + e.what());
  }
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

void write_json(const nlohmann::json& j, const std::string& path) {
  if (path.empty()) {
    std::cout << j.dump() << "\n";
    std::cout.flush();
    check_arg(static_cast<bool>(std::cout), "-o", "cannot write to stdout");
    return;
  }
  std::ofstream out(path, std::ios::binary);
  check_arg(static_cast<bool>(out), "-o", "cannot open '" + path + "' for writing");
  out << j.dump() << "\n";
  out.close();
  check_arg(static_cast<bool>(out), "-o", "cannot write '" + path + "'");
}

}  // namespace lplb::cli
