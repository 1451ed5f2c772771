// numpy's legacy RandomState (MT19937 with numpy's integer and float conversions), so that a seed
// given to filterscope draws exactly what the same seed draws in scikit-learn. With the same draws,
// k-means++ picks the same starting centres and the GMM fits of both sides end in the same local
// optimum: results can be compared fit by fit instead of only on average.
#pragma once
#include <cstdint>
#include <random>

namespace filterscope {

class NumpyRandomState {
 public:
  /// numpy.random.RandomState(seed) for 0 <= seed < 2^32 (init_genrand, as std::mt19937).
  explicit NumpyRandomState(uint32_t seed) : engine_(seed) {}

  uint32_t next_uint32() { return static_cast<uint32_t>(engine_()); }

  /// RandomState.randint(high): uniform in [0, high), by masked rejection as numpy does.
  int64_t randint(int64_t high) {
    const uint64_t range = static_cast<uint64_t>(high - 1);
    if (range == 0) return 0;
    if (range == 0xFFFFFFFFull) return static_cast<int64_t>(next_uint32());
    uint64_t mask = range;
    for (int shift = 1; shift <= 16; shift <<= 1) mask |= mask >> shift;
    uint64_t value;
    do value = next_uint32() & mask;
    while (value > range);
    return static_cast<int64_t>(value);
  }

  /// RandomState.uniform() / random_sample(): 53 random bits in [0, 1).
  double uniform() {
    const uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

 private:
  std::mt19937 engine_;
};

}  // namespace filterscope
