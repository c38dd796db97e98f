// JSON file helpers shared by the CLI and the simulator: every failure is an
// InvalidArgument naming the argument (e.g. "--weights: cannot open ...").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lplb::cli {

// Reads a JSON file, or stdin for "-" (once per process); gzip data (a name
// ending in .gz, or gzip's magic bytes) is inflated first.
nlohmann::json read_json_file(const std::string& path, const char* arg);
// The same file's text (inflated, depth-checked, non-empty), and its parse.
std::string read_json_text(const std::string& path, const char* arg);
nlohmann::json parse_json_text(const std::string& text, const std::string& path, const char* arg);

// read_json_file + to_vector / to_matrix, with a fast path for plain arrays.
std::vector<double> read_vector(const std::string& path, const char* arg);
std::vector<std::vector<double>> read_matrix(const std::string& path, const char* arg,
                                             bool allow_1d);

// A 1-D array of finite, non-negative numbers.
std::vector<double> to_vector(const nlohmann::json& j, const char* arg);
// A 2-D array (rows of equal length) of finite, non-negative numbers; a 1-D
// array is taken as one row when allow_1d.
std::vector<std::vector<double>> to_matrix(const nlohmann::json& j, const char* arg,
                                           bool allow_1d);

// Writes `j` (plus a newline) to `path`, or to stdout when path is empty or
// "-"; errors name `arg`. Compact unless set_pretty(true) (--pretty).
void write_json(const nlohmann::json& j, const std::string& path, const char* arg = "-o");
void set_pretty(bool pretty);
bool is_pretty();
// Writes ready JSON text (plus a newline) as write_json does.
void write_text(const std::string& text, const std::string& path, const char* arg = "-o");
// j as text, indented when --pretty.
std::string dump(const nlohmann::json& j);

}  // namespace lplb::cli
