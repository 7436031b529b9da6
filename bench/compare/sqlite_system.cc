// SQLite as a queue table, in process: one database file in WAL mode, a table
// `p<n>(id INTEGER PRIMARY KEY, key BLOB, value BLOB)` per partition, synchronous NORMAL
// (the WAL is fsynced only at checkpoints) or FULL for the durable rows (fsync at every
// commit). A connection per thread; SQLite lets one writer in at a time.
//   produce: kTxnRecords inserts per transaction (the producer's batch; a commit is the ack)
//   consume: SELECT ... WHERE id > ? LIMIT 1000 per table in turn, each batch followed by
//            an upsert of the reader's position into an `offsets` table (the commit);
//            rows are kept, as in a log. SQLite has no consumer groups: the group of two
//            is two readers on two threads with the tables split between them
//   latency: one table, an autocommit INSERT per record, the reader polling
#include <sqlite3.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <thread>

#include "bench/compare/system.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kTxnRecords = 512;
constexpr int kReadBatch = 1000;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

absl::Status Check(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return absl::OkStatus();
  return absl::InternalError(fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const std::string& sql) {
  return Check(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql);
}

absl::StatusOr<Db> OpenDb(const std::string& path, bool durable) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  Db db(raw);
  if (absl::Status s = Check(db.get(), rc, "open"); !s.ok()) return s;
  sqlite3_busy_timeout(db.get(), 30000);
  for (const std::string& sql : {std::string("PRAGMA journal_mode=WAL"),
                                 fmt::format("PRAGMA synchronous={}", durable ? "FULL" : "NORMAL")}) {
    if (absl::Status s = Exec(db.get(), sql); !s.ok()) return s;
  }
  return db;
}

absl::StatusOr<Stmt> Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (absl::Status s = Check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr), sql); !s.ok()) return s;
  return Stmt(raw);
}

absl::Status CreateTables(sqlite3* db, int partitions) {
  for (int p = 0; p < partitions; ++p) {
    if (absl::Status s = Exec(db, fmt::format("CREATE TABLE p{} (id INTEGER PRIMARY KEY, key BLOB, value BLOB)", p));
        !s.ok()) {
      return s;
    }
  }
  return Exec(db, "CREATE TABLE offsets (reader TEXT, part INTEGER, pos INTEGER, PRIMARY KEY (reader, part))");
}

absl::StatusOr<int64_t> InsertOn(const std::string& path, bool durable, int partitions, size_t value_size,
                                 uint64_t seq, int64_t quota, Clock::time_point deadline,
                                 std::atomic<int64_t>* progress) {
  absl::StatusOr<Db> db = OpenDb(path, durable);
  if (!db.ok()) return db.status();
  std::vector<Stmt> inserts;
  for (int p = 0; p < partitions; ++p) {
    absl::StatusOr<Stmt> st = Prepare(db->get(), fmt::format("INSERT INTO p{} (key, value) VALUES (?, ?)", p));
    if (!st.ok()) return st.status();
    inserts.push_back(std::move(*st));
  }
  const RecordPool& pool = RecordPool::Get(value_size);
  int64_t n = 0;
  while (n < quota && Clock::now() < deadline) {
    if (absl::Status s = Exec(db->get(), "BEGIN IMMEDIATE"); !s.ok()) return s;
    const int64_t end = std::min(quota, n + kTxnRecords);
    for (; n < end; ++n) {
      const BenchRecord& r = pool.at(seq++);
      sqlite3_stmt* ins = inserts[static_cast<size_t>(PartitionOf(r.key, partitions))].get();
      sqlite3_bind_blob(ins, 1, r.key.data(), static_cast<int>(r.key.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 2, r.value.data(), static_cast<int>(r.value.size()), SQLITE_STATIC);
      const int rc = sqlite3_step(ins);
      sqlite3_reset(ins);
      if (absl::Status s = Check(db->get(), rc, "insert"); !s.ok()) return s;
    }
    if (absl::Status s = Exec(db->get(), "COMMIT"); !s.ok()) return s;
    if (progress != nullptr) progress->fetch_add(kTxnRecords);
  }
  return n;
}

// Reads tables `parts` from the start, committing its position after every batch, until
// they hold no more rows. Returns the rows read.
absl::StatusOr<int64_t> ReadTables(const std::string& path, const std::string& reader, const std::vector<int>& parts,
                                   uint64_t* touched, std::atomic<int64_t>* progress) {
  absl::StatusOr<Db> db = OpenDb(path, false);
  if (!db.ok()) return db.status();
  absl::StatusOr<Stmt> commit = Prepare(db->get(), "INSERT OR REPLACE INTO offsets VALUES (?, ?, ?)");
  if (!commit.ok()) return commit.status();
  std::vector<Stmt> selects;
  std::vector<int64_t> pos(parts.size(), 0);
  for (int p : parts) {
    absl::StatusOr<Stmt> st =
        Prepare(db->get(), fmt::format("SELECT id, key, value FROM p{} WHERE id > ? ORDER BY id LIMIT {}", p, kReadBatch));
    if (!st.ok()) return st.status();
    selects.push_back(std::move(*st));
  }
  int64_t total = 0;
  for (bool more = true; more;) {
    more = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      sqlite3_stmt* sel = selects[i].get();
      sqlite3_bind_int64(sel, 1, pos[i]);
      int64_t got = 0;
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        pos[i] = sqlite3_column_int64(sel, 0);
        *touched += static_cast<uint64_t>(sqlite3_column_bytes(sel, 1) + sqlite3_column_bytes(sel, 2));
        ++got;
      }
      sqlite3_reset(sel);
      if (absl::Status s = Check(db->get(), rc, "select"); !s.ok()) return s;
      if (got == 0) continue;
      more = true;
      total += got;
      if (progress != nullptr) progress->fetch_add(got);
      sqlite3_stmt* c = commit->get();
      sqlite3_bind_text(c, 1, reader.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int(c, 2, parts[i]);
      sqlite3_bind_int64(c, 3, pos[i]);
      rc = sqlite3_step(c);
      sqlite3_reset(c);
      if (absl::Status s = Check(db->get(), rc, "commit position"); !s.ok()) return s;
    }
  }
  return total;
}

