// Redis Streams, through hiredis, against a redis-server this driver starts for each run
// (127.0.0.1, a free port, AOF in a temporary directory; `appendfsync everysec`, or
// `always` for the durable rows; RDB snapshots and automatic AOF rewrites off so that no
// fork runs during a measurement). A partition is a stream `s<p>`; a record is one XADD
// entry with its key as the field name and its value as the field's value.
//   produce: XADD pipelined, at most kWindow commands in flight per connection (thread)
//   consume: XREADGROUP COUNT 1000 over every stream, then XACK of the ids read, sent in the
//            same round trip as the next XREADGROUP; a group of two is two consumers of one
//            group on two connections
//   latency: one stream; XADD pipelined by the sender, XREADGROUP BLOCK by the reader
#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "bench/compare/server_process.h"
#include "bench/compare/system.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWindow = 1024;        // pipelined commands in flight per connection
constexpr int kReadCount = 1000;     // entries per stream per XREADGROUP

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::StatusOr<Context> Connect(int port) {
  Context c(redisConnect("127.0.0.1", port));
  if (c == nullptr || c->err != 0) {
    return absl::UnavailableError(fmt::format("redis connect: {}", c ? c->errstr : "out of memory"));
  }
  return c;
}

// The next reply on `c`; an error reply is an error.
absl::StatusOr<Reply> NextReply(redisContext* c) {
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK) return absl::UnavailableError(fmt::format("redis: {}", c->errstr));
  Reply r(static_cast<redisReply*>(raw));
  if (r->type == REDIS_REPLY_ERROR) return absl::InternalError(fmt::format("redis: {}", r->str));
  return r;
}

absl::Status Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
  return NextReply(c).status();
}

void AppendXadd(redisContext* c, const std::string& stream, std::string_view key, std::string_view value) {
  const char* argv[] = {"XADD", stream.data(), "*", key.data(), value.data()};
  const size_t lens[] = {4, stream.size(), 1, key.size(), value.size()};
  redisAppendCommandArgv(c, 5, argv, lens);
}

// One redis-server and what it takes to run it.
class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(bool durable) {
    const std::string program = FindProgram("redis-server");
    if (program.empty()) return absl::NotFoundError("redis-server is not installed");
    auto server = std::unique_ptr<Server>(new Server());
    if (!server->dir_.status().ok()) return server->dir_.status();
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    absl::StatusOr<ServerProcess> p = ServerProcess::Start(
        {program, "--bind", "127.0.0.1", "--port", std::to_string(*port), "--dir", server->dir_.path(),
         "--appendonly", "yes", "--appendfsync", durable ? "always" : "everysec", "--save", "",
         "--auto-aof-rewrite-percentage", "0", "--daemonize", "no", "--logfile", ""},
        *port, server->dir_.Sub("redis.log"));
    if (!p.ok()) return p.status();
    server->process_.emplace(std::move(*p));
    return server;
  }
  int port() const { return port_; }

 private:
  Server() = default;
  TempDir dir_;  // destroyed after the process (members are destroyed in reverse order)
  int port_ = 0;
  std::optional<ServerProcess> process_;
};

std::vector<std::string> StreamNames(int partitions) {
  std::vector<std::string> names;
  for (int p = 0; p < partitions; ++p) names.push_back(fmt::format("s{}", p));
  return names;
}

// Sends pool records to the streams, pipelined, until `quota` or `deadline`.
absl::StatusOr<int64_t> ProduceOn(redisContext* c, const std::vector<std::string>& streams,
                                  size_t value_size, uint64_t seq, int64_t quota,
                                  Clock::time_point deadline, std::atomic<int64_t>* progress) {
  const RecordPool& pool = RecordPool::Get(value_size);
  int64_t n = 0;
  int inflight = 0;
  for (; n < quota; ++n) {
    if ((n & 255) == 0 && n > 0) {
      if (progress != nullptr) progress->fetch_add(256);
      if (Clock::now() >= deadline) break;
    }
    const BenchRecord& r = pool.at(seq++);
    AppendXadd(c, streams[static_cast<size_t>(PartitionOf(r.key, static_cast<int>(streams.size())))], r.key,
               r.value);
    if (++inflight >= kWindow) {
      if (auto reply = NextReply(c); !reply.ok()) return reply.status();
      --inflight;
    }
  }
  for (; inflight > 0; --inflight) {
    if (auto reply = NextReply(c); !reply.ok()) return reply.status();
  }
  return n;
}

