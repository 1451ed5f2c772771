#include "filterscope/io/sqlite.h"

#include <sqlite3.h>

#include <cmath>

#include "filterscope/core/error.h"
#include "filterscope/core/text.h"

namespace filterscope {
namespace {
// SQLite's messages quote the database's own text (a damaged schema's SQL, line breaks and all):
// printable keeps a refusal one line, cut at this length.
constexpr size_t kMessageChars = 160;
}  // namespace

SqliteDatabase::SqliteDatabase(const std::filesystem::path& file, Mode mode) : file_(file) {
  if (mode == Mode::kReadOnly)
    FS_CHECK(std::filesystem::is_regular_file(file), file.string(), ": no such database file");
  const int flags = (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = printable(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), kMessageChars);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(detail::concat(file.string(), ": cannot open the database (", message, ")"));
  }
  // A writer holding its lock briefly (a transaction at a log point) makes readers wait, not fail.
  sqlite3_busy_timeout(db_, 5000);
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

void SqliteDatabase::check(int rc, const char* what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  throw Error(detail::concat(file_.string(), ": ", what, " failed (", printable(sqlite3_errmsg(db_), kMessageChars), ")"));
}

void SqliteDatabase::exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = printable(message ? message : sqlite3_errstr(rc), kMessageChars);
    sqlite3_free(message);
    throw Error(detail::concat(file_.string(), ": ", text));
  }
}

SqliteStatement SqliteDatabase::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  check(sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr), "preparing a query");
  return SqliteStatement(*this, stmt);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  db_->check(sqlite3_bind_int64(stmt_, index, value), "binding a value");
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, double value) {
  db_->check(std::isfinite(value) ? sqlite3_bind_double(stmt_, index, value) : sqlite3_bind_null(stmt_, index),
             "binding a value");
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, const std::string& value) {
  db_->check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT),
             "binding a value");
  return *this;
}
SqliteStatement& SqliteStatement::bind_blob(int index, const void* data, size_t bytes) {
  db_->check(sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes), SQLITE_TRANSIENT), "binding a value");
  return *this;
}
SqliteStatement& SqliteStatement::bind_null(int index) {
  db_->check(sqlite3_bind_null(stmt_, index), "binding a value");
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  db_->check(rc, "a query");
  return rc == SQLITE_ROW;
}

void SqliteStatement::run() {
  while (step()) {
  }
  reset();
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
double SqliteStatement::column_double(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL ? NAN : sqlite3_column_double(stmt_, index);
}
std::string SqliteStatement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, index)))
              : std::string();
}
std::vector<unsigned char> SqliteStatement::column_blob(int index) const {
  const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, index));
  return data ? std::vector<unsigned char>(data, data + sqlite3_column_bytes(stmt_, index)) : std::vector<unsigned char>();
}
std::pair<const void*, size_t> SqliteStatement::column_blob_view(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  return {data, data ? static_cast<size_t>(sqlite3_column_bytes(stmt_, index)) : 0};
}
bool SqliteStatement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

SqliteTransaction::SqliteTransaction(SqliteDatabase& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
SqliteTransaction::~SqliteTransaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}
void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace filterscope
