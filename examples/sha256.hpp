// SHA-256 of a double array's little-endian bytes, as lowercase hex, through
// OpenSSL's libcrypto (EVP). Python's hashlib.sha256(struct.pack("<%dd" % n,
// *values)).hexdigest() gives the same string.
#pragma once

#include <openssl/evp.h>

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb::example {

inline std::string sha256_hex_le(std::span<const double> values) {
  std::vector<unsigned char> bytes;
  bytes.reserve(values.size() * 8);
  for (const double v : values) {
    const auto bits = std::bit_cast<uint64_t>(v);
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<unsigned char>(bits >> (8 * b)));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error("EVP_Digest(sha256) failed");
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace lplb::example
