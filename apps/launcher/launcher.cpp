// `filterscope`: a small launcher in front of `filterscope-core` (the commands, linked to LibTorch).
//
// Why a launcher: LibTorch's CPU threads come from OpenMP (libgomp), whose idle threads spin for
// ~300,000 iterations before they sleep. On a machine whose cores are busy with other work a
// spinning thread holds a core the working ones need: `train` with all cores took 13-15 s where one
// thread took 2.8-4.9 s, and 3.5-5.7 s with passive waiting (bench/RESULTS.md). libgomp reads
// OMP_WAIT_POLICY once, in its initialiser, before main() runs; glibc's own initialiser resets the
// environment after any earlier one, and the initialisers of LibTorch's ~290 libraries run in an
// order the link line does not decide. So the default is set here, in a process without LibTorch,
// which then becomes filterscope-core (exec: same process id, so mpirun and signals see one
// process). A wait policy or spin count the user set is kept. The thread count stays all cores:
// results depend on it (reductions are split by thread), so it must not follow the machine's load.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "filterscope_version.h"

int main(int argc, char** argv) {
  // `--version` alone needs no LibTorch: answered here (16 ms from a shell), where loading the
  // commands' ~290 libraries costs ~0.7 s (bench/RESULTS.md). The text is the commands' own.
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("filterscope %s\n", FILTERSCOPE_VERSION);
    return 0;
  }
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr)
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    std::fprintf(stderr, "filterscope: error: cannot find this program's own path (/proc/self/exe): %s\n",
                 std::strerror(errno));
    return 1;
  }
  self[n] = '\0';
  std::string core(self);
  const std::string::size_type slash = core.rfind('/');
  core = core.substr(0, slash + 1) + "filterscope-core";
  execv(core.c_str(), argv);
  std::fprintf(stderr, "filterscope: error: cannot start %s: %s (it is built beside filterscope)\n", core.c_str(),
               std::strerror(errno));
  return 1;
}
