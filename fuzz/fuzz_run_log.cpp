// The explorer's run log (RUN/run.sqlite, read by `serve`): a small valid log, built once by the
// library's own writer, is edited by the input — cells set to other values of any SQLite type
// (NULL, integers, reals including NaN and infinities, text, blobs), rows deleted, bytes of the file
// overwritten — and then every query of the reader runs on it. A log is outside input: `serve`
// reads run directories copied from elsewhere. The reader must answer or refuse with one line.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "filterscope/io/sqlite.h"
#include "filterscope/runs/run_log.h"
#include "harness.h"

namespace {
using namespace filterscope;

constexpr int64_t kSteps = 4, kEvery = 2, kImages = 6, kEpochs = 3;

// Reads the input front to back; past its end, zeros.
struct Bytes {
  const uint8_t* data;
  size_t size, at = 0;
  uint8_t byte() { return at < size ? data[at++] : 0; }
  uint64_t word() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return v;
  }
  std::string text() {
    const size_t n = byte() % 24;
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte()));
    return s;
  }
  bool done() const { return at >= size; }
};

WeightRecord record_at(const RunLogSetup& setup, int64_t it) {
  WeightRecord r;
  r.iteration = it;
  r.epoch = static_cast<double>(it) / kSteps;
  r.epoch_end = it % kSteps == 0;
  r.train_loss = 1.0 / (1 + it);
  r.train_acc = 0.5;
  for (const LogLayer& l : setup.layers) {
    LayerWeightStats s;
    for (int64_t u = 0; u < l.units; ++u) s.units.push_back({1.0 + 0.1 * u + 0.01 * it, 0.1 * u, 0.2, 0.01 * it});
    s.hist_lo = -1;
    s.hist_hi = 1;
    s.hist_counts = {it, 2, 3};
    r.layers.push_back(s);
  }
  return r;
}

