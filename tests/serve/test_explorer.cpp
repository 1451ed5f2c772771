// The training-run explorer end to end on real training runs: train records the log (and a killed
// run resumes it without gaps or duplicates), record imports an older run, track adds its results,
// and the API answers, refuses and stays read-only, directly and over loopback HTTP.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <set>
#include <thread>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/serve/explorer.h"
#include "filterscope/serve/server.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::TempDir;

// 300 training images in batches of 32: 10 steps an epoch, a record every 3 steps and at each end.
std::vector<std::string> train_args(int epochs) {
  return {"train", "--dataset", "synthetic", "--synthetic-size", "720", "--train-size", "300", "--val-size", "100",
          "--batch-size", "32", "--epochs", std::to_string(epochs), "--quiet", "--label-noise", "0.1", "--log-every", "3"};
}

// Names, sizes and modification times of every file under a folder.
std::set<std::string> snapshot(const std::filesystem::path& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out.insert(e.path().string() + ":" + std::to_string(e.file_size()) + ":" +
                 std::to_string(e.last_write_time().time_since_epoch().count()));
  return out;
}

// Every record's mean of a statistic per layer, and every image's predictions: what two logs of
// the same training must share.
void expect_same_log(const std::filesystem::path& a_file, const std::filesystem::path& b_file) {
  RunLogReader a(a_file), b(b_file);
  const RunLogSummary sa = a.summary(), sb = b.summary();
  EXPECT_EQ(sa.records, sb.records);
  EXPECT_EQ(sa.last_iteration, sb.last_iteration);
  EXPECT_EQ(sa.epochs, sb.epochs);
  for (size_t l = 0; l < a.layers().size(); ++l)
    for (UnitStat stat : {UnitStat::Norm, UnitStat::Change, UnitStat::Path}) {
      const auto x = a.series(static_cast<int64_t>(l), stat, 0, sa.last_iteration, 100000);
      const auto y = b.series(static_cast<int64_t>(l), stat, 0, sb.last_iteration, 100000);
      ASSERT_EQ(x.size(), y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].first_iteration, y[i].first_iteration);
        EXPECT_NEAR(x[i].mean, y[i].mean, 1e-5 * (1 + std::abs(y[i].mean))) << "layer " << l << " record " << i;
      }
    }
  const CubePage ca = a.cube(-1, std::nullopt, 0, 1000), cb = b.cube(-1, std::nullopt, 0, 1000);
  EXPECT_EQ(ca.epochs, cb.epochs);
  EXPECT_EQ(ca.pattern_counts, cb.pattern_counts);
  ASSERT_EQ(ca.images.size(), cb.images.size());
  for (size_t i = 0; i < ca.images.size(); ++i) EXPECT_EQ(ca.images[i].predicted, cb.images[i].predicted) << i;
  EXPECT_EQ(a.metrics().size(), b.metrics().size());
}

class Explorer_ : public testing::SuiteRun<Explorer_> {
 protected:
  static void SetUpTestSuite() {
    train(train_args(4));
    require(run_cli({"track", run().string(), "--probe-size", "80", "--split", "train", "--small-cluster", "0.05", "--quiet"}),
            "track of the suite's run");
  }
  static HttpReply get(Explorer& e, const std::string& path, std::multimap<std::string, std::string> params = {}) {
    return e.handle("GET", path, params);
  }
};

