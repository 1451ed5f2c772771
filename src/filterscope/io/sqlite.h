// A thin RAII layer over SQLite's C API (Debian's libsqlite3-dev): a connection, prepared statements
// with typed binds and columns, and transactions. Every SQL text with outside values goes through
// bind(): parameters are data, never SQL. Errors become filterscope::Error naming the database file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace filterscope {

class SqliteStatement;

/// One connection to one database file.
class SqliteDatabase {
 public:
  enum class Mode {
    kReadOnly,   ///< never writes or creates anything; fails when the file does not exist
    kReadWrite,  ///< creates the file when it does not exist
  };
  SqliteDatabase(const std::filesystem::path& file, Mode mode);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  /// Runs one or more statements without parameters (schema, pragmas).
  void exec(const std::string& sql);
  SqliteStatement prepare(const std::string& sql);
  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

  /// Throws Error "FILE: what (SQLite's message)" when rc is not OK/ROW/DONE.
  void check(int rc, const char* what) const;

 private:
  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
};

/// A prepared statement. bind() indices start at 1, column() indices at 0.
class SqliteStatement {
 public:
  SqliteStatement(SqliteDatabase& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, const std::string& value);
  SqliteStatement& bind_blob(int index, const void* data, size_t bytes);
  SqliteStatement& bind_null(int index);
  /// True while a row is available; false once the statement is done.
  bool step();
  /// step() for a statement that returns no rows.
  void run();
  /// Ready to run again with new binds.
  void reset();

  int64_t column_int(int index) const;
  double column_double(int index) const;  ///< NaN for NULL
  std::string column_text(int index) const;
  std::vector<unsigned char> column_blob(int index) const;
  /// A blob's bytes where SQLite holds them: valid until the next step() or reset().
  std::pair<const void*, size_t> column_blob_view(int index) const;
  bool column_is_null(int index) const;

 private:
  SqliteDatabase* db_;
  sqlite3_stmt* stmt_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDatabase& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDatabase& db_;
  bool done_ = false;
};

}  // namespace filterscope