// The bytes of a valid log with every table filled: records, epochs, track and signals.
std::string template_log(const std::string& file) {
  std::remove(file.c_str());
  RunLogSetup setup;
  setup.layers = {{"features.0", "conv", 3, 9}, {"classifier.0", "linear", 2, 3}};
  for (int64_t i = 0; i < kImages; ++i) {
    setup.val_dataset_indices.push_back(10 + i);
    setup.val_labels.push_back(i % 3);
  }
  setup.class_names = {"a", "b", "c"};
  setup.steps_per_epoch = kSteps;
  setup.log_every = kEvery;
  setup.source = "train";
  {
    RunLogWriter w(file, setup, 0);
    w.add_record(record_at(setup, 0));
    for (int64_t e = 1; e <= kEpochs; ++e) {
      for (int64_t step = kEvery; step <= kSteps; step += kEvery) w.add_record(record_at(setup, (e - 1) * kSteps + step));
      EpochOutcomes o;
      o.epoch = e;
      for (int64_t i = 0; i < kImages; ++i) {
        o.predicted.push_back((i + e) % 3);
        o.true_prob.push_back(0.1 * i);
      }
      w.add_epoch({e, e * kSteps, 0.5, 0.8, 0.6, 0.7, 1.0}, o);
    }
    w.close();
  }
  LogTrack track;
  track.split = "train";
  for (int64_t e = 1; e <= kEpochs; ++e) {
    track.epochs.push_back({e, e, 2});
    track.layers.push_back({e, "features.1", "features.0", e % 3, 3});
    track.filters.push_back({e, "features.1", "features.0", e % 3});
    track.outliers.push_back({e, 10 + e, e % 3, 1, 1, 0});
  }
  write_track_to_log(file, track);
  LogSignals signals;
  for (int64_t e = 1; e <= kEpochs; ++e) signals.values.push_back({"gsnr", e, 0.1 * e, 0.1 * e});
  signals.stops.push_back({"gsnr", "min+patience", 2, 3});
  write_signals_to_log(file, signals);
  // A log left in WAL mode would keep part of itself in FILE-wal, which a copy of FILE misses.
  if (std::filesystem::exists(file + "-wal")) std::abort();
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Column {
  std::string table, column;
};

std::vector<Column> columns_of(SqliteDatabase& db) {
  std::vector<std::string> tables;
  for (auto st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"); st.step();)
    tables.push_back(st.column_text(0));
  std::vector<Column> columns;
  for (const std::string& t : tables) {
    auto st = db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid");
    st.bind(1, t);
    while (st.step()) columns.push_back({t, st.column_text(0)});
  }
  return columns;
}

// One edit of the log as the input says.
void edit(SqliteDatabase& db, const std::vector<Column>& columns, Bytes& in) {
  const Column& c = columns[in.byte() % columns.size()];
  const int64_t row = in.byte() % 16;
  const std::string where = " WHERE rowid = (SELECT rowid FROM \"" + c.table + "\" LIMIT 1 OFFSET ?)";
  const uint8_t op = in.byte() % 7;
  if (op == 6) {
    db.prepare("DELETE FROM \"" + c.table + "\"" + where).bind(1, row).run();
    return;
  }
  auto st = db.prepare("UPDATE \"" + c.table + "\" SET \"" + c.column + "\" = ?" + where);
  switch (op) {
    case 0: st.bind_null(1); break;
    case 1: st.bind(1, static_cast<int64_t>(in.word())); break;
    case 2: st.bind(1, static_cast<int64_t>(static_cast<int8_t>(in.byte()))); break;
    case 3: {
      const uint64_t bits = in.word();
      double v;
      std::memcpy(&v, &bits, sizeof v);
      st.bind(1, v);
      break;
    }
    case 4: st.bind(1, in.text()); break;
    default: {
      const std::string b = in.text();
      st.bind_blob(1, b.data(), b.size());
    }
  }
  st.bind(2, row);
  st.run();
}

void query_everything(const std::string& file, Bytes& in) {
  RunLogReader log(file);
  const RunLogSummary summary = log.summary();
  (void)summary;
  const std::vector<LogLayer> layers = log.layers();
  // Ranges as the server passes them (serve/query checks from <= to and points > 0 before asking).
  const int64_t from = static_cast<int8_t>(in.byte()) % 16, to = from + in.byte() % 32, points = 1 + in.byte() % 8;
  for (int64_t l = -1; l <= static_cast<int64_t>(layers.size()); ++l) {
    for (UnitStat stat : {UnitStat::Norm, UnitStat::Mean, UnitStat::Std, UnitStat::Change, UnitStat::Path}) {
      const std::vector<SeriesBucket> whole = log.series(l, stat, from, to, points);
      if (static_cast<int64_t>(whole.size()) > points) {
        std::fprintf(stderr, "fuzz: %zu buckets for %lld points\n", whole.size(), static_cast<long long>(points));
        std::abort();
      }
      log.series(l, stat, from, to, points, {0, static_cast<int64_t>(in.byte() % 4)});
    }
    log.changes(l, from, to);
    log.histogram(l, to);
  }
  log.metrics();
  const int64_t limit = 1 + in.byte() % 8;
  for (int64_t label = -1; label < 4; ++label) {
    const CubePage page = log.cube(label, std::nullopt, in.byte() % 8, limit);
    if (static_cast<int64_t>(page.images.size()) > limit) {
      std::fprintf(stderr, "fuzz: a cube page of %zu images for a limit of %lld\n", page.images.size(),
                   static_cast<long long>(limit));
      std::abort();
    }
    log.cube(label, static_cast<OutcomePattern>(in.byte() % kOutcomePatterns), 0, limit);
  }
  for (int64_t image = -1; image <= kImages; ++image) log.image(image);
  log.track();
  log.signals();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // In memory where the machine has /dev/shm: a file per input.
  static const std::string dir =
      (std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp") + std::string("/fuzz_run_log.") + std::to_string(getpid());
  static const std::string bytes = [] {
    std::filesystem::create_directories(dir);
    return template_log(dir + "/template.sqlite");
  }();
  const std::string file = dir + "/run.sqlite";
  Bytes in{data, size};
  std::string image = bytes;
  // The first byte: how many cell edits; the second: how many byte overwrites of the file.
  const int edits = in.byte() % 8, overwrites = in.byte() % 4;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
  }
  if (edits > 0) {
    SqliteDatabase db(file, SqliteDatabase::Mode::kReadWrite);
    db.exec("PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");  // no fsync per input
    const std::vector<Column> columns = columns_of(db);
    for (int i = 0; i < edits; ++i) {
      // An edit the schema refuses (a NOT NULL column, a duplicate key) is skipped: the log stays valid there.
      try {
        edit(db, columns, in);
      } catch (const Error&) {
      }
    }
  }
  if (overwrites > 0) {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(0, std::ios::end);
    const uint64_t length = static_cast<uint64_t>(f.tellg());
    for (int i = 0; i < overwrites && length > 0; ++i) {
      const uint64_t at = (static_cast<uint64_t>(in.byte()) << 16 | static_cast<uint64_t>(in.byte()) << 8 | in.byte()) % length;
      const char b = static_cast<char>(in.byte());
      f.seekp(static_cast<std::streamoff>(at));
      f.write(&b, 1);
    }
  }
  fuzz::parse_or_refuse([&] { query_everything(file, in); });
  return 0;
}
