// The training-run explorer's HTTP API over run logs (runs/run_log.h), without the network: a
// request (method, decoded path, query parameters) in, a reply (status, type, body) out. The
// server (serve/server.h) only moves bytes; every route, check and answer is here, so the tests
// call it directly as well as over loopback.
//
// Read-only by construction: logs are opened with SQLITE_OPEN_READONLY, the only files read are the
// logs, each run's report.html and its dataset, and every path is built from a run the server was
// given, never from the request.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "filterscope/runs/run_log.h"

namespace filterscope {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// One run being served.
struct ServedRun {
  std::string id;  ///< its name in URLs: the directory's name, made unique
  std::filesystem::path dir;
};

class Explorer {
 public:
  /// Opens every run's log once to check it; throws Error naming the run directory and what is wrong.
  explicit Explorer(const std::vector<std::filesystem::path>& run_dirs);
  ~Explorer();

  const std::vector<ServedRun>& runs() const { return runs_; }

  /// Answers one request. Never throws: bad requests are 400/404 with {"error": "..."}, failures 500.
  HttpReply handle(const std::string& method, const std::string& path,
                   const std::multimap<std::string, std::string>& params);

 private:
  struct RunState;
  HttpReply route(const std::string& path, const std::multimap<std::string, std::string>& params);
  std::vector<ServedRun> runs_;
  std::vector<std::unique_ptr<RunState>> states_;
};

/// The explorer's page (embedded in the binary; report/explorer_page.html).
std::string explorer_page();

}  // namespace filterscope
