#include "filterscope/core/ranks.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "filterscope/core/error.h"

#ifdef FILTERSCOPE_WITH_MPI
#include <mpi.h>
#endif

namespace filterscope {

namespace {

struct RankState {
  bool active = false;  // MPI started by start_ranks
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
};

RankState& state() {
  static RankState s;
  return s;
}

// Set by the launchers: Open MPI's mpirun, MPICH/Hydra and Slurm's PMI, PMIx (srun --mpi=pmix).
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

[[maybe_unused]] int launcher_size() {  // used only without MPI
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
  return 1;
}

#ifdef FILTERSCOPE_WITH_MPI
// A message in pieces of at most 1 GiB: MPI counts are int.
constexpr uint64_t kPiece = uint64_t{1} << 30;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(detail::concat("MPI ", what, " failed on rank ", state().rank, ": ", std::string(text, length)));
}
#endif

}  // namespace

bool mpi_built_in() {
#ifdef FILTERSCOPE_WITH_MPI
  return true;
#else
  return false;
#endif
}

void start_ranks(int* argc, char*** argv) {
  RankState& s = state();
  if (s.active || !launched_by_mpi()) return;
#ifdef FILTERSCOPE_WITH_MPI
  int provided = 0;
  // Only the main thread calls MPI; LibTorch's worker threads never do.
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  s.active = true;
  // Errors come back as codes (and then as an Error naming the rank) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, s.rank, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  MPI_Comm_rank(local, &s.local_rank);
  MPI_Comm_size(local, &s.local_size);
  MPI_Comm_free(&local);
#else
  (void)argc;
  (void)argv;
  const int size = launcher_size();
  FS_CHECK(size <= 1, "launched by mpirun/srun with ", size,
           " ranks, but this filterscope was built without MPI (install libopenmpi-dev and rebuild; "
           "scripts/setup.sh does): each rank would do all the work and write the same files");
#endif
}

void finish_ranks() {
#ifdef FILTERSCOPE_WITH_MPI
  RankState& s = state();
  if (!s.active) return;
  MPI_Finalize();
  s.active = false;
#endif
}

void abort_ranks(int code) {
#ifdef FILTERSCOPE_WITH_MPI
  if (state().active && state().size > 1) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  finish_ranks();
#endif
  std::exit(code);
}

Ranks Ranks::world() {
  Ranks r;
  r.rank_ = state().rank;
  r.size_ = state().size;
  return r;
}

void Ranks::barrier() const {
  if (size_ == 1) return;
#ifdef FILTERSCOPE_WITH_MPI
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

std::string Ranks::broadcast(const std::string& bytes) const {
  if (size_ == 1) return bytes;
  std::string out = bytes;
#ifdef FILTERSCOPE_WITH_MPI
  uint64_t length = bytes.size();
  check(MPI_Bcast(&length, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  out.resize(length);
  for (uint64_t at = 0; at < length; at += kPiece) {
    const int count = static_cast<int>(std::min(kPiece, length - at));
    check(MPI_Bcast(out.data() + at, count, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
#endif
  return out;
}

std::vector<std::string> Ranks::gather(const std::string& bytes) const {
  if (size_ == 1) return {bytes};
  std::vector<std::string> all;
#ifdef FILTERSCOPE_WITH_MPI
  constexpr int kLengthTag = 7101, kPieceTag = 7102;
  if (rank_ != 0) {
    uint64_t length = bytes.size();
    check(MPI_Send(&length, 1, MPI_UINT64_T, 0, kLengthTag, MPI_COMM_WORLD), "MPI_Send");
    for (uint64_t at = 0; at < length; at += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, length - at));
      check(MPI_Send(bytes.data() + at, count, MPI_BYTE, 0, kPieceTag, MPI_COMM_WORLD), "MPI_Send");
    }
    return {};
  }
  all.resize(static_cast<size_t>(size_));
  all[0] = bytes;
  for (int from = 1; from < size_; ++from) {
    uint64_t length = 0;
    check(MPI_Recv(&length, 1, MPI_UINT64_T, from, kLengthTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    std::string& into = all[static_cast<size_t>(from)];
    into.resize(length);
    for (uint64_t at = 0; at < length; at += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, length - at));
      check(MPI_Recv(into.data() + at, count, MPI_BYTE, from, kPieceTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
            "MPI_Recv");
    }
  }
#endif
  return all;
}

std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks) {
  FS_CHECK(ranks >= 1, "assign_by_cost: ranks must be >= 1, got ", ranks);
  std::vector<size_t> order(costs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  std::vector<int> assignment(costs.size(), 0);
  for (size_t i : order) {
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    assignment[i] = static_cast<int>(lightest);
    load[static_cast<size_t>(lightest)] += costs[i];
  }
  return assignment;
}

std::vector<double> rank_loads(const std::vector<double>& costs, const std::vector<int>& assignment, int ranks) {
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  for (size_t i = 0; i < costs.size(); ++i) load[static_cast<size_t>(assignment[i])] += costs[i];
  return load;
}

int ranks_on_this_host() { return state().local_size; }

int local_rank() { return state().local_rank; }

std::string host_name() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string rank_prefix() {
  const RankState& s = state();
  if (s.size <= 1) return "";
  return "rank " + std::to_string(s.rank) + " of " + std::to_string(s.size) + ": ";
}

}  // namespace filterscope
