// Redundancy mappings must equal deepseek-ai/LPLB's Planner for tie-free
// histories (golden data from scripts/gen_lplb_mapping_golden.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lplb/planner.hpp"

namespace lplb {
namespace {

TEST(MappingGolden, MatchesReferencePlanner) {
  std::ifstream in(std::string(LPLB_TEST_DATA_DIR) + "/lplb/redundancy_mapping.json");
  ASSERT_TRUE(in) << "missing golden file";
  const nlohmann::json golden = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& c : golden["cases"]) {
    PlannerOptions o;
    o.num_experts = c["E"];
    o.ep_size = c["P"];
    o.redundant_per_rank = c["R"];
    Planner p(Topology::named(c["topology"].get<std::string>()), o);
    const auto history = c["history"].get<std::vector<double>>();
    const Mapping& m = p.update_redundancy_mapping(history);
    SCOPED_TRACE(c["topology"].get<std::string>() + " P=" + std::to_string(o.ep_size) +
                 " R=" + std::to_string(o.redundant_per_rank));
    EXPECT_EQ(m.phy2log, c["phy2log"].get<std::vector<int32_t>>());
    std::vector<int32_t> log2phy;
    for (const auto& row : c["log2phy"])
      for (const auto& v : row) log2phy.push_back(v.get<int32_t>());
    EXPECT_EQ(m.log2phy, log2phy);
    EXPECT_EQ(m.logcnt, c["logcnt"].get<std::vector<int32_t>>());
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

}  // namespace
}  // namespace lplb
