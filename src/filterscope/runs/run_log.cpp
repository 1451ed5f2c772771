#include "filterscope/runs/run_log.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"
#include "filterscope/io/sqlite.h"

namespace filterscope {

namespace {

// Version 1. Each unit's statistics are stored twice, for the two ways charts ask for them:
// unit-major rows in unit_stats, keyed (layer, unit, iteration), so that one filter's series is one
// index range (and pandas reads a tidy table); record-major blobs in unit_values, one row per
// (layer, statistic, chunk of kChunkUnits units, record), so that a group of hundreds of filters
// over a whole run reads one row per chunk and record instead of one per unit and record, and a
// brush reads two rows per chunk. A chunk's blob fits in one 4 KiB page: no overflow chains to
// follow on read, and a record appends whole pages instead of rewriting big ones.
// Per-layer aggregates sit in layer_stats, so a layer strip reads one small row per record.
constexpr int64_t kChunkUnits = 480;  // 3,840 bytes of float64: within a 4 KiB page's local payload

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers(layer INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
  units INTEGER NOT NULL, fan_in INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS classes(label INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(iteration INTEGER PRIMARY KEY, epoch REAL NOT NULL, epoch_end INTEGER NOT NULL,
  train_loss REAL, train_acc REAL);
CREATE TABLE IF NOT EXISTS unit_stats(layer INTEGER NOT NULL, unit INTEGER NOT NULL, iteration INTEGER NOT NULL,
  norm REAL, mean REAL, std REAL, change REAL, path REAL, PRIMARY KEY(layer, unit, iteration)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS layer_stats(layer INTEGER NOT NULL, iteration INTEGER NOT NULL,
  norm_min REAL, norm_max REAL, norm_mean REAL, mean_min REAL, mean_max REAL, mean_mean REAL,
  std_min REAL, std_max REAL, std_mean REAL, change_min REAL, change_max REAL, change_mean REAL,
  path_min REAL, path_max REAL, path_mean REAL, PRIMARY KEY(layer, iteration)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unit_values(layer INTEGER NOT NULL, stat INTEGER NOT NULL, chunk INTEGER NOT NULL,
  iteration INTEGER NOT NULL, vals BLOB NOT NULL, PRIMARY KEY(layer, stat, chunk, iteration));
CREATE TABLE IF NOT EXISTS histograms(layer INTEGER NOT NULL, iteration INTEGER NOT NULL, lo REAL, hi REAL,
  counts BLOB NOT NULL, PRIMARY KEY(layer, iteration)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics(epoch INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, train_loss REAL,
  train_acc REAL, val_loss REAL, val_acc REAL, seconds REAL);
CREATE TABLE IF NOT EXISTS val_images(image INTEGER PRIMARY KEY, dataset_index INTEGER NOT NULL, label INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS val_outcomes(image INTEGER NOT NULL, epoch INTEGER NOT NULL, predicted INTEGER NOT NULL,
  correct INTEGER NOT NULL, true_prob REAL NOT NULL, PRIMARY KEY(image, epoch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS image_patterns(image INTEGER PRIMARY KEY, label INTEGER NOT NULL, pattern INTEGER NOT NULL,
  switches INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS image_patterns_by_pattern ON image_patterns(pattern, image);
CREATE INDEX IF NOT EXISTS image_patterns_by_label ON image_patterns(label, pattern, image);
CREATE TABLE IF NOT EXISTS track_epochs(epoch INTEGER PRIMARY KEY, anomaly_filters INTEGER NOT NULL,
  outlier_samples INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS track_layers(epoch INTEGER NOT NULL, probe TEXT NOT NULL, layer TEXT NOT NULL,
  anomaly_filters INTEGER NOT NULL, filters INTEGER NOT NULL, PRIMARY KEY(epoch, probe));
CREATE TABLE IF NOT EXISTS track_filters(epoch INTEGER NOT NULL, probe TEXT NOT NULL, layer TEXT NOT NULL,
  unit INTEGER NOT NULL, PRIMARY KEY(epoch, probe, unit));
CREATE TABLE IF NOT EXISTS track_outliers(epoch INTEGER NOT NULL, dataset_index INTEGER NOT NULL, label INTEGER NOT NULL,
  prediction INTEGER NOT NULL, filters INTEGER NOT NULL, label_replaced INTEGER NOT NULL,
  PRIMARY KEY(epoch, dataset_index));
)SQL";

// Added after the first logs of this schema version: created where missing (a writer adds them),
// read as empty where absent.
constexpr const char* kSignalSchema = R"SQL(
CREATE TABLE IF NOT EXISTS signal_values(name TEXT NOT NULL, epoch INTEGER NOT NULL, value REAL, smoothed REAL,
  PRIMARY KEY(name, epoch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signal_stops(name TEXT PRIMARY KEY, rule TEXT NOT NULL, predicted_epoch INTEGER NOT NULL,
  fired_at INTEGER NOT NULL);
)SQL";


const char* const kPatternNames[kOutcomePatterns] = {"always-right", "learned", "forgotten", "fluctuating",
                                                      "never-learned"};
// More units than any layer a log records (AlexNet's widest has 4,096): a count above it is damage.
constexpr int64_t kMaxLogUnits = int64_t{1} << 24;

const char* const kStatNames[] = {"norm", "mean", "std", "change", "path"};

std::string meta_value(SqliteDatabase& db, const std::string& key) {
  auto q = db.prepare("SELECT value FROM meta WHERE key = ?1");
  q.bind(1, key);
  return q.step() ? q.column_text(0) : std::string();
}

void set_meta(SqliteDatabase& db, const std::string& key, const std::string& value) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)").bind(1, key).bind(2, value).run();
}

int64_t meta_int(SqliteDatabase& db, const std::string& key) {
  const std::string v = meta_value(db, key);
  if (v.empty()) return 0;
  size_t used = 0;
  try {
    const int64_t n = std::stoll(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  // The value is the file's text: quoted through printable, so that the refusal stays one line.
  throw Error(detail::concat(db.file().string(), ": meta value ", key, " is not a whole number (\"", printable(v), "\")"));
}

OutcomePattern pattern_of(int64_t switches, bool first, bool last) {
  if (switches == 0) return first ? OutcomePattern::AlwaysRight : OutcomePattern::NeverLearned;
  if (switches == 1) return last ? OutcomePattern::Learned : OutcomePattern::Forgotten;
  return OutcomePattern::Fluctuating;
}

std::vector<double> doubles_of(const std::vector<unsigned char>& blob) {
  std::vector<double> out(blob.size() / sizeof(double));
  if (!out.empty()) std::memcpy(out.data(), blob.data(), out.size() * sizeof(double));
  return out;
}

std::vector<int64_t> ints_of(const std::vector<unsigned char>& blob) {
  std::vector<int64_t> out(blob.size() / sizeof(int64_t));
  if (!out.empty()) std::memcpy(out.data(), blob.data(), out.size() * sizeof(int64_t));
  return out;
}

}  // namespace

const char* outcome_pattern_name(OutcomePattern p) { return kPatternNames[static_cast<int>(p)]; }

std::optional<OutcomePattern> parse_outcome_pattern(const std::string& name) {
  for (int i = 0; i < kOutcomePatterns; ++i)
    if (name == kPatternNames[i]) return static_cast<OutcomePattern>(i);
  return std::nullopt;
}

OutcomePattern classify_outcomes(const std::vector<bool>& right) {
  FS_ASSERT(!right.empty(), "classify_outcomes of no epochs");
  int64_t switches = 0;
  for (size_t i = 1; i < right.size(); ++i) switches += right[i] != right[i - 1];
  return pattern_of(switches, right.front(), right.back());
}

std::optional<UnitStat> parse_unit_stat(const std::string& name) {
  for (int i = 0; i < 5; ++i)
    if (name == kStatNames[i]) return static_cast<UnitStat>(i);
  return std::nullopt;
}

// ---- writer -----------------------------------------------------------------------------------

RunLogWriter::RunLogWriter(const std::filesystem::path& file, const RunLogSetup& setup, int64_t keep_through_epoch)
    : setup_(setup) {
  FS_CHECK(setup.val_dataset_indices.size() == setup.val_labels.size(), "run log: validation indices and labels differ in length");
  const bool existed = std::filesystem::exists(file);
  db_ = std::make_unique<SqliteDatabase>(file, SqliteDatabase::Mode::kReadWrite);
  SqliteDatabase& db = *db_;
  // WAL: `serve` reads while training writes, and a killed writer leaves the last commit intact.
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (existed) {
    const int64_t version = meta_int(db, "schema_version");
    FS_CHECK(version == kRunLogSchemaVersion, file.string(), ": a run log of schema version ", version,
             ", this filterscope writes version ", kRunLogSchemaVersion, "; move it aside to start a new log");
    setup_.steps_per_epoch = meta_int(db, "steps_per_epoch");
    setup_.log_every = meta_int(db, "log_every");
    setup_.source = meta_value(db, "source");
    std::vector<LogLayer> stored;
    auto q = db.prepare("SELECT name, kind, units, fan_in FROM layers ORDER BY layer");
    while (q.step()) stored.push_back({q.column_text(0), q.column_text(1), q.column_int(2), q.column_int(3)});
    bool same = stored.size() == setup.layers.size();
    for (size_t i = 0; same && i < stored.size(); ++i)
      same = stored[i].name == setup.layers[i].name && stored[i].units == setup.layers[i].units &&
             stored[i].fan_in == setup.layers[i].fan_in;
    FS_CHECK(same, file.string(), ": the log's layers differ from the network's; it belongs to another run");
    auto n = db.prepare("SELECT COUNT(*) FROM val_images");
    n.step();
    FS_CHECK(n.column_int(0) == static_cast<int64_t>(setup.val_labels.size()), file.string(),
             ": the log's validation images differ from the run's");
    // Rows of epochs the resumed run replays would be duplicates: remove them in one transaction.
    SqliteTransaction t(db);
    const int64_t last_kept = keep_through_epoch * setup_.steps_per_epoch;
    db.prepare("DELETE FROM records WHERE iteration > ?1").bind(1, last_kept).run();
    db.prepare("DELETE FROM unit_stats WHERE iteration > ?1").bind(1, last_kept).run();
    db.prepare("DELETE FROM layer_stats WHERE iteration > ?1").bind(1, last_kept).run();
    db.prepare("DELETE FROM unit_values WHERE iteration > ?1").bind(1, last_kept).run();
    db.prepare("DELETE FROM histograms WHERE iteration > ?1").bind(1, last_kept).run();
    db.prepare("DELETE FROM metrics WHERE epoch > ?1").bind(1, keep_through_epoch).run();
    db.prepare("DELETE FROM val_outcomes WHERE epoch > ?1").bind(1, keep_through_epoch).run();
    t.commit();
  } else {
    FS_CHECK(setup.steps_per_epoch > 0 && setup.log_every > 0, "run log: steps per epoch and log interval must be positive");
    SqliteTransaction t(db);
    db.exec(kSchema);
    set_meta(db, "format", "filterscope-run-log");
    set_meta(db, "schema_version", std::to_string(kRunLogSchemaVersion));
    set_meta(db, "steps_per_epoch", std::to_string(setup.steps_per_epoch));
    set_meta(db, "log_every", std::to_string(setup.log_every));
    set_meta(db, "source", setup.source);
    auto layer = db.prepare("INSERT INTO layers(layer, name, kind, units, fan_in) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (size_t i = 0; i < setup.layers.size(); ++i) {
      const LogLayer& l = setup.layers[i];
      layer.bind(1, static_cast<int64_t>(i)).bind(2, l.name).bind(3, l.kind).bind(4, l.units).bind(5, l.fan_in).run();
    }
    auto cls = db.prepare("INSERT INTO classes(label, name) VALUES (?1, ?2)");
    for (size_t i = 0; i < setup.class_names.size(); ++i) cls.bind(1, static_cast<int64_t>(i)).bind(2, setup.class_names[i]).run();
    auto img = db.prepare("INSERT INTO val_images(image, dataset_index, label) VALUES (?1, ?2, ?3)");
    for (size_t i = 0; i < setup.val_labels.size(); ++i)
      img.bind(1, static_cast<int64_t>(i)).bind(2, setup.val_dataset_indices[i]).bind(3, setup.val_labels[i]).run();
    t.commit();
  }
  // Cumulative change per unit as of the last kept record, and each image's right/wrong history.
  path_.assign(setup_.layers.size(), {});
  for (size_t l = 0; l < setup_.layers.size(); ++l) {
    path_[l].assign(static_cast<size_t>(setup_.layers[l].units), 0.0);
    auto q = db.prepare("SELECT chunk, vals FROM unit_values WHERE layer = ?1 AND stat = ?2 AND iteration = "
                        "(SELECT MAX(iteration) FROM records)");
    q.bind(1, static_cast<int64_t>(l)).bind(2, static_cast<int64_t>(UnitStat::Path));
    while (q.step()) {
      const std::vector<double> p = doubles_of(q.column_blob(1));
      const size_t first = static_cast<size_t>(q.column_int(0) * kChunkUnits);
      for (size_t k = 0; k < p.size() && first + k < path_[l].size(); ++k) path_[l][first + k] = p[k];
    }
  }
  images_.assign(setup_.val_labels.size(), {});
  auto q = db.prepare("SELECT image, correct FROM val_outcomes ORDER BY image, epoch");
  while (q.step()) {
    const int64_t i = q.column_int(0);
    if (i < 0 || i >= static_cast<int64_t>(images_.size())) continue;
    ImageState& s = images_[static_cast<size_t>(i)];
    const bool right = q.column_int(1) != 0;
    if (s.epochs == 0) s.first = right;
    else if (right != s.last) ++s.switches;
    s.last = right;
    s.right += right;
    ++s.epochs;
  }
  if (existed) {
    SqliteTransaction t(db);
    db.exec("DELETE FROM image_patterns");
    auto put = db.prepare("INSERT INTO image_patterns(image, label, pattern, switches) VALUES (?1, ?2, ?3, ?4)");
    for (size_t i = 0; i < images_.size(); ++i) {
      const ImageState& s = images_[i];
      if (s.epochs == 0) continue;
      put.bind(1, static_cast<int64_t>(i)).bind(2, setup_.val_labels[i])
          .bind(3, static_cast<int64_t>(pattern_of(s.switches, s.first, s.last))).bind(4, s.switches).run();
    }
    t.commit();
  }
}

RunLogWriter::~RunLogWriter() = default;

bool RunLogWriter::has_record(int64_t iteration) {
  auto q = db_->prepare("SELECT 1 FROM records WHERE iteration = ?1");
  q.bind(1, iteration);
  return q.step();
}

void RunLogWriter::add_record(const WeightRecord& r) {
  FS_ASSERT(r.layers.size() == setup_.layers.size(), "a weight record of ", r.layers.size(), " layers");
  SqliteDatabase& db = *db_;
  SqliteTransaction t(db);
  auto rec = db.prepare("INSERT OR REPLACE INTO records(iteration, epoch, epoch_end, train_loss, train_acc) VALUES (?1, ?2, ?3, ?4, ?5)");
  rec.bind(1, r.iteration).bind(2, r.epoch).bind(3, static_cast<int64_t>(r.epoch_end)).bind(4, r.train_loss).bind(5, r.train_acc).run();
  auto unit = db.prepare(
      "INSERT OR REPLACE INTO unit_stats(layer, unit, iteration, norm, mean, std, change, path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  auto layer = db.prepare(
      "INSERT OR REPLACE INTO layer_stats(layer, iteration, norm_min, norm_max, norm_mean, mean_min, mean_max, mean_mean, "
      "std_min, std_max, std_mean, change_min, change_max, change_mean, path_min, path_max, path_mean) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
  auto values = db.prepare("INSERT OR REPLACE INTO unit_values(layer, stat, chunk, iteration, vals) VALUES (?1, ?2, ?3, ?4, ?5)");
  auto hist = db.prepare("INSERT OR REPLACE INTO histograms(layer, iteration, lo, hi, counts) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerWeightStats& s = r.layers[l];
    FS_ASSERT(static_cast<int64_t>(s.units.size()) == setup_.layers[l].units, "layer ", setup_.layers[l].name, " has ",
              s.units.size(), " units in a record");
    double agg[5][3];
    for (auto& a : agg) a[0] = INFINITY, a[1] = -INFINITY, a[2] = 0;
    std::vector<double> columns[5];
    for (auto& c : columns) c.resize(s.units.size());
    for (size_t u = 0; u < s.units.size(); ++u) {
      const UnitStats& x = s.units[u];
      path_[l][u] += x.change;
      const double v[5] = {x.norm, x.mean, x.std, x.change, path_[l][u]};
      unit.bind(1, static_cast<int64_t>(l)).bind(2, static_cast<int64_t>(u)).bind(3, r.iteration);
      for (int k = 0; k < 5; ++k) {
        unit.bind(4 + k, v[k]);
        columns[k][u] = v[k];
        agg[k][0] = std::min(agg[k][0], v[k]);
        agg[k][1] = std::max(agg[k][1], v[k]);
        agg[k][2] += v[k];
      }
      unit.run();
    }
    const double n = std::max<double>(1, static_cast<double>(s.units.size()));
    layer.bind(1, static_cast<int64_t>(l)).bind(2, r.iteration);
    for (int k = 0; k < 5; ++k) {
      layer.bind(3 + 3 * k, agg[k][0]).bind(4 + 3 * k, agg[k][1]).bind(5 + 3 * k, agg[k][2] / n);
    }
    layer.run();
    for (int k = 0; k < 5; ++k)
      for (size_t first = 0, chunk = 0; first < columns[k].size(); first += kChunkUnits, ++chunk) {
        const size_t count = std::min<size_t>(kChunkUnits, columns[k].size() - first);
        values.bind(1, static_cast<int64_t>(l)).bind(2, static_cast<int64_t>(k)).bind(3, static_cast<int64_t>(chunk))
            .bind(4, r.iteration).bind_blob(5, columns[k].data() + first, count * sizeof(double)).run();
      }
    hist.bind(1, static_cast<int64_t>(l)).bind(2, r.iteration).bind(3, s.hist_lo).bind(4, s.hist_hi)
        .bind_blob(5, s.hist_counts.data(), s.hist_counts.size() * sizeof(int64_t)).run();
  }
  t.commit();
}

void RunLogWriter::add_epoch(const LogEpochMetrics& m, const EpochOutcomes& o) {
  FS_ASSERT(o.predicted.size() == images_.size() && o.true_prob.size() == images_.size(), "epoch outcomes of ",
            o.predicted.size(), " images, the log has ", images_.size());
  SqliteDatabase& db = *db_;
  SqliteTransaction t(db);
  db.prepare("INSERT OR REPLACE INTO metrics(epoch, iteration, train_loss, train_acc, val_loss, val_acc, seconds) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind(1, m.epoch).bind(2, m.iteration).bind(3, m.train_loss).bind(4, m.train_acc).bind(5, m.val_loss)
      .bind(6, m.val_acc).bind(7, m.seconds).run();
  auto out = db.prepare(
      "INSERT OR REPLACE INTO val_outcomes(image, epoch, predicted, correct, true_prob) VALUES (?1, ?2, ?3, ?4, ?5)");
  auto pat = db.prepare("INSERT OR REPLACE INTO image_patterns(image, label, pattern, switches) VALUES (?1, ?2, ?3, ?4)");
  std::vector<ImageState> next = images_;
  for (size_t i = 0; i < next.size(); ++i) {
    const bool right = o.predicted[i] == setup_.val_labels[i];
    out.bind(1, static_cast<int64_t>(i)).bind(2, o.epoch).bind(3, o.predicted[i]).bind(4, static_cast<int64_t>(right))
        .bind(5, o.true_prob[i]).run();
    ImageState& s = next[i];
    const bool first_epoch = s.epochs == 0;
    const int64_t switches = s.switches;
    if (first_epoch) s.first = right;
    else if (right != s.last) ++s.switches;
    s.last = right;
    s.right += right;
    ++s.epochs;
    // The row changes only when the image's pattern can: at its first epoch or when it switches.
    if (first_epoch || s.switches != switches)
      pat.bind(1, static_cast<int64_t>(i)).bind(2, setup_.val_labels[i])
          .bind(3, static_cast<int64_t>(pattern_of(s.switches, s.first, s.last))).bind(4, s.switches).run();
  }
  t.commit();
  images_ = std::move(next);  // only once the rows are in
}

void RunLogWriter::close() {
  // Back to one file, so that readers of the finished log need not create -wal/-shm files beside
  // it. This needs the database to itself; while a reader is in a query it waits (busy timeout)
  // and, failing that, the log simply stays in WAL mode, which is as consistent.
  if (db_) {
    try {
      db_->exec("PRAGMA journal_mode=DELETE");
    } catch (const Error&) {
    }
  }
  db_.reset();
}

void write_track_to_log(const std::filesystem::path& file, const LogTrack& track) {
  SqliteDatabase db(file, SqliteDatabase::Mode::kReadWrite);
  FS_CHECK(meta_int(db, "schema_version") == kRunLogSchemaVersion, file.string(), ": not a run log of schema version ",
           kRunLogSchemaVersion);
  SqliteTransaction t(db);
  db.exec("DELETE FROM track_epochs; DELETE FROM track_layers; DELETE FROM track_filters; DELETE FROM track_outliers;");
  set_meta(db, "track_split", track.split);
  auto e = db.prepare("INSERT INTO track_epochs(epoch, anomaly_filters, outlier_samples) VALUES (?1, ?2, ?3)");
  for (const auto& x : track.epochs) e.bind(1, x.epoch).bind(2, x.anomaly_filters).bind(3, x.outlier_samples).run();
  auto l = db.prepare("INSERT OR REPLACE INTO track_layers(epoch, probe, layer, anomaly_filters, filters) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const auto& x : track.layers) l.bind(1, x.epoch).bind(2, x.probe).bind(3, x.layer).bind(4, x.anomaly_filters).bind(5, x.filters).run();
  auto f = db.prepare("INSERT OR REPLACE INTO track_filters(epoch, probe, layer, unit) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& x : track.filters) f.bind(1, x.epoch).bind(2, x.probe).bind(3, x.layer).bind(4, x.unit).run();
  auto o = db.prepare("INSERT OR REPLACE INTO track_outliers(epoch, dataset_index, label, prediction, filters, label_replaced) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (const auto& x : track.outliers)
    o.bind(1, x.epoch).bind(2, x.dataset_index).bind(3, x.label).bind(4, x.prediction).bind(5, x.filters).bind(6, x.label_replaced).run();
  t.commit();
}

void write_signals_to_log(const std::filesystem::path& file, const LogSignals& signals) {
  SqliteDatabase db(file, SqliteDatabase::Mode::kReadWrite);
  FS_CHECK(meta_int(db, "schema_version") == kRunLogSchemaVersion, file.string(), ": not a run log of schema version ",
           kRunLogSchemaVersion);
  SqliteTransaction t(db);
  db.exec(kSignalSchema);
  db.exec("DELETE FROM signal_values; DELETE FROM signal_stops;");
  auto v = db.prepare("INSERT OR REPLACE INTO signal_values(name, epoch, value, smoothed) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& x : signals.values) {
    v.bind(1, x.name).bind(2, x.epoch);
    if (std::isfinite(x.value)) v.bind(3, x.value); else v.bind_null(3);
    if (std::isfinite(x.smoothed)) v.bind(4, x.smoothed); else v.bind_null(4);
    v.run();
  }
  auto s = db.prepare("INSERT OR REPLACE INTO signal_stops(name, rule, predicted_epoch, fired_at) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& x : signals.stops) s.bind(1, x.name).bind(2, x.rule).bind(3, x.predicted_epoch).bind(4, x.fired_at).run();
  t.commit();
}

// ---- reader -----------------------------------------------------------------------------------

RunLogReader::RunLogReader(const std::filesystem::path& file) {
  db_ = std::make_unique<SqliteDatabase>(file, SqliteDatabase::Mode::kReadOnly);
  std::string format;
  try {
    format = meta_value(*db_, "format");
  } catch (const Error& e) {
    throw Error(detail::concat(file.string(), ": not a filterscope run log (", e.what(), ")"));
  }
  FS_CHECK(format == "filterscope-run-log", file.string(), ": not a filterscope run log");
  // Pages straight from the OS page cache instead of a read() and a copy each: most of a query's
  // time on a cold connection (serve opens one per request) otherwise.
  db_->exec("PRAGMA mmap_size=1073741824");
  const int64_t version = meta_int(*db_, "schema_version");
  FS_CHECK(version == kRunLogSchemaVersion, file.string(), ": run log schema version ", version, "; this filterscope reads version ",
           kRunLogSchemaVersion);
}

RunLogReader::~RunLogReader() = default;

RunLogSummary RunLogReader::summary() {
  SqliteDatabase& db = *db_;
  RunLogSummary s;
  s.schema_version = meta_int(db, "schema_version");
  s.source = meta_value(db, "source");
  s.steps_per_epoch = meta_int(db, "steps_per_epoch");
  s.log_every = meta_int(db, "log_every");
  auto r = db.prepare("SELECT COUNT(*), COALESCE(MIN(iteration), 0), COALESCE(MAX(iteration), 0) FROM records");
  r.step();
  s.records = r.column_int(0);
  s.first_iteration = r.column_int(1);
  s.last_iteration = r.column_int(2);
  auto e = db.prepare("SELECT COALESCE(MAX(epoch), 0) FROM metrics");
  e.step();
  s.epochs = e.column_int(0);
  auto i = db.prepare("SELECT COUNT(*) FROM val_images");
  i.step();
  s.images = i.column_int(0);
  auto c = db.prepare("SELECT name FROM classes ORDER BY label");
  while (c.step()) s.class_names.push_back(c.column_text(0));
  auto t = db.prepare("SELECT COUNT(*) FROM track_epochs");
  t.step();
  s.has_track = t.column_int(0) > 0;
  return s;
}

std::vector<LogLayer> RunLogReader::layers() {
  std::vector<LogLayer> out;
  auto q = db_->prepare("SELECT layer, name, kind, units, fan_in FROM layers ORDER BY layer");
  while (q.step()) {
    // The queries size their answers by these numbers and address layers by position: a damaged or
    // crafted log is refused here rather than allocating what it says.
    const int64_t layer = q.column_int(0), units = q.column_int(3), fan_in = q.column_int(4);
    FS_CHECK(layer == static_cast<int64_t>(out.size()), db_->file().string(), ": the layers table is damaged (layer ", layer,
             " where ", out.size(), " belongs)");
    FS_CHECK(units >= 0 && units <= kMaxLogUnits && fan_in >= 0, db_->file().string(), ": the layers table is damaged (layer ",
             layer, " has ", units, " units and fan-in ", fan_in, ")");
    out.push_back({q.column_text(1), q.column_text(2), units, fan_in});
  }
  return out;
}

std::vector<SeriesBucket> RunLogReader::series(int64_t layer, UnitStat stat, int64_t from, int64_t to, int64_t points,
                                               const std::vector<int64_t>& units) {
  FS_ASSERT(points > 0 && to >= from, "series of ", points, " points over [", from, ", ", to, "]");
  const std::string name = kStatNames[static_cast<int>(stat)];
  // Rows come in key order, not bucket order: folding them here is several times faster than
  // SQLite's GROUP BY, which sorts them first.
  // Up to a few units: their rows of unit_stats. More: the layer's record-major blobs, one row per
  // record whatever the group's size. Without units: the layer's aggregates.
  constexpr size_t kRowsUpTo = 4;
  const bool blobs = units.size() > kRowsUpTo;
  std::string sql;
  if (units.empty()) {
    sql = "SELECT iteration, " + name + "_min, " + name + "_max, " + name +
          "_mean FROM layer_stats WHERE layer = ?1 AND iteration BETWEEN ?2 AND ?3";
  } else if (blobs) {
    sql = "SELECT iteration, vals, chunk FROM unit_values WHERE layer = ?1 AND stat = ?5 AND chunk IN "
          "(SELECT value FROM json_each(?4)) AND iteration BETWEEN ?2 AND ?3";
  } else {
    sql = "SELECT iteration, " + name + " FROM unit_stats WHERE layer = ?1 "
          "AND unit IN (SELECT value FROM json_each(?4)) AND iteration BETWEEN ?2 AND ?3";
  }
  auto q = db_->prepare(sql);
  q.bind(1, layer).bind(2, from).bind(3, to);
  // Per chunk, the positions of the wanted units inside its blob.
  std::map<int64_t, std::vector<size_t>> members;
  for (int64_t u : units)
    if (u >= 0) members[u / kChunkUnits].push_back(static_cast<size_t>(u % kChunkUnits));
  if (blobs) {
    std::vector<int64_t> chunks;
    for (const auto& [chunk, offsets] : members) chunks.push_back(chunk);
    q.bind(4, nlohmann::json(chunks).dump()).bind(5, static_cast<int64_t>(stat));
  } else if (!units.empty()) {
    q.bind(4, nlohmann::json(units).dump());
  }
  const int64_t width = to - from + 1;
  const int64_t slots = std::min<int64_t>(points, width);
  std::vector<SeriesBucket> buckets(static_cast<size_t>(slots));
  std::vector<double> sums(buckets.size(), 0.0);
  const auto add = [&](size_t k, int64_t it, double lo, double hi, double sum, int64_t count) {
    SeriesBucket& b = buckets[k];
    if (b.count == 0) {
      b.first_iteration = b.last_iteration = it;
      b.min = lo, b.max = hi;
    }
    b.first_iteration = std::min(b.first_iteration, it);
    b.last_iteration = std::max(b.last_iteration, it);
    b.min = std::min(b.min, lo);
    b.max = std::max(b.max, hi);
    sums[k] += sum;
    b.count += count;
  };
  while (q.step()) {
    const int64_t it = q.column_int(0);
    // The bucket of an iteration: its position in [from, to] scaled to [0, slots).
    const auto k = static_cast<size_t>((it - from) * slots / width);  // no overflow: the API bounds both
    if (k >= buckets.size()) continue;
    if (units.empty()) {
      add(k, it, q.column_double(1), q.column_double(2), q.column_double(3), 1);
    } else if (!blobs) {
      const double v = q.column_double(1);
      add(k, it, v, v, v, 1);
    } else {
      // Straight from SQLite's buffer: the mapped page itself, as a chunk fits in one.
      const auto [data, bytes] = q.column_blob_view(1);
      const size_t count = bytes / sizeof(double);
      const auto found = members.find(q.column_int(2));
      if (found == members.end()) continue;
      double lo = INFINITY, hi = -INFINITY, sum = 0;
      int64_t n = 0;
      for (size_t offset : found->second) {
        if (offset >= count) continue;
        double v;
        std::memcpy(&v, static_cast<const char*>(data) + offset * sizeof(double), sizeof v);
        lo = std::min(lo, v), hi = std::max(hi, v), sum += v, ++n;
      }
      if (n > 0) add(k, it, lo, hi, sum, n);
    }
  }
  std::vector<SeriesBucket> out;
  for (size_t k = 0; k < buckets.size(); ++k)
    if (buckets[k].count > 0) {
      buckets[k].mean = sums[k] / static_cast<double>(buckets[k].count);
      out.push_back(buckets[k]);
    }
  return out;
}

std::vector<UnitChange> RunLogReader::changes(int64_t layer, int64_t from, int64_t to) {
  // The records nearest at or before each end (the first record when none is before `from`).
  auto at_or_before = [&](int64_t iteration) {
    auto q = db_->prepare("SELECT COALESCE((SELECT MAX(iteration) FROM records WHERE iteration <= ?1), "
                          "(SELECT MIN(iteration) FROM records))");
    q.bind(1, iteration);
    q.step();
    return q.column_is_null(0) ? int64_t{-1} : q.column_int(0);
  };
  const int64_t a = at_or_before(from), b = at_or_before(to);
  std::vector<UnitChange> out;
  if (a < 0 || b < 0) return out;
  const std::vector<LogLayer> all = layers();
  std::map<int64_t, std::vector<double>> start, end;
  auto q = db_->prepare("SELECT chunk, iteration, vals FROM unit_values WHERE layer = ?1 AND stat = ?2 AND chunk = ?3 "
                        "AND iteration IN (?4, ?5)");
  for (int64_t l = 0; l < static_cast<int64_t>(all.size()); ++l) {
    if (layer >= 0 && l != layer) continue;
    const int64_t units = all[static_cast<size_t>(l)].units;
    std::vector<double>& s = start[l];
    std::vector<double>& e = end[l];
    s.assign(static_cast<size_t>(units), 0.0);
    e.assign(static_cast<size_t>(units), 0.0);
    bool any = false;
    for (int64_t chunk = 0; chunk * kChunkUnits < units; ++chunk) {
      q.reset();
      q.bind(1, l).bind(2, static_cast<int64_t>(UnitStat::Path)).bind(3, chunk).bind(4, a).bind(5, b);
      while (q.step()) {
        const std::vector<double> p = doubles_of(q.column_blob(2));
        const size_t first = static_cast<size_t>(chunk * kChunkUnits);
        for (size_t k = 0; k < p.size() && first + k < s.size(); ++k) {
          if (q.column_int(1) == a) s[first + k] = p[k];
          if (q.column_int(1) == b) e[first + k] = p[k];
        }
        any = any || q.column_int(1) == b;
      }
    }
    if (!any) end.erase(l);
  }
  for (const auto& [l, p] : end) {
    const auto s = start.find(l);
    for (size_t u = 0; u < p.size(); ++u)
      out.push_back({l, static_cast<int64_t>(u), p[u] - (s != start.end() && u < s->second.size() ? s->second[u] : 0.0)});
  }
  return out;
}

std::vector<LogEpochMetrics> RunLogReader::metrics() {
  std::vector<LogEpochMetrics> out;
  auto q = db_->prepare("SELECT epoch, iteration, train_loss, train_acc, val_loss, val_acc, seconds FROM metrics ORDER BY epoch");
  while (q.step())
    out.push_back({q.column_int(0), q.column_int(1), q.column_double(2), q.column_double(3), q.column_double(4),
                   q.column_double(5), q.column_double(6)});
  return out;
}

namespace {
constexpr const char* kHistorySql = "SELECT epoch, predicted, true_prob FROM val_outcomes WHERE image = ?1 ORDER BY epoch";

void fill_history(SqliteStatement& q, CubeImage& image, const std::vector<int64_t>& epochs) {
  q.reset();
  q.bind(1, image.image);
  image.predicted.assign(epochs.size(), -1);
  image.true_prob.assign(epochs.size(), NAN);
  while (q.step()) {
    const auto it = std::lower_bound(epochs.begin(), epochs.end(), q.column_int(0));
    if (it == epochs.end() || *it != q.column_int(0)) continue;
    const size_t k = static_cast<size_t>(it - epochs.begin());
    image.predicted[k] = q.column_int(1);
    image.true_prob[k] = q.column_double(2);
  }
}

std::vector<int64_t> logged_epochs(SqliteDatabase& db) {
  std::vector<int64_t> epochs;
  auto q = db.prepare("SELECT epoch FROM metrics ORDER BY epoch");
  while (q.step()) epochs.push_back(q.column_int(0));
  return epochs;
}
}  // namespace

CubePage RunLogReader::cube(int64_t label, std::optional<OutcomePattern> pattern, int64_t offset, int64_t limit) {
  SqliteDatabase& db = *db_;
  CubePage page;
  page.epochs = logged_epochs(db);
  page.pattern_counts.assign(kOutcomePatterns, 0);
  // Separate texts with and without a class, so that SQLite uses the (label, pattern) index.
  auto c = db.prepare(label < 0 ? "SELECT pattern, COUNT(*) FROM image_patterns GROUP BY pattern"
                                : "SELECT pattern, COUNT(*) FROM image_patterns WHERE label = ?1 GROUP BY pattern");
  if (label >= 0) c.bind(1, label);
  while (c.step())
    if (c.column_int(0) >= 0 && c.column_int(0) < kOutcomePatterns)
      page.pattern_counts[static_cast<size_t>(c.column_int(0))] = c.column_int(1);
  const int64_t wanted = pattern ? static_cast<int64_t>(*pattern) : -1;
  for (int p = 0; p < kOutcomePatterns; ++p)
    if (wanted < 0 || wanted == p) page.total += page.pattern_counts[static_cast<size_t>(p)];
  std::string where;
  if (label >= 0) where += " AND p.label = ?1";
  if (wanted >= 0) where += " AND p.pattern = ?2";
  auto q = db.prepare("SELECT p.image, v.dataset_index, p.label, p.pattern FROM image_patterns p JOIN val_images v ON v.image = p.image "
                      "WHERE 1" + where + " ORDER BY p.pattern, p.image LIMIT ?3 OFFSET ?4");
  if (label >= 0) q.bind(1, label);
  if (wanted >= 0) q.bind(2, wanted);
  q.bind(3, limit).bind(4, offset);
  while (q.step()) {
    CubeImage image;
    image.image = q.column_int(0);
    image.dataset_index = q.column_int(1);
    image.label = q.column_int(2);
    image.pattern = static_cast<OutcomePattern>(std::clamp<int64_t>(q.column_int(3), 0, kOutcomePatterns - 1));
    page.images.push_back(image);
  }
  auto history = db.prepare(kHistorySql);
  for (CubeImage& image : page.images) fill_history(history, image, page.epochs);
  return page;
}

std::optional<CubeImage> RunLogReader::image(int64_t index) {
  SqliteDatabase& db = *db_;
  auto q = db.prepare("SELECT v.image, v.dataset_index, v.label, COALESCE(p.pattern, 0) FROM val_images v "
                      "LEFT JOIN image_patterns p ON p.image = v.image WHERE v.image = ?1");
  q.bind(1, index);
  if (!q.step()) return std::nullopt;
  CubeImage image;
  image.image = q.column_int(0);
  image.dataset_index = q.column_int(1);
  image.label = q.column_int(2);
  image.pattern = static_cast<OutcomePattern>(std::clamp<int64_t>(q.column_int(3), 0, kOutcomePatterns - 1));
  auto history = db.prepare(kHistorySql);
  fill_history(history, image, logged_epochs(db));
  return image;
}

std::optional<LogHistogram> RunLogReader::histogram(int64_t layer, int64_t iteration) {
  auto q = db_->prepare("SELECT iteration, lo, hi, counts FROM histograms WHERE layer = ?1 AND iteration <= ?2 "
                        "ORDER BY iteration DESC LIMIT 1");
  q.bind(1, layer).bind(2, iteration);
  if (!q.step()) return std::nullopt;
  return LogHistogram{q.column_int(0), q.column_double(1), q.column_double(2), ints_of(q.column_blob(3))};
}

LogTrack RunLogReader::track() {
  SqliteDatabase& db = *db_;
  LogTrack t;
  t.split = meta_value(db, "track_split");
  auto e = db.prepare("SELECT epoch, anomaly_filters, outlier_samples FROM track_epochs ORDER BY epoch");
  while (e.step()) t.epochs.push_back({e.column_int(0), e.column_int(1), e.column_int(2)});
  auto l = db.prepare("SELECT epoch, probe, layer, anomaly_filters, filters FROM track_layers ORDER BY epoch, probe");
  while (l.step()) t.layers.push_back({l.column_int(0), l.column_text(1), l.column_text(2), l.column_int(3), l.column_int(4)});
  auto f = db.prepare("SELECT epoch, probe, layer, unit FROM track_filters ORDER BY epoch, probe, unit");
  while (f.step()) t.filters.push_back({f.column_int(0), f.column_text(1), f.column_text(2), f.column_int(3)});
  auto o = db.prepare("SELECT epoch, dataset_index, label, prediction, filters, label_replaced FROM track_outliers "
                      "ORDER BY epoch, filters DESC, dataset_index");
  while (o.step())
    t.outliers.push_back({o.column_int(0), o.column_int(1), o.column_int(2), o.column_int(3), o.column_int(4), o.column_int(5)});
  return t;
}

LogSignals RunLogReader::signals() {
  SqliteDatabase& db = *db_;
  LogSignals out;
  auto exists = db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'signal_values'");
  exists.step();
  if (exists.column_int(0) == 0) return out;  // a log from before the signal tables
  auto v = db.prepare("SELECT name, epoch, value, smoothed FROM signal_values ORDER BY name, epoch");
  while (v.step()) out.values.push_back({v.column_text(0), v.column_int(1), v.column_double(2), v.column_double(3)});
  auto s = db.prepare("SELECT name, rule, predicted_epoch, fired_at FROM signal_stops ORDER BY name");
  while (s.step()) out.stops.push_back({s.column_text(0), s.column_text(1), s.column_int(2), s.column_int(3)});
  return out;
}

}  // namespace filterscope
