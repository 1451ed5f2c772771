#include "filterscope/serve/server.h"

#include <httplib.h>

#include "filterscope/core/error.h"

namespace filterscope {

const ParamTable<ServeOptions>& ServeOptions::params() {
  static const ParamTable<ServeOptions> table = {
      {"host", &ServeOptions::host, "address to listen on (127.0.0.1: this machine only)", {}, {}, false},
      {"port", &ServeOptions::port, "TCP port; 0 picks a free one (the URL is printed)", Bounds::closed(0, 65535), {}, false},
      {"threads", &ServeOptions::threads, "requests answered at once", Bounds::closed(1, 256), {}, false},
  };
  return table;
}

struct ExplorerServer::Impl {
  Explorer& explorer;
  ServeOptions options;
  httplib::Server server;
  int port = 0;
  Impl(Explorer& e, const ServeOptions& o) : explorer(e), options(o) {}
};

ExplorerServer::ExplorerServer(Explorer& explorer, const ServeOptions& options)
    : impl_(std::make_unique<Impl>(explorer, options)) {
  const size_t threads = static_cast<size_t>(options.threads);
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Slow or stalled clients cannot hold a worker for long.
  impl_->server.set_read_timeout(5, 0);
  impl_->server.set_write_timeout(5, 0);
  impl_->server.set_payload_max_length(64 * 1024);
  // Replies go out as headers then body; without this, Nagle's algorithm and the client's delayed
  // ACK add ~40 ms to every reply on a kept-alive connection.
  impl_->server.set_tcp_nodelay(true);
  const auto answer = [this](const httplib::Request& req, httplib::Response& res) {
    const HttpReply reply = impl_->explorer.handle(req.method, req.path, req.params);
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type);
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
  };
  impl_->server.Get(".*", answer);
  // Other methods are refused by the explorer with 405 and the same JSON error shape.
  impl_->server.Post(".*", answer);
  impl_->server.Put(".*", answer);
  impl_->server.Delete(".*", answer);
}

ExplorerServer::~ExplorerServer() = default;

int ExplorerServer::bind() {
  Impl& i = *impl_;
  if (i.options.port == 0) i.port = i.server.bind_to_any_port(i.options.host.c_str());
  else if (i.server.bind_to_port(i.options.host.c_str(), static_cast<int>(i.options.port))) i.port = static_cast<int>(i.options.port);
  else i.port = -1;
  FS_CHECK(i.port > 0, "serve: cannot listen on ", i.options.host, ":", i.options.port,
           " (in use, or not an address of this machine); try --port 0");
  return i.port;
}

void ExplorerServer::run() { impl_->server.listen_after_bind(); }

void ExplorerServer::stop() { impl_->server.stop(); }

std::string ExplorerServer::url() const {
  const std::string host = impl_->options.host.find(':') != std::string::npos ? "[" + impl_->options.host + "]" : impl_->options.host;
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace filterscope