TEST_F(Explorer_, TrainRecordsWeightsOutcomesAndMetrics) {
  const std::filesystem::path file = RunLayout(run()).run_log();
  ASSERT_TRUE(std::filesystem::exists(file));
  // A finished log is one file: WAL mode is left at the end.
  EXPECT_FALSE(std::filesystem::exists(file.string() + "-wal"));
  RunLogReader log(file);
  const RunLogSummary s = log.summary();
  EXPECT_EQ(s.steps_per_epoch, 10);
  EXPECT_EQ(s.log_every, 3);
  EXPECT_EQ(s.source, "train");
  // Iteration 0, steps 3, 6, 9 of each epoch, and each epoch's end: 1 + 4 * 4 records.
  EXPECT_EQ(s.records, 17);
  EXPECT_EQ(s.last_iteration, 40);
  EXPECT_EQ(s.images, 100);
  const auto layers = log.layers();
  ASSERT_GE(layers.size(), 3u);
  EXPECT_EQ(layers.front().kind, "conv");
  EXPECT_EQ(layers.back().kind, "linear");

  // The epoch-end norms are the checkpoint's; validation accuracy from the outcomes is metrics.csv's.
  Network net = load_checkpoint(checkpoint_path(run(), 2));
  const at::Tensor w = net->named_parameters()[layers.front().name + ".weight"].detach().flatten(1);
  const auto b = log.series(0, UnitStat::Norm, 20, 20, 1, {1});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NEAR(b[0].mean, w[1].norm().item<double>(), 1e-6);
  const auto metrics = read_metrics(run());
  const CubePage cube = log.cube(-1, std::nullopt, 0, 1000);
  ASSERT_EQ(cube.epochs.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    int64_t right = 0;
    for (const auto& im : cube.images) right += im.predicted[k] == im.label;
    EXPECT_NEAR(static_cast<double>(right) / 100, metrics[k].val_acc, 1e-9);
    EXPECT_NEAR(log.metrics()[k].val_loss, metrics[k].val_loss, 1e-6);
  }
  int64_t patterns = 0;
  for (int64_t c : cube.pattern_counts) patterns += c;
  EXPECT_EQ(patterns, 100);
}

TEST_F(Explorer_, TrackAddsItsAnomalyCountsToTheLog) {
  RunLogReader log(RunLayout(run()).run_log());
  const LogTrack t = log.track();
  const auto json = read_json(RunLayout(run()).track_json());
  ASSERT_EQ(t.epochs.size(), json["epochs"].size());
  EXPECT_EQ(t.split, "train");
  for (size_t i = 0; i < t.epochs.size(); ++i) {
    EXPECT_EQ(t.epochs[i].anomaly_filters, json["epochs"][i]["anomaly_filters"].get<int64_t>());
    int64_t per_layer = 0, filters = 0;
    for (const auto& l : t.layers)
      if (l.epoch == t.epochs[i].epoch) per_layer += l.anomaly_filters;
    for (const auto& f : t.filters)
      if (f.epoch == t.epochs[i].epoch) ++filters;
    EXPECT_EQ(per_layer, t.epochs[i].anomaly_filters);
    EXPECT_EQ(filters, t.epochs[i].anomaly_filters);
  }
}

TEST_F(Explorer_, RecordImportsARunTrainedWithoutALog) {
  TempDir dir;
  const auto old = dir / "old";
  ASSERT_EQ(run_cli(testing::with(train_args(4), {"--no-run-log", "--out", old.string()})).code, 0);
  ASSERT_FALSE(std::filesystem::exists(RunLayout(old).run_log()));
  const auto r = run_cli({"record", old.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("4 epochs"), std::string::npos) << r.out;
  RunLogReader imported(RunLayout(old).run_log()), live(RunLayout(run()).run_log());
  EXPECT_EQ(imported.summary().records, 5);  // the initial weights and 4 epochs
  EXPECT_EQ(imported.summary().source, "record");
  // Recording changes nothing in training: the same weights at every epoch end, the same outcomes.
  for (int64_t e = 1; e <= 4; ++e) {
    const auto x = imported.series(0, UnitStat::Norm, e * 10, e * 10, 1, {0, 1, 2});
    const auto y = live.series(0, UnitStat::Norm, e * 10, e * 10, 1, {0, 1, 2});
    ASSERT_EQ(x.size(), 1u);
    ASSERT_EQ(y.size(), 1u);
    EXPECT_NEAR(x[0].mean, y[0].mean, 1e-9);
    // One step per epoch moves no further than the path through every record of it.
    const auto px = imported.series(0, UnitStat::Path, e * 10, e * 10, 1, {0});
    const auto py = live.series(0, UnitStat::Path, e * 10, e * 10, 1, {0});
    EXPECT_LE(px[0].max, py[0].max + 1e-9);
    EXPECT_GT(px[0].max, 0);
  }
  const CubePage a = imported.cube(-1, std::nullopt, 0, 1000), b = live.cube(-1, std::nullopt, 0, 1000);
  ASSERT_EQ(a.images.size(), b.images.size());
  for (size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].predicted, b.images[i].predicted);
    for (size_t k = 0; k < a.epochs.size(); ++k) EXPECT_NEAR(a.images[i].true_prob[k], b.images[i].true_prob[k], 1e-6);
  }
  // A second import is refused unless asked for, and leaves no partial file either way.
  const auto again = run_cli({"record", old.string(), "--quiet"});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  ASSERT_EQ(run_cli({"record", old.string(), "--replace", "--quiet"}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(RunLayout(old).run_log().string() + ".partial"));
}

