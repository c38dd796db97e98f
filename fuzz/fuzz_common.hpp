// Shared pieces of the libFuzzer targets: a byte reader that turns fuzz input
// into sizes and numbers, a check that aborts on a broken invariant (in every
// build type, unlike assert), and independent re-checks of lplb's outputs.
//
// Each target file puts everything in namespace lplb::fuzz::<target> and
// defines `one_input(data, size)` through LPLB_FUZZ_TARGET. Built with
// LPLB_FUZZ_ENTRY (fuzz/CMakeLists.txt) that is also libFuzzer's entry point;
// without it, tests/cpp/fuzz_corpus_test.cpp includes every target and
// replays the committed corpora under GoogleTest in every build.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/topology.hpp"

#define LPLB_FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "\nlplb fuzz invariant failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                   #cond);                                                                      \
      std::fprintf(stderr, __VA_ARGS__);                                                        \
      std::fprintf(stderr, "\n");                                                               \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

// Opens a target's entry function `one_input`, in the namespace of the file
// (lplb::fuzz::<target>); with LPLB_FUZZ_ENTRY it is also libFuzzer's entry.
#ifdef LPLB_FUZZ_ENTRY
#define LPLB_FUZZ_TARGET                                                    \
  int one_input(const uint8_t* data, size_t size);                          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return one_input(data, size);                                           \
  }                                                                         \
  int one_input(const uint8_t* data, size_t size)
#else
#define LPLB_FUZZ_TARGET int one_input(const uint8_t* data, size_t size)
#endif

namespace lplb::fuzz {

// Reads little pieces off the front of the input; past the end every read
// returns zeros, so any input decodes to something.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }
  bool empty() const { return pos_ >= size_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }
  bool flag() { return (u8() & 1) != 0; }

  // An integer in [lo, hi] (hi - lo < 2^32).
  int64_t range(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t raw = span <= 256 ? u8() : span <= 65536 ? u16() : u32();
    return lo + static_cast<int64_t>(raw % span);
  }

  // A size that is usually small and valid but sometimes zero, negative or
  // huge, to reach the validation paths.
  int64_t size(int64_t lo, int64_t hi) {
    const uint8_t kind = u8();
    if (kind < 232) return range(lo, hi);
    switch (kind % 6) {
      case 0:
        return 0;
      case 1:
        return -static_cast<int64_t>(u8());
      case 2:
        return std::numeric_limits<int64_t>::min();
      case 3:
        return std::numeric_limits<int64_t>::max();
      case 4:
        return static_cast<int64_t>(u64());
      default:
        return hi + 1 + u8();
    }
  }

  // A non-negative finite value of many magnitudes: token counts, zeros,
  // ties, fractions, subnormals, large values up to `max`.
  double good_value(double max = 1e300) {
    const double x = any_good_value();
    return x <= max ? x : std::fmod(x, max);
  }

  double any_good_value() {
    const uint8_t kind = u8();
    switch (kind % 10) {
      case 0:
        return 0.0;
      case 1:
      case 2:
      case 3:
        return static_cast<double>(u8());
      case 4:
        return static_cast<double>(u16());
      case 5:
        return static_cast<double>(u32());
      case 6:
        return static_cast<double>(u16()) / 65536.0;
      case 7:
        return std::ldexp(static_cast<double>(u16() + 1), static_cast<int>(range(-1080, 60)));
      case 8:
        return 1.0;
      default: {
        double x = std::fabs(std::bit_cast<double>(u64()));
        return std::isfinite(x) ? x : 7.0;
      }
    }
  }

  // Like good_value, but about one in `bad_rate` is negative, NaN or inf.
  double value(int bad_rate) {
    if (bad_rate > 0 && range(0, bad_rate - 1) == 0) {
      switch (u8() % 5) {
        case 0:
          return std::numeric_limits<double>::quiet_NaN();
        case 1:
          return std::numeric_limits<double>::infinity();
        case 2:
          return -std::numeric_limits<double>::infinity();
        case 3:
          return -1.0;
        default:
          return -std::numeric_limits<double>::denorm_min();
      }
    }
    return good_value();
  }

  // The rest of the input as text.
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(data_ + pos_), remaining());
    pos_ = size_;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A derangement of 0..n-1 drawn from the reader: a Fisher-Yates shuffle,
// then every fixed point i swaps with position i+1 (which never creates a new
// one), so every derangement can come out.
inline std::vector<int32_t> derangement(int64_t n, ByteReader& in) {
  std::vector<int32_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(i);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[in.range(0, i)]);
  for (int64_t i = 0; i < n; ++i)
    if (p[i] == i) std::swap(p[i], p[(i + 1) % n]);
  return p;
}

// A valid topology of S ranks and D slots (every column a derangement).
inline Topology random_topology(int64_t S, int64_t D, ByteReader& in) {
  std::vector<int32_t> r2o(S * D);
  for (int64_t d = 0; d < D; ++d) {
    const auto col = derangement(S, in);
    for (int64_t i = 0; i < S; ++i) r2o[i * D + d] = col[i];
  }
  return Topology(S, D, std::move(r2o), "fuzz");
}

// Re-checks a constructed topology from scratch: columns are derangements and
// o2r is their inverse.
inline void check_topology(const Topology& t) {
  const int64_t S = t.group_size(), D = t.slots();
  LPLB_FUZZ_CHECK(S >= 2 && D >= 1, "S=%lld D=%lld", (long long)S, (long long)D);
  LPLB_FUZZ_CHECK(static_cast<int64_t>(t.r2o_data().size()) == S * D &&
                      static_cast<int64_t>(t.o2r_data().size()) == S * D,
                  "sizes");
  for (int64_t d = 0; d < D; ++d) {
    std::vector<char> seen(S, 0);
    for (int64_t i = 0; i < S; ++i) {
      const int64_t j = t.r2o(i, d);
      LPLB_FUZZ_CHECK(j >= 0 && j < S && j != i && !seen[j], "r2o[%lld][%lld]=%lld", (long long)i,
                      (long long)d, (long long)j);
      seen[j] = 1;
      LPLB_FUZZ_CHECK(t.o2r(j, d) == i, "o2r is not the inverse of r2o");
    }
  }
  const auto rows = t.r2o_rows();
  LPLB_FUZZ_CHECK(static_cast<int64_t>(rows.size()) == S, "r2o_rows");
  for (int64_t i = 0; i < S; ++i)
    for (int64_t d = 0; d < D; ++d) LPLB_FUZZ_CHECK(rows[i][d] == t.r2o(i, d), "r2o_rows");
}

// True when `what` is an InvalidArgument message of the form "arg: text".
inline bool names_an_argument(const char* what) {
  const char* colon = std::strstr(what, ": ");
  return colon != nullptr && colon != what;
}

// Runs `fn`; an InvalidArgument (the documented reaction to bad input) is a
// correct outcome and returns false, anything else escapes and crashes the
// fuzzer. Returns true when `fn` completed.
template <typename Fn>
bool accepts(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const InvalidArgument& e) {
    LPLB_FUZZ_CHECK(names_an_argument(e.what()), "message names no argument: %s", e.what());
    return false;
  }
}

}  // namespace lplb::fuzz
