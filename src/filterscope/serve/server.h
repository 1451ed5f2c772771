// `filterscope serve`: the explorer (serve/explorer.h) behind an HTTP server (Debian's cpp-httplib),
// bound to 127.0.0.1 unless told otherwise. The server adds nothing but transport: every request is
// answered by Explorer::handle.
#pragma once
#include <memory>
#include <string>

#include "filterscope/core/params.h"
#include "filterscope/serve/explorer.h"

namespace filterscope {

struct ServeOptions {
  std::string host = "127.0.0.1";  ///< address to bind; loopback keeps the runs on this machine
  int64_t port = 8080;             ///< 0 picks a free port
  int64_t threads = 8;             ///< requests answered at once

  static const ParamTable<ServeOptions>& params();
};

class ExplorerServer {
 public:
  ExplorerServer(Explorer& explorer, const ServeOptions& options);
  ~ExplorerServer();
  /// Binds the port (throws Error naming host and port when it cannot); returns the bound port.
  int bind();
  /// Answers requests until stop(); call after bind().
  void run();
  /// Makes run() return; safe from another thread or a signal-watching thread.
  void stop();
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace filterscope
