#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/core/error.h"
#include "filterscope/core/ranks.h"
#include "filterscope/io/tensor_bytes.h"

namespace filterscope {
namespace {

TEST(Ranks, AloneCollectivesReturnTheirInput) {
  const Ranks r = Ranks::alone();
  EXPECT_EQ(r.rank(), 0);
  EXPECT_EQ(r.size(), 1);
  EXPECT_TRUE(r.root());
  EXPECT_FALSE(r.sharded());
  r.barrier();
  EXPECT_EQ(r.broadcast("abc"), "abc");
  EXPECT_EQ(r.gather("xyz"), std::vector<std::string>{"xyz"});
  // The test binary is not launched by mpirun: the world is one process.
  EXPECT_FALSE(Ranks::world().sharded());
  EXPECT_EQ(rank_prefix(), "");
  EXPECT_FALSE(host_name().empty());
}

TEST(Ranks, AssignsLargestFirstToTheLightestRank) {
  // Round-robin would give rank 0 the items 10, 7 and 1 (18) and rank 1 the 9 and 3 (12); by cost
  // the loads are 10 + 3 + 1 = 14 and 9 + 7 = 16.
  const std::vector<double> costs = {10, 9, 7, 3, 1};
  const std::vector<int> a = assign_by_cost(costs, 2);
  EXPECT_EQ(a, (std::vector<int>{0, 1, 1, 0, 0}));
  EXPECT_EQ(rank_loads(costs, a, 2), (std::vector<double>{14, 16}));
  // Equal costs: dealt in turn; more ranks than items leaves ranks idle.
  EXPECT_EQ(assign_by_cost({1, 1, 1, 1, 1}, 2), (std::vector<int>{0, 1, 0, 1, 0}));
  EXPECT_EQ(assign_by_cost({5, 2}, 4), (std::vector<int>{0, 1}));
  EXPECT_EQ(assign_by_cost({}, 3), std::vector<int>{});
  EXPECT_EQ(assign_by_cost(costs, 1), (std::vector<int>(5, 0)));
  EXPECT_THROW(assign_by_cost(costs, 0), Error);
}

TEST(Ranks, FilterSharesCoverEveryFilterOnceAndBalance) {
  // simple-cnn's eight probe points at N = 1,000.
  const std::vector<std::vector<int64_t>> shapes = {{32, 26, 26}, {32, 26, 26}, {32, 13, 13}, {64, 11, 11},
                                                    {64, 11, 11}, {64, 5, 5},   {64, 3, 3},   {64, 3, 3}};
  for (int ranks : {1, 2, 3, 7}) {
    const std::vector<FilterShare> shares = plan_filter_shares(shapes, 1000, ranks);
    std::vector<int64_t> next(shapes.size(), 0);
    std::vector<double> load(static_cast<size_t>(ranks), 0.0);
    size_t last_layer = 0;
    for (const auto& s : shares) {
      ASSERT_LT(s.layer, shapes.size());
      EXPECT_GE(s.layer, last_layer) << "shares in layer order";
      last_layer = s.layer;
      EXPECT_EQ(s.first, next[s.layer]) << "filters ascending, no gap or overlap";
      EXPECT_GT(s.count, 0);
      next[s.layer] += s.count;
      ASSERT_GE(s.rank, 0);
      ASSERT_LT(s.rank, ranks);
      load[static_cast<size_t>(s.rank)] += s.cost;
      EXPECT_DOUBLE_EQ(s.cost, static_cast<double>(s.count) * 1000 *
                                   (static_cast<double>(shapes[s.layer][1] * shapes[s.layer][2]) + kClusterCostPerPoint));
    }
    for (size_t l = 0; l < shapes.size(); ++l) EXPECT_EQ(next[l], shapes[l][0]) << "layer " << l;
    if (ranks == 1) EXPECT_EQ(shares.size(), shapes.size()) << "one process: one share per layer";
    EXPECT_EQ(shares.front().rank, 0) << "the root always has a share";
    const double total = std::accumulate(load.begin(), load.end(), 0.0);
    const double heaviest = *std::max_element(load.begin(), load.end());
    // Shares of at most total / (4 x ranks): LPT keeps the heaviest rank within one share of the mean.
    EXPECT_LE(heaviest, total / ranks + total / (4.0 * ranks) + 1) << ranks << " ranks";
  }
  EXPECT_THROW(plan_filter_shares({{4, 2}}, 10, 2), Error);
}

TEST(TensorBytes, RoundTripsTensorsAndValuesExactly) {
  ByteWriter out;
  const at::Tensor f = at::randn({3, 4, 2}, at::kDouble);
  const at::Tensor i = at::arange(7, at::kLong).view({7, 1});
  const at::Tensor b = at::arange(5).remainder(2).to(at::kBool);
  const at::Tensor strided = at::randn({4, 6}).t();  // not contiguous
  out.i64(-42);
  out.f64(0.1);
  out.text("rank 2\nhost");
  out.tensor(f);
  out.tensor(at::Tensor());
  out.tensor(i);
  out.tensor(b);
  out.tensor(strided);
  out.tensor(at::empty({0, 5}));
  ByteReader in(out.bytes(), "the test message");
  EXPECT_EQ(in.i64(), -42);
  EXPECT_EQ(in.f64(), 0.1);
  EXPECT_EQ(in.text(), "rank 2\nhost");
  EXPECT_TRUE(at::equal(in.tensor(), f));
  EXPECT_FALSE(in.tensor().defined());
  EXPECT_TRUE(at::equal(in.tensor(), i));
  EXPECT_TRUE(at::equal(in.tensor(), b));
  const at::Tensor back = in.tensor();
  EXPECT_EQ(back.sizes(), strided.sizes());
  EXPECT_TRUE(at::equal(back, strided));
  EXPECT_EQ(in.tensor().sizes(), (at::IntArrayRef{0, 5}));
  EXPECT_TRUE(in.at_end());
}

TEST(TensorBytes, ADamagedMessageIsAnErrorNamingIt) {
  ByteWriter out;
  out.tensor(at::ones({100}));
  const std::string cut = out.bytes().substr(0, out.bytes().size() - 1);
  ByteReader in(cut, "the results of rank 3");
  try {
    in.tensor();
    FAIL() << "a cut message was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the results of rank 3: message ends early"), std::string::npos) << e.what();
  }
  std::string bad_type = out.bytes();
  const int64_t type = 9999;
  std::memcpy(bad_type.data() + 8, &type, 8);
  ByteReader typed(bad_type, "msg");
  EXPECT_THROW(typed.tensor(), Error);
  const std::string empty;
  ByteReader nothing(empty, "msg");
  EXPECT_THROW(nothing.i64(), Error);
}

}  // namespace
}  // namespace filterscope
