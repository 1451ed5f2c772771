// The processes of one job. Launched by mpirun (or Slurm's srun) in a build with MPI, the ranks of
// a command share its work (docs/scale.md); launched any other way a process is alone, rank 0 of
// 1, and nothing here communicates. Only ranks.cpp sees MPI: the rest of the library exchanges
// bytes through this class and never includes mpi.h.
#pragma once
#include <string>
#include <vector>

namespace filterscope {

/// One rank's share of a sharded command, as the files record it (apart from the results, so that
/// the results of P ranks equal those of one process byte for byte).
struct RankWork {
  int rank = 0;
  std::string host;
  double busy_seconds = 0;  ///< time spent on its own share (capture and clustering, or its epochs)
  int64_t units = 0;        ///< filters (analyze) or epochs (track) it did
  double estimated_cost = 0;  ///< the planner's estimate of its share (filters x N x map size units)
};

/// Which rank of the job this process is, and the few collective steps the sharded commands use.
/// Every rank must call the collectives in the same order. Copies refer to the same group.
class Ranks {
 public:
  /// Rank 0 of 1: every collective returns at once.
  static Ranks alone() { return Ranks(); }
  /// Every process of the job once start_ranks has run under a launcher; alone() otherwise.
  static Ranks world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool sharded() const { return size_ > 1; }

  void barrier() const;
  /// The root's bytes, on every rank.
  std::string broadcast(const std::string& bytes) const;
  /// At the root, every rank's bytes in rank order (its own included); elsewhere, empty. No size
  /// limit: large messages travel in pieces (MPI counts are 32-bit).
  std::vector<std::string> gather(const std::string& bytes) const;

 private:
  int rank_ = 0, size_ = 1;
};

/// Deals out work items to `ranks` by estimated cost, not round-robin: largest first, each to the
/// rank with the least estimated load so far (ties: the item listed first, the lowest rank). Every
/// rank computes the same plan from the same costs. Returns each item's rank.
std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks);

/// The estimated load of each rank under `assignment`.
std::vector<double> rank_loads(const std::vector<double>& costs, const std::vector<int>& assignment, int ranks);

/// Whether this build has MPI.
bool mpi_built_in();

/// Starts MPI when the process was launched by mpirun or srun (their environment says so). Throws
/// Error when it was launched with several ranks by a build without MPI: each would do all the work
/// and write the same files. Call once, before any thread starts.
void start_ranks(int* argc, char*** argv);

/// Ends MPI after a successful command (no-op when alone).
void finish_ranks();

/// Ends the whole job with `code` from any rank, so that no other rank waits forever in a
/// collective for one that failed. Plain exit when alone.
[[noreturn]] void abort_ranks(int code);

/// Ranks of the job on this machine (1 when alone): they share its cores and GPUs.
int ranks_on_this_host();

/// This rank's index among the ranks on its machine (0 when alone): picks its GPU.
int local_rank();

/// The machine's name (recorded beside the timings).
std::string host_name();

/// "rank R of P: " when sharded, "" when alone: the prefix of each rank's progress lines.
std::string rank_prefix();

}  // namespace filterscope
