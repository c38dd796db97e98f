// A guard for JSON input shared by the library's and the tools' loaders.
#pragma once

#include <cstddef>
#include <string_view>

namespace lplb::detail {

// Nesting depth allowed in JSON input. nlohmann's dump() and copies recurse
// once per level, so a file of a million '[' would overflow the stack in an
// error message; real inputs nest a few levels.
inline constexpr int kMaxJsonDepth = 64;

// True when no array/object in `text` nests deeper than kMaxJsonDepth
// (brackets inside strings do not count).
inline bool json_depth_ok(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skip the escaped character
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace lplb::detail
