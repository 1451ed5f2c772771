// A bounded load on a running `filterscope serve` over loopback: C clients, each sending R requests
// (or stopping at the time limit), a mix of the explorer's queries with seeded random layers, units
// and ranges. Prints one JSON line: requests per second and p50/p95/p99 latency, overall and per kind.
//   bench_serve_load PORT RUN_ID [clients=8] [requests_per_client=250] [max_seconds=120]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_serve_load PORT RUN_ID [clients] [requests_per_client] [max_seconds]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string run = argv[2];
  const int clients = argc > 3 ? std::atoi(argv[3]) : 8;
  const int per_client = argc > 4 ? std::atoi(argv[4]) : 250;
  const double max_seconds = argc > 5 ? std::atof(argv[5]) : 120;

  httplib::Client probe("127.0.0.1", port);
  auto info_res = probe.Get(("/api/runs/" + run).c_str());
  if (!info_res || info_res->status != 200) {
    std::fprintf(stderr, "bench_serve_load: cannot read /api/runs/%s\n", run.c_str());
    return 1;
  }
  const auto info = nlohmann::json::parse(info_res->body);
  std::vector<int64_t> units;
  for (const auto& l : info["layers"]) units.push_back(l["units"].get<int64_t>());
  const int64_t last = info["last_iteration"].get<int64_t>();
  const int64_t classes = static_cast<int64_t>(info["class_names"].size());

  std::mutex mutex;
  std::map<std::string, std::vector<double>> latency;  // ms per kind
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(30);
      std::mt19937_64 rng(1000 + c);
      std::map<std::string, std::vector<double>> mine;
      for (int i = 0; i < per_client; ++i) {
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds) break;
        const int64_t layer = static_cast<int64_t>(rng() % units.size());
        int64_t a = static_cast<int64_t>(rng() % static_cast<uint64_t>(last + 1)), b = static_cast<int64_t>(rng() % static_cast<uint64_t>(last + 1));
        if (rng() % 2) a = 0, b = last;  // half the charts show the whole run
        if (a > b) std::swap(a, b);
        const std::string range = "&from=" + std::to_string(a) + "&to=" + std::to_string(b);
        std::string kind, path;
        switch (i % 6) {
          case 0: kind = "layer series"; path = "/series?layer=" + std::to_string(layer) + "&points=300" + range; break;
          case 1: {
            // An eighth of the layer, as the page's groups are (512 units of a 4,096-unit layer).
            kind = "group series (1/8 of the layer)";
            std::string list;
            const int64_t n = std::max<int64_t>(1, units[static_cast<size_t>(layer)] / 8);
            const int64_t first = static_cast<int64_t>(rng() % static_cast<uint64_t>(units[static_cast<size_t>(layer)] - n + 1));
            for (int64_t u = 0; u < n; ++u) list += (u ? "," : "") + std::to_string(first + u);
            path = "/series?layer=" + std::to_string(layer) + "&points=300&units=" + list + range;
            break;
          }
          case 2:
            kind = "filter series";
            path = "/series?layer=" + std::to_string(layer) + "&points=300&units=" +
                   std::to_string(rng() % static_cast<uint64_t>(units[static_cast<size_t>(layer)])) + range;
            break;
          case 3: kind = "groups"; path = "/layers/" + std::to_string(layer) + "/groups?groups=8" + range; break;
          case 4: kind = "cube page"; path = "/cube?limit=120&class=" + std::to_string(rng() % static_cast<uint64_t>(classes)); break;
          default: kind = "changes (brush)"; path = "/changes?top=12" + range; break;
        }
        const auto t0 = std::chrono::steady_clock::now();
        auto res = client.Get(("/api/runs/" + run + path).c_str());
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (!res || res->status != 200) ++failures;
        mine[kind].push_back(ms);
        mine["all"].push_back(ms);
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (auto& [k, v] : mine) latency[k].insert(latency[k].end(), v.begin(), v.end());
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json out = {{"clients", clients}, {"seconds", seconds}, {"failures", failures.load()}};
  for (auto& [kind, v] : latency) {
    std::sort(v.begin(), v.end());
    const auto q = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))]; };
    out["kinds"][kind] = {{"requests", v.size()}, {"p50_ms", q(0.50)}, {"p95_ms", q(0.95)}, {"p99_ms", q(0.99)}};
  }
  out["requests"] = latency["all"].size();
  out["requests_per_second"] = static_cast<double>(latency["all"].size()) / seconds;
  std::printf("%s\n", out.dump().c_str());
  return failures.load() ? 1 : 0;
}