// One member of `group`: reads every stream until the members together read `expected`.
absl::Status ConsumeOn(redisContext* c, const std::vector<std::string>& streams, const std::string& group,
                       const std::string& member, int64_t expected, std::atomic<int64_t>* total,
                       uint64_t* touched, std::atomic<int64_t>* progress) {
  std::vector<std::string> read_args = {"XREADGROUP", "GROUP", group, member, "COUNT",
                                        std::to_string(kReadCount), "STREAMS"};
  for (const std::string& s : streams) read_args.push_back(s);
  for (size_t i = 0; i < streams.size(); ++i) read_args.push_back(">");
  std::vector<const char*> read_argv;
  std::vector<size_t> read_lens;
  for (const std::string& a : read_args) {
    read_argv.push_back(a.data());
    read_lens.push_back(a.size());
  }
  std::vector<std::vector<std::string>> acks;  // per stream: XACK s group id...
  int pending_acks = 0;
  while (total->load() < expected) {
    redisAppendCommandArgv(c, static_cast<int>(read_argv.size()), read_argv.data(), read_lens.data());
    for (; pending_acks > 0; --pending_acks) {
      if (auto r = NextReply(c); !r.ok()) return r.status();
    }
    absl::StatusOr<Reply> reply = NextReply(c);
    if (!reply.ok()) return reply.status();
    if ((*reply)->type != REDIS_REPLY_ARRAY) continue;  // nil: nothing new for this member
    int64_t got = 0;
    for (size_t s = 0; s < (*reply)->elements; ++s) {
      const redisReply* stream = (*reply)->element[s];
      const redisReply* entries = stream->element[1];
      std::vector<const char*> argv = {"XACK", stream->element[0]->str, group.c_str()};
      std::vector<size_t> lens = {4, stream->element[0]->len, group.size()};
      for (size_t e = 0; e < entries->elements; ++e) {
        const redisReply* entry = entries->element[e];
        const redisReply* fields = entry->element[1];
        *touched += fields->element[0]->len + fields->element[1]->len;
        argv.push_back(entry->element[0]->str);
        lens.push_back(entry->element[0]->len);
      }
      got += static_cast<int64_t>(entries->elements);
      if (entries->elements > 0) {
        redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
        ++pending_acks;
      }
    }
    total->fetch_add(got);
    if (progress != nullptr) progress->fetch_add(got);
  }
  for (; pending_acks > 0; --pending_acks) {
    if (auto r = NextReply(c); !r.ok()) return r.status();
  }
  return absl::OkStatus();
}

class RedisSystem : public System {
 public:
  std::string name() const override { return "Redis Streams"; }
  std::string durability(bool durable) const override {
    return durable ? "AOF, appendfsync always: fsync before replying to each pipelined batch"
                   : "AOF, appendfsync everysec: up to ~1 s lost on power loss";
  }
  std::string version() const override {
    const std::string program = FindProgram("redis-server");
    return program.empty() ? "redis-server not found" : FirstLineOf({program, "--version"});
  }