class SqliteSystem : public System {
 public:
  std::string name() const override { return "SQLite WAL"; }
  std::string durability(bool durable) const override {
    return durable ? "synchronous FULL: fsync at every commit (512 records)"
                   : "synchronous NORMAL: fsync at checkpoints only";
  }
  std::string version() const override { return fmt::format("SQLite {}", sqlite3_libversion()); }

  absl::StatusOr<RunFigures> Produce(const ProduceCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    const std::string path = dir.Sub("queue.db");
    absl::StatusOr<Db> db = OpenDb(path, c.durable);
    if (!db.ok()) return db.status();
    if (absl::Status s = CreateTables(db->get(), c.partitions); !s.ok()) return s;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(c.max_seconds));
    return TimeThreads(c, [&](int t) {
      return InsertOn(path, c.durable, c.partitions, c.value_size, static_cast<uint64_t>(t) * 4096, QuotaOf(c, t),
                      deadline, c.progress);
    });
  }

  absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    const std::string path = dir.Sub("queue.db");
    absl::StatusOr<Db> db = OpenDb(path, false);
    if (!db.ok()) return db.status();
    if (absl::Status s = CreateTables(db->get(), c.partitions); !s.ok()) return s;
    absl::StatusOr<int64_t> filled =
        InsertOn(path, false, c.partitions, kValueSize, 0, c.records, Clock::time_point::max(), nullptr);
    if (!filled.ok()) return filled.status();
    ConsumeFigures figures;
    for (int members : {1, 2}) {
      std::vector<std::vector<int>> parts(static_cast<size_t>(members));
      for (int p = 0; p < c.partitions; ++p) parts[static_cast<size_t>(p % members)].push_back(p);
      std::vector<absl::StatusOr<int64_t>> got(static_cast<size_t>(members), int64_t{0});
      std::vector<uint64_t> touched(static_cast<size_t>(members), 0);
      const auto start = Clock::now();
      std::vector<std::thread> threads;
      for (int m = 0; m < members; ++m) {
        threads.emplace_back([&, m] {
          const auto i = static_cast<size_t>(m);
          got[i] = ReadTables(path, fmt::format("g{}-{}", members, m), parts[i], &touched[i], c.progress);
        });
      }
      for (auto& t : threads) t.join();
      RunFigures& f = members == 1 ? figures.one : figures.group;
      f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      for (size_t i = 0; i < got.size(); ++i) {
        if (!got[i].ok()) return got[i].status();
        f.records += *got[i];
        f.bytes += touched[i];
      }
    }
    return figures;
  }

  absl::StatusOr<LatencyRun> Latency(const LatencyCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    const std::string path = dir.Sub("queue.db");
    absl::StatusOr<Db> writer = OpenDb(path, false);
    if (!writer.ok()) return writer.status();
    if (absl::Status s = CreateTables(writer->get(), 1); !s.ok()) return s;
    absl::StatusOr<Db> reader = OpenDb(path, false);
    if (!reader.ok()) return reader.status();
    absl::StatusOr<Stmt> insert = Prepare(writer->get(), "INSERT INTO p0 (key, value) VALUES (?, ?)");
    absl::StatusOr<Stmt> select = Prepare(reader->get(), "SELECT id, value FROM p0 WHERE id > ? ORDER BY id LIMIT 1000");
    if (!insert.ok()) return insert.status();
    if (!select.ok()) return select.status();
    int64_t pos = 0;
    LatencyHooks hooks;
    hooks.send = [&](std::string_view key, std::string_view value) {
      sqlite3_stmt* ins = insert->get();
      sqlite3_bind_blob(ins, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      const int rc = sqlite3_step(ins);
      sqlite3_reset(ins);
      return Check(writer->get(), rc, "insert");
    };
    hooks.flush = [] { return absl::OkStatus(); };
    hooks.receive = [&](std::vector<int64_t>* scheduled) {
      sqlite3_stmt* sel = select->get();
      sqlite3_bind_int64(sel, 1, pos);
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        pos = sqlite3_column_int64(sel, 0);
        scheduled->push_back(ScheduledOf(sqlite3_column_blob(sel, 1)));
      }
      sqlite3_reset(sel);
      if (scheduled->empty()) std::this_thread::yield();
      return Check(reader->get(), rc, "select");
    };
    return RunPeerLatency(c, hooks);
  }
};

}  // namespace

std::unique_ptr<System> MakeSqliteSystem() { return std::make_unique<SqliteSystem>(); }

}  // namespace runnel::bench
