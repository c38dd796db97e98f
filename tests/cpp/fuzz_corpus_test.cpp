// Replays every committed fuzz corpus (fuzz/corpus/<target>/) through its
// target, in every build: the corpora hold the inputs that once crashed lplb
// (see docs/RELIABILITY.md), so they are regression tests too. A broken
// invariant aborts the process, which fails the test. The fuzzers themselves
// need clang + libFuzzer (scripts/fuzz.sh); this replay does not.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/count_map_fuzz.cpp"
#include "../../fuzz/eplb_fuzz.cpp"
#include "../../fuzz/json_loaders_fuzz.cpp"
#include "../../fuzz/lp_fuzz.cpp"
#include "../../fuzz/placement_fuzz.cpp"
#include "../../fuzz/topology_fuzz.cpp"

namespace {

using Target = int (*)(const uint8_t*, size_t);

// Runs every file of fuzz/corpus/<name>/ through `target`; returns how many.
size_t replay(const std::string& name, Target target) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(LPLB_SOURCE_DIR) / "fuzz" / "corpus" / name;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  return files.size();
}

TEST(FuzzCorpus, Topology) { EXPECT_GT(replay("topology", lplb::fuzz::topology::one_input), 0u); }
TEST(FuzzCorpus, JsonLoaders) {
  EXPECT_GT(replay("json_loaders", lplb::fuzz::json_loaders::one_input), 0u);
}
TEST(FuzzCorpus, Eplb) { EXPECT_GT(replay("eplb", lplb::fuzz::eplb::one_input), 0u); }
TEST(FuzzCorpus, Lp) { EXPECT_GT(replay("lp", lplb::fuzz::lp::one_input), 0u); }
TEST(FuzzCorpus, Placement) {
  EXPECT_GT(replay("placement", lplb::fuzz::placement::one_input), 0u);
}
TEST(FuzzCorpus, CountMap) { EXPECT_GT(replay("count_map", lplb::fuzz::count_map::one_input), 0u); }

// A new fuzz/<name>_fuzz.cpp must be included above and get a test and a
// seed corpus; this catches one that was not.
TEST(FuzzCorpus, EveryTargetIsReplayed) {
  namespace fs = std::filesystem;
  const std::vector<std::string> replayed = {"topology", "json_loaders", "eplb",
                                             "lp",       "placement",    "count_map"};
  for (const auto& entry : fs::directory_iterator(fs::path(LPLB_SOURCE_DIR) / "fuzz")) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with("_fuzz.cpp")) continue;
    const std::string target = name.substr(0, name.size() - 9);
    EXPECT_NE(std::find(replayed.begin(), replayed.end(), target), replayed.end())
        << "fuzz/" << name << " is not replayed by fuzz_corpus_test";
    EXPECT_TRUE(fs::is_directory(fs::path(LPLB_SOURCE_DIR) / "fuzz" / "corpus" / target))
        << "fuzz/corpus/" << target << " is missing";
  }
}

}  // namespace