  absl::StatusOr<RunFigures> Produce(const ProduceCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(c.durable);
    if (!server.ok()) return server.status();
    const std::vector<std::string> streams = StreamNames(c.partitions);
    std::vector<Context> contexts;
    for (int t = 0; t < c.threads; ++t) {
      absl::StatusOr<Context> ctx = Connect((*server)->port());
      if (!ctx.ok()) return ctx.status();
      contexts.push_back(std::move(*ctx));
    }
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(c.max_seconds));
    return TimeThreads(c, [&](int t) {
      return ProduceOn(contexts[static_cast<size_t>(t)].get(), streams, c.value_size,
                       static_cast<uint64_t>(t) * 4096, QuotaOf(c, t), deadline, c.progress);
    });
  }

  absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(false);
    if (!server.ok()) return server.status();
    const std::vector<std::string> streams = StreamNames(c.partitions);
    absl::StatusOr<Context> admin = Connect((*server)->port());
    if (!admin.ok()) return admin.status();
    absl::StatusOr<int64_t> filled =
        ProduceOn(admin->get(), streams, kValueSize, 0, c.records, Clock::time_point::max(), nullptr);
    if (!filled.ok()) return filled.status();
    ConsumeFigures figures;
    for (int members : {1, 2}) {
      const std::string group = fmt::format("g{}", members);
      for (const std::string& s : streams) {
        if (absl::Status st = Command(admin->get(), {"XGROUP", "CREATE", s, group, "0"}); !st.ok()) return st;
      }
      std::vector<Context> contexts;
      for (int m = 0; m < members; ++m) {
        absl::StatusOr<Context> ctx = Connect((*server)->port());
        if (!ctx.ok()) return ctx.status();
        contexts.push_back(std::move(*ctx));
      }
      std::atomic<int64_t> total{0};
      std::vector<absl::Status> errors(static_cast<size_t>(members));
      std::vector<uint64_t> touched(static_cast<size_t>(members), 0);
      const auto start = Clock::now();
      std::vector<std::thread> threads;
      for (int m = 0; m < members; ++m) {
        threads.emplace_back([&, m] {
          const auto i = static_cast<size_t>(m);
          errors[i] = ConsumeOn(contexts[i].get(), streams, group, fmt::format("c{}", m), *filled, &total,
                                &touched[i], c.progress);
        });
      }
      for (auto& t : threads) t.join();
      RunFigures& f = members == 1 ? figures.one : figures.group;
      f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      for (const absl::Status& e : errors) {
        if (!e.ok()) return e;
      }
      f.records = total.load();
      for (uint64_t t : touched) f.bytes += t;
    }
    return figures;
  }

  absl::StatusOr<LatencyRun> Latency(const LatencyCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(false);
    if (!server.ok()) return server.status();
    absl::StatusOr<Context> sender = Connect((*server)->port());
    absl::StatusOr<Context> reader = Connect((*server)->port());
    if (!sender.ok()) return sender.status();
    if (!reader.ok()) return reader.status();
    if (absl::Status s = Command(reader->get(), {"XGROUP", "CREATE", "lat", "g", "$", "MKSTREAM"}); !s.ok()) {
      return s;
    }
    const std::string stream = "lat";
    int inflight = 0;
    LatencyHooks hooks;
    hooks.send = [&](std::string_view key, std::string_view value) -> absl::Status {
      redisContext* ctx = sender->get();
      AppendXadd(ctx, stream, key, value);
      int done = 0;
      while (done == 0) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK) return absl::UnavailableError(ctx->errstr);
      }
      if (++inflight >= kWindow) {
        for (; inflight > 0; --inflight) {
          if (auto r = NextReply(ctx); !r.ok()) return r.status();
        }
      }
      return absl::OkStatus();
    };
    hooks.flush = [&]() -> absl::Status {
      for (; inflight > 0; --inflight) {
        if (auto r = NextReply(sender->get()); !r.ok()) return r.status();
      }
      return absl::OkStatus();
    };
    // The XACK of one read goes out with the next XREADGROUP, in the same round trip.
    std::vector<std::string> pending_ack;
    hooks.receive = [&](std::vector<int64_t>* scheduled) -> absl::Status {
      redisContext* ctx = reader->get();
      if (!pending_ack.empty()) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const std::string& a : pending_ack) {
          argv.push_back(a.data());
          lens.push_back(a.size());
        }
        redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
      }
      const char* argv[] = {"XREADGROUP", "GROUP", "g", "c", "COUNT", "1000", "BLOCK", "100", "STREAMS", "lat", ">"};
      size_t lens[11];
      for (int i = 0; i < 11; ++i) lens[i] = strlen(argv[i]);
      redisAppendCommandArgv(ctx, 11, argv, lens);
      if (!pending_ack.empty()) {
        if (auto r = NextReply(ctx); !r.ok()) return r.status();
        pending_ack.clear();
      }
      absl::StatusOr<Reply> reply = NextReply(ctx);
      if (!reply.ok()) return reply.status();
      if ((*reply)->type != REDIS_REPLY_ARRAY) return absl::OkStatus();
      const redisReply* entries = (*reply)->element[0]->element[1];
      if (entries->elements > 0) pending_ack = {"XACK", "lat", "g"};
      for (size_t e = 0; e < entries->elements; ++e) {
        scheduled->push_back(ScheduledOf(entries->element[e]->element[1]->element[1]->str));
        pending_ack.emplace_back(entries->element[e]->element[0]->str, entries->element[e]->element[0]->len);
      }
      return absl::OkStatus();
    };
    return RunPeerLatency(c, hooks);
  }
};

}  // namespace

std::unique_ptr<System> MakeRedisSystem() { return std::make_unique<RedisSystem>(); }

}  // namespace runnel::bench
