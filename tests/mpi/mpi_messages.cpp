// Ranks::broadcast and Ranks::gather with a message over 1 GiB, which travels in pieces (MPI counts
// are int): every rank checks every byte it received against the pattern the sender wrote. Run by
// check_ranks.py as `mpirun -np 2 filterscope_mpi_messages BYTES`; exits 1 naming the first wrong byte.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

#include "filterscope/core/ranks.h"

namespace {

// Word w (8 bytes) of the message from `sender`: a pattern with no period near a piece's length.
uint64_t pattern_word(uint64_t w, int sender) {
  uint64_t x = (w + 1) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(sender + 1) * 0xC2B2AE3D27D4EB4Full;
  x ^= x >> 29;
  return x * 0xBF58476D1CE4E5B9ull;
}

// The message's bytes from `at`, up to 8 of them, as the sender wrote them.
void expected(uint64_t at, int sender, char* out, size_t n) {
  const uint64_t word = pattern_word(at / 8, sender);
  std::memcpy(out, &word, n);
}

std::string message(uint64_t bytes, int sender) {
  std::string s(bytes, '\0');
  for (uint64_t at = 0; at < bytes; at += 8) expected(at, sender, s.data() + at, std::min<uint64_t>(8, bytes - at));
  return s;
}

bool same(const std::string& got, uint64_t bytes, int sender, const char* what, int rank) {
  if (got.size() != bytes) {
    std::fprintf(stderr, "rank %d: %s from rank %d: %zu bytes, expected %llu\n", rank, what, sender, got.size(),
                 static_cast<unsigned long long>(bytes));
    return false;
  }
  for (uint64_t at = 0; at < bytes; at += 8) {
    char want[8];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(8, bytes - at));
    expected(at, sender, want, n);
    if (std::memcmp(got.data() + at, want, n) != 0) {
      std::fprintf(stderr, "rank %d: %s from rank %d: bytes %llu.. of %llu differ\n", rank, what, sender,
                   static_cast<unsigned long long>(at), static_cast<unsigned long long>(bytes));
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using filterscope::Ranks;
  filterscope::start_ranks(&argc, &argv);
  const Ranks ranks = Ranks::world();
  if (argc != 2 || ranks.size() < 2) {
    std::fprintf(stderr, "usage: mpirun -np 2 filterscope_mpi_messages BYTES (ranks: %d)\n", ranks.size());
    filterscope::finish_ranks();
    return 2;
  }
  const uint64_t bytes = std::stoull(argv[1]);
  bool ok = true;
  {
    const std::string got = ranks.broadcast(ranks.root() ? message(bytes, 0) : std::string());
    ok = same(got, bytes, 0, "broadcast", ranks.rank()) && ok;
  }
  {
    // Each rank sends a message of its own length and pattern; the root checks every one.
    const uint64_t mine = bytes + static_cast<uint64_t>(ranks.rank()) * 4099;
    const std::vector<std::string> all = ranks.gather(message(mine, ranks.rank()));
    if (ranks.root())
      for (int r = 0; r < ranks.size(); ++r)
        ok = same(all[static_cast<size_t>(r)], bytes + static_cast<uint64_t>(r) * 4099, r, "gather", 0) && ok;
  }
  std::printf("rank %d of %d: broadcast and gather of %llu bytes %s\n", ranks.rank(), ranks.size(),
              static_cast<unsigned long long>(bytes), ok ? "arrived intact" : "DIFFER");
  filterscope::finish_ranks();
  return ok ? 0 : 1;
}