TEST(TrainLog, AKilledRunResumesItsLogWithoutGapsOrDuplicates) {
  TempDir dir;
  const int epochs = 6;
  ASSERT_EQ(run_cli(testing::with(train_args(epochs), {"--out", (dir / "whole").string()})).code, 0);
  const auto killed = dir / "killed";
  const pid_t pid = testing::spawn_cli(testing::with(train_args(epochs), {"--out", killed.string()}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(checkpoint_path(killed, 2)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(15));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed; make the run longer";
  {
    // What the killed run left is a consistent database a reader opens.
    RunLogReader partial(RunLayout(killed).run_log());
    EXPECT_LT(partial.summary().epochs, epochs);
  }
  const auto resumed = run_cli({"train", "--resume", "--out", killed.string(), "--quiet"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  expect_same_log(RunLayout(killed).run_log(), RunLayout(dir / "whole").run_log());
}

TEST_F(Explorer_, TheApiAnswersFromAggregatedQueries) {
  const auto before = snapshot(run());
  Explorer e({run()});
  const std::string id = e.runs().front().id;
  EXPECT_EQ(id, "run");
  auto runs = nlohmann::json::parse(get(e, "/api/runs").body);
  ASSERT_EQ(runs["runs"].size(), 1u);
  EXPECT_EQ(runs["runs"][0]["epochs"], 4);
  EXPECT_EQ(runs["runs"][0]["has_track"], true);
  const auto info = nlohmann::json::parse(get(e, "/api/runs/run").body);
  EXPECT_EQ(info["metrics"].size(), 4u);
  EXPECT_EQ(info["patterns"].size(), 5u);
  const int64_t layers = static_cast<int64_t>(info["layers"].size());

  // Series: at most `points` buckets, each within the range asked for.
  const auto series = nlohmann::json::parse(get(e, "/api/runs/run/series", {{"layer", "0"}, {"points", "5"}, {"from", "3"}, {"to", "33"}}).body);
  ASSERT_LE(series["mean"].size(), 5u);
  ASSERT_GE(series["mean"].size(), 4u);
  for (const auto& it : series["first"]) EXPECT_GE(it.get<int64_t>(), 3);
  for (const auto& it : series["last"]) EXPECT_LE(it.get<int64_t>(), 33);
  const auto one = nlohmann::json::parse(get(e, "/api/runs/run/series", {{"layer", "1"}, {"units", "0,2"}, {"stat", "change"}}).body);
  EXPECT_EQ(one["units"], nlohmann::json({0, 2}));
  // Groups partition the layer's units, ordered by movement.
  const auto groups = nlohmann::json::parse(get(e, "/api/runs/run/layers/0/groups", {{"groups", "3"}, {"order", "change"}}).body);
  std::set<int64_t> units;
  double previous = INFINITY;
  for (const auto& g : groups["groups"]) {
    for (const auto& u : g["units"]) units.insert(u.get<int64_t>());
    EXPECT_LE(g["change_max"].get<double>(), previous + 1e-12);
    previous = g["change_min"].get<double>();
  }
  EXPECT_EQ(static_cast<int64_t>(units.size()), info["layers"][0]["units"].get<int64_t>());
  const auto changes = nlohmann::json::parse(get(e, "/api/runs/run/changes", {{"from", "10"}, {"to", "30"}, {"top", "5"}}).body);
  ASSERT_EQ(changes["filters"].size(), 5u);
  EXPECT_GE(changes["filters"][0]["change"].get<double>(), changes["filters"][4]["change"].get<double>());
  const auto cube = nlohmann::json::parse(get(e, "/api/runs/run/cube", {{"limit", "7"}, {"offset", "3"}}).body);
  EXPECT_EQ(cube["images"].size(), 7u);
  EXPECT_EQ(cube["total"], 100);
  EXPECT_EQ(cube["images"][0]["predicted"].size(), 4u);
  const auto image = nlohmann::json::parse(get(e, "/api/runs/run/images/5").body);
  EXPECT_EQ(image["image"], 5);
  const HttpReply png = get(e, "/api/runs/run/images/5.png");
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.content_type, "image/png");
  EXPECT_EQ(png.body.substr(1, 3), "PNG");
  EXPECT_EQ(nlohmann::json::parse(get(e, "/api/runs/run/track").body)["epochs"].size(), 4u);
  const auto hist = nlohmann::json::parse(get(e, "/api/runs/run/histogram", {{"layer", std::to_string(layers - 1)}}).body);
  EXPECT_EQ(hist["iteration"], 40);
  EXPECT_EQ(get(e, "/").content_type, "text/html; charset=utf-8");
  EXPECT_NE(get(e, "/").body.find("filterscope explorer"), std::string::npos);
  EXPECT_EQ(snapshot(run()), before);
}

TEST_F(Explorer_, BadRequestsAre400UnknownThings404AndNothingOutsideIsRead) {
  Explorer e({run()});
  struct Case {
    std::string path;
    std::multimap<std::string, std::string> params;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"/api/runs/nope", {}, 404, "unknown run 'nope'"},
      {"/api/runs/run/series", {{"layer", "99"}}, 404, "has no layer 99"},
      {"/api/runs/run/series", {{"layer", "0"}, {"units", "9999"}}, 404, "has no unit 9999"},
      {"/api/runs/run/images/100", {}, 404, "no validation image 100"},
      {"/api/runs/run/histogram", {{"layer", "0"}, {"iteration", "-1"}}, 400, "out of range"},
      {"/api/runs/run/layers/7/groups", {}, 404, "has no layer 7"},
      {"/api/runs/run/series", {}, 400, "'layer' is required"},
      {"/api/runs/run/series", {{"layer", "x"}}, 400, "not an integer"},
      {"/api/runs/run/series", {{"layer", "0"}, {"points", "0"}}, 400, "out of range"},
      {"/api/runs/run/series", {{"layer", "0"}, {"from", "30"}, {"to", "10"}}, 400, "is after"},
      {"/api/runs/run/series", {{"layer", "0"}, {"from", "99999999999999999999"}}, 400, "out of range"},
      {"/api/runs/run/series", {{"layer", "0"}, {"colour", "red"}}, 400, "unknown parameter 'colour'"},
      {"/api/runs/run/series", {{"layer", "0"}, {"layer", "1"}}, 400, "given twice"},
      {"/api/runs/run/cube", {{"class", "10"}}, 400, "out of range"},
      // SQL metacharacters are data: refused as values, never run.
      {"/api/runs/run/series", {{"layer", "0"}, {"stat", "norm) FROM unit_stats; DROP TABLE records; --"}}, 400, "is not one of"},
      {"/api/runs/run/cube", {{"pattern", "' OR 1=1 --"}}, 400, "is not one of"},
      {"/api/runs/run/series", {{"layer", "0 OR 1=1"}}, 400, "not an integer"},
      {"/api/runs/run/series", {{"layer", "0"}, {"units", "1); DROP TABLE unit_stats; --"}}, 400, "not an integer"},
      {"/api/runs/run';--", {}, 404, "unknown run"},
      // Traversal in every form the decoded path can take.
      {"/runs/run/../run.json", {}, 404, "no such page"},
      {"/runs/../../etc/passwd", {}, 404, "no such page"},
      {"/api/runs/run/images/../../run.json", {}, 404, "no such page"},
      {"/etc/passwd", {}, 404, "no such page"},
      {"/runs/run/run.json", {}, 404, "no such page"},
      {"/runs/run/checkpoints/epoch-001.pt", {}, 404, "no such page"},
      {"//api/runs", {}, 404, "no such page"},
      {"/api/runs/run/", {}, 404, "no such page"},
      {"/runs/run/report.html", {}, 404, "has no report.html"},
      {"relative", {}, 404, "no such page"},
  };
  for (const Case& c : cases) {
    const HttpReply r = get(e, c.path, c.params);
    EXPECT_EQ(r.status, c.status) << c.path << " -> " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << c.path;
    EXPECT_NE(nlohmann::json::parse(r.body)["error"].get<std::string>().find(c.says), std::string::npos) << c.path << " -> " << r.body;
  }
  EXPECT_EQ(e.handle("POST", "/api/runs", {}).status, 405);
  // The tables the injections named are all there.
  RunLogReader log(RunLayout(run()).run_log());
  EXPECT_EQ(log.summary().records, 17);
}

TEST_F(Explorer_, MissingOrCorruptLogsAreRefusedAtStart) {
  TempDir dir;
  const auto expect_refused = [](const std::vector<std::filesystem::path>& runs, const std::string& says) {
    try {
      Explorer e(runs);
      ADD_FAILURE() << "served " << runs.front();
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(says), std::string::npos) << err.what();
    }
  };
  expect_refused({dir / "none"}, "no such run directory");
  std::filesystem::create_directories(dir / "empty");
  expect_refused({dir / "empty"}, "not a run directory (no run.json)");
  const auto copy = dir / "copy";
  std::filesystem::create_directories(copy);
  std::filesystem::copy_file(RunLayout(run()).run_json(), RunLayout(copy).run_json());
  expect_refused({copy}, "no run.sqlite");
  testing::write_bytes(RunLayout(copy).run_log(), "SQLite format 3" + std::string(200, '\x07'));
  expect_refused({copy}, "the run log cannot be read");
  const auto r = run_cli({"serve", copy.string(), "--port", "0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("filterscope: error: " + copy.string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// The explorer on an ephemeral loopback port, served from a thread, with a client to it; stopped
// (the thread joined) by stop() or at the end of the scope.
struct LoopbackExplorer {
  static ServeOptions any_port() {
    ServeOptions o;
    o.port = 0;
    return o;
  }
  explicit LoopbackExplorer(Explorer& e) : server(e, any_port()), port(server.bind()), serving([this] { server.run(); }),
                                           client("127.0.0.1", port) {
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
  }
  ~LoopbackExplorer() { stop(); }
  void stop() {
    if (!serving.joinable()) return;
    server.stop();
    serving.join();
  }
  ExplorerServer server;
  int port;
  std::thread serving;
  httplib::Client client;
};

TEST_F(Explorer_, LoopbackServerAnswersEightClientsAndWritesNothing) {
  const auto before = snapshot(run());
  Explorer e({run(), run()});
  EXPECT_EQ(e.runs()[1].id, "run-2");
  LoopbackExplorer served(e);
  httplib::Client& client = served.client;
  const int port = served.port;
  auto res = client.Get("/api/runs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["runs"].size(), 2u);
  // Encoded traversal, as a client would send it.
  for (const char* path : {"/runs/run/%2e%2e/run.json", "/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/report.html", "/..%2f..%2fetc/passwd",
                           "/api/runs/run/images/%2e%2e%2frun.json"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << " " << r->body;
  }
  // 8 concurrent clients, 20 requests each, over every kind of query.
  const std::vector<std::string> paths = {"/api/runs/run/series?layer=0&points=100", "/api/runs/run-2/series?layer=1&units=0,1,2",
                                          "/api/runs/run/layers/0/groups?groups=4", "/api/runs/run/cube?limit=50",
                                          "/api/runs/run/changes?from=0&to=40", "/api/runs/run/images/3.png", "/"};
  std::vector<int> failures(8, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      httplib::Client mine("127.0.0.1", port);
      mine.set_read_timeout(10);
      for (int i = 0; i < 20; ++i) {
        auto r = mine.Get(paths[static_cast<size_t>(c + i) % paths.size()].c_str());
        if (!r || r->status != 200) ++failures[static_cast<size_t>(c)];
      }
    });
  for (auto& t : clients) t.join();
  served.stop();
  for (int f : failures) EXPECT_EQ(f, 0);
  EXPECT_EQ(snapshot(run()), before);
}

// The run's report page over loopback HTTP, by GET and by HEAD (a browser's or a link checker's
// first request): the file's bytes, its length without a body, and a 404 for a run without one.
TEST_F(Explorer_, ServesTheReportPageToGetAndHead) {
  TempDir dir;
  const auto copy = dir / "run";
  std::filesystem::copy(run(), copy, std::filesystem::copy_options::recursive);
  const auto made = run_cli({"report", copy.string(), "--quiet"});
  ASSERT_EQ(made.code, 0) << made.err;
  const std::string page = read_file(RunLayout(copy).report_html());
  ASSERT_GT(page.size(), 1000u);
  const auto before = snapshot(copy);
  Explorer e({copy, run()});
  LoopbackExplorer served(e);
  httplib::Client& client = served.client;
  auto runs = client.Get("/api/runs");
  ASSERT_TRUE(runs);
  const auto listed = nlohmann::json::parse(runs->body)["runs"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0]["has_report"].get<bool>());
  EXPECT_FALSE(listed[1]["has_report"].get<bool>());
  const std::string id = listed[0]["id"].get<std::string>(), other = listed[1]["id"].get<std::string>();
  auto got = client.Get(("/runs/" + id + "/report.html").c_str());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_TRUE(got->body == page) << "the page served differs from the file (" << got->body.size() << " vs " << page.size() << " bytes)";
  auto head = client.Head(("/runs/" + id + "/report.html").c_str());
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(page.size()));
  EXPECT_EQ(head->get_header_value("Content-Type"), "text/html; charset=utf-8");
  auto missing = client.Head(("/runs/" + other + "/report.html").c_str());
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto missing_get = client.Get(("/runs/" + other + "/report.html").c_str());
  ASSERT_TRUE(missing_get);
  EXPECT_EQ(missing_get->status, 404);
  EXPECT_NE(missing_get->body.find("has no report.html (filterscope report makes it)"), std::string::npos) << missing_get->body;
  auto api_head = client.Head("/api/runs");
  ASSERT_TRUE(api_head);
  EXPECT_EQ(api_head->status, 200);
  EXPECT_TRUE(api_head->body.empty());
  served.stop();
  EXPECT_EQ(snapshot(copy), before);
}

TEST(ServeWhileTraining, TheServerReadsTheLogTrainWrites) {
  TempDir dir;
  const auto live = dir / "live";
  const pid_t pid = testing::spawn_cli(testing::with(train_args(12), {"--out", live.string()}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(RunLayout(live).run_log()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  // The log exists from train's first transaction on; until its schema is committed it is refused.
  std::unique_ptr<Explorer> served;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    try {
      served = std::make_unique<Explorer>(std::vector<std::filesystem::path>{live});
    } catch (const Error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  int status = 0, failures = 0;
  // The child never outlives the test: past the deadline it is killed and the test fails (a zero
  // status of a child still running would otherwise read as a clean exit).
  const auto stop_child = [&](const char* why) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return std::string(why);
  };
  if (!served) FAIL() << stop_child("the log was never served before the deadline; train killed");
  Explorer& e = *served;
  std::set<int64_t> seen;
  bool exited = false;
  while (!(exited = waitpid(pid, &status, WNOHANG) == pid) && std::chrono::steady_clock::now() < deadline) {
    for (const char* path : {"/api/runs/live", "/api/runs/live/series", "/api/runs/live/cube"}) {
      std::multimap<std::string, std::string> params;
      if (std::string(path).find("series") != std::string::npos) params = {{"layer", "0"}};
      const HttpReply r = e.handle("GET", path, params);
      if (r.status != 200) {
        ++failures;
        ADD_FAILURE() << path << " " << r.body;
      }
      if (std::string(path) == "/api/runs/live" && r.status == 200) seen.insert(nlohmann::json::parse(r.body)["epochs"].get<int64_t>());
    }
  }
  if (!exited) FAIL() << stop_child("train did not finish before the deadline; killed");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(failures, 0);
  EXPECT_GE(seen.size(), 3u) << "the server saw too few epochs arrive";
  EXPECT_EQ(nlohmann::json::parse(e.handle("GET", "/api/runs/live", {}).body)["epochs"], 12);
}

}  // namespace
}  // namespace filterscope
