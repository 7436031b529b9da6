// NATS JetStream, through libnats (cnats), against a nats-server this driver starts for
// each run (127.0.0.1, a free port, JetStream with its store in a temporary directory).
// One file-storage stream BENCH with a subject `bench.<p>` per partition; a record's
// payload is its key followed by its value (same bytes as the others).
//   produce: js_PublishAsync, at most kMaxPending publishes awaiting their ack per
//            connection (a connection per thread), js_PublishAsyncComplete at the end
//   consume: a durable pull consumer (ack policy "all"), Fetch of 1000, the last message of
//            each batch acked; a group of two is two pull subscriptions on one durable
//   latency: stream LAT, async publish, a durable pull consumer fetching with 100 ms expiry
// Durable rows: nats-server 2.9.10 refuses jetstream `sync_interval` ("unknown field"; it
// came in 2.10), so the file store fsyncs on its own 2-minute timer. Those rows run the
// same configuration and the report marks them as not durable against power loss.
#include <nats/nats.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/compare/server_process.h"
#include "bench/compare/system.h"

namespace runnel::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMaxPending = 4096;  // async publishes awaiting an ack, per connection
constexpr int kFetch = 1000;

absl::Status Check(natsStatus s, std::string_view what, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  if (s == NATS_OK) return absl::OkStatus();
  return absl::InternalError(fmt::format("nats {}: {} (jetstream error {})", what, natsStatus_GetText(s),
                                         static_cast<int>(jerr)));
}

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start() {
    const std::string program = FindProgram("nats-server");
    if (program.empty()) return absl::NotFoundError("nats-server is not installed");
    auto server = std::unique_ptr<Server>(new Server());
    if (!server->dir_.status().ok()) return server->dir_.status();
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    absl::StatusOr<ServerProcess> p =
        ServerProcess::Start({program, "-a", "127.0.0.1", "-p", std::to_string(*port), "-js", "-sd",
                              server->dir_.Sub("js")},
                             *port, server->dir_.Sub("nats.log"));
    if (!p.ok()) return p.status();
    server->process_.emplace(std::move(*p));
    return server;
  }
  std::string url() const { return fmt::format("nats://127.0.0.1:{}", port_); }

 private:
  Server() = default;
  TempDir dir_;
  int port_ = 0;
  std::optional<ServerProcess> process_;
};

// A connection and its JetStream context.
class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& url) {
    auto c = std::unique_ptr<Client>(new Client());
    if (absl::Status s = Check(natsConnection_ConnectTo(&c->nc_, url.c_str()), "connect"); !s.ok()) return s;
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = kMaxPending;
    o.PublishAsync.StallWait = 30000;
    o.PublishAsync.ErrHandler = &Client::OnError;
    o.PublishAsync.ErrHandlerClosure = c.get();
    o.Wait = 30000;
    if (absl::Status s = Check(natsConnection_JetStream(&c->js_, c->nc_, &o), "jetstream"); !s.ok()) return s;
    return c;
  }
  ~Client() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  jsCtx* js() { return js_; }
  int64_t errors() const { return errors_.load(); }

  absl::Status AddStream(const char* name, const char* subjects) {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = &subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    absl::Status s = Check(js_AddStream(&si, js_, &sc, nullptr, &jerr), "add stream", jerr);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    return s;
  }

  absl::Status Complete() {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    if (absl::Status s = Check(js_PublishAsyncComplete(js_, &po), "publish complete"); !s.ok()) return s;
    if (errors() > 0) return absl::InternalError(fmt::format("nats: {} async publishes failed", errors()));
    return absl::OkStatus();
  }

 private:
  Client() = default;
  static void OnError(jsCtx*, jsPubAckErr*, void* closure) {
    static_cast<Client*>(closure)->errors_.fetch_add(1);
  }
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<int64_t> errors_{0};
};

struct SubDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
using Subscription = std::unique_ptr<natsSubscription, SubDeleter>;

absl::StatusOr<Subscription> PullSubscribe(jsCtx* js, const char* stream, const char* subject,
                                           const char* durable) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream;
  so.Config.AckPolicy = js_AckAll;
  so.Config.MaxAckPending = 100000;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (absl::Status s = Check(js_PullSubscribe(&sub, js, subject, durable, nullptr, &so, &jerr), "pull subscribe", jerr);
      !s.ok()) {
    return s;
  }
  return Subscription(sub);
}

// Fetches up to kFetch messages (waiting up to `timeout_ms`), hands each to `fn` and acks the
// last. Returns how many came; none is not an error.
template <typename Fn>
absl::StatusOr<int64_t> FetchAndAck(natsSubscription* sub, int64_t timeout_ms, Fn&& fn) {
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub, kFetch, timeout_ms, &jerr);
  if (s == NATS_TIMEOUT) return 0;
  if (s != NATS_OK) return Check(s, "fetch", jerr);
  for (int i = 0; i < list.Count; ++i) fn(list.Msgs[i]);
  absl::Status ack = list.Count > 0 ? Check(natsMsg_Ack(list.Msgs[list.Count - 1], nullptr), "ack")
                                    : absl::OkStatus();
  const int64_t n = list.Count;
  natsMsgList_Destroy(&list);
  if (!ack.ok()) return ack;
  return n;
}

absl::StatusOr<int64_t> PublishOn(Client& client, int partitions, size_t value_size, uint64_t seq,
                                  int64_t quota, Clock::time_point deadline, std::atomic<int64_t>* progress) {
  const RecordPool& pool = RecordPool::Get(value_size);
  std::vector<std::string> subjects;
  for (int p = 0; p < partitions; ++p) subjects.push_back(fmt::format("bench.{}", p));
  std::string payload(kKeySize + value_size, '\0');
  int64_t n = 0;
  for (; n < quota; ++n) {
    if ((n & 255) == 0 && n > 0) {
      if (progress != nullptr) progress->fetch_add(256);
      if (Clock::now() >= deadline) break;
    }
    const BenchRecord& r = pool.at(seq++);
    std::memcpy(payload.data(), r.key.data(), kKeySize);
    std::memcpy(payload.data() + kKeySize, r.value.data(), value_size);
    const std::string& subject = subjects[static_cast<size_t>(PartitionOf(r.key, partitions))];
    if (absl::Status s = Check(js_PublishAsync(client.js(), subject.c_str(), payload.data(),
                                               static_cast<int>(payload.size()), nullptr),
                               "publish async");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = client.Complete(); !s.ok()) return s;
  return n;
}

class NatsSystem : public System {
 public:
  std::string name() const override { return "NATS JetStream"; }
  std::string durability(bool durable) const override {
    return durable ? "NOT durable: 2.9.10 has no sync_interval, file store fsyncs every 2 min"
                   : "file store, fsync every 2 min (the default)";
  }
  std::string version() const override {
    const std::string program = FindProgram("nats-server");
    return fmt::format("{}, cnats {}", program.empty() ? "nats-server not found" : FirstLineOf({program, "--version"}),
                       nats_GetVersion());
  }

  absl::StatusOr<RunFigures> Produce(const ProduceCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start();
    if (!server.ok()) return server.status();
    std::vector<std::unique_ptr<Client>> clients;
    for (int t = 0; t < c.threads; ++t) {
      absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect((*server)->url());
      if (!client.ok()) return client.status();
      clients.push_back(std::move(*client));
    }
    if (absl::Status s = clients[0]->AddStream("BENCH", "bench.>"); !s.ok()) return s;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(c.max_seconds));
    return TimeThreads(c, [&](int t) {
      return PublishOn(*clients[static_cast<size_t>(t)], c.partitions, c.value_size,
                       static_cast<uint64_t>(t) * 4096, QuotaOf(c, t), deadline, c.progress);
    });
  }

  absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start();
    if (!server.ok()) return server.status();
    absl::StatusOr<std::unique_ptr<Client>> admin = Client::Connect((*server)->url());
    if (!admin.ok()) return admin.status();
    if (absl::Status s = (*admin)->AddStream("BENCH", "bench.>"); !s.ok()) return s;
    absl::StatusOr<int64_t> filled =
        PublishOn(**admin, c.partitions, kValueSize, 0, c.records, Clock::time_point::max(), nullptr);
    if (!filled.ok()) return filled.status();
    ConsumeFigures figures;
    for (int members : {1, 2}) {
      const std::string durable = fmt::format("group{}", members);
      std::vector<std::unique_ptr<Client>> clients;
      std::vector<Subscription> subs;
      for (int m = 0; m < members; ++m) {
        absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect((*server)->url());
        if (!client.ok()) return client.status();
        absl::StatusOr<Subscription> sub = PullSubscribe((*client)->js(), "BENCH", "bench.>", durable.c_str());
        if (!sub.ok()) return sub.status();
        clients.push_back(std::move(*client));
        subs.push_back(std::move(*sub));
      }
      std::atomic<int64_t> total{0};
      std::vector<absl::Status> errors(static_cast<size_t>(members));
      std::vector<uint64_t> touched(static_cast<size_t>(members), 0);
      std::mutex end_mu;
      const auto start = Clock::now();
      auto end = start;
      std::vector<std::thread> threads;
      for (int m = 0; m < members; ++m) {
        threads.emplace_back([&, m] {
          const auto i = static_cast<size_t>(m);
          while (total.load() < *filled) {
            absl::StatusOr<int64_t> n = FetchAndAck(subs[i].get(), 200, [&](natsMsg* msg) {
              touched[i] += static_cast<uint64_t>(natsMsg_GetDataLength(msg));
            });
            if (!n.ok()) {
              errors[i] = n.status();
              return;
            }
            // The run ends when the last record arrives, not when the other member's
            // pending Fetch gives up.
            if (total.fetch_add(*n) < *filled && total.load() >= *filled) {
              std::lock_guard<std::mutex> lock(end_mu);
              end = Clock::now();
            }
            if (c.progress != nullptr) c.progress->fetch_add(*n);
          }
        });
      }
      for (auto& t : threads) t.join();
      RunFigures& f = members == 1 ? figures.one : figures.group;
      f.seconds = std::chrono::duration<double>(end - start).count();
      for (const absl::Status& e : errors) {
        if (!e.ok()) return e;
      }
      f.records = total.load();
      for (uint64_t t : touched) f.bytes += t;
      subs.clear();
    }
    return figures;
  }

  absl::StatusOr<LatencyRun> Latency(const LatencyCase& c) override {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start();
    if (!server.ok()) return server.status();
    absl::StatusOr<std::unique_ptr<Client>> sender = Client::Connect((*server)->url());
    absl::StatusOr<std::unique_ptr<Client>> reader = Client::Connect((*server)->url());
    if (!sender.ok()) return sender.status();
    if (!reader.ok()) return reader.status();
    if (absl::Status s = (*sender)->AddStream("LAT", "lat"); !s.ok()) return s;
    absl::StatusOr<Subscription> sub = PullSubscribe((*reader)->js(), "LAT", "lat", "lat");
    if (!sub.ok()) return sub.status();
    std::string payload(kKeySize + kValueSize, '\0');
    LatencyHooks hooks;
    hooks.send = [&](std::string_view key, std::string_view value) {
      // The value first here, so that its leading 8 bytes (the schedule) lead the payload.
      std::memcpy(payload.data(), value.data(), value.size());
      std::memcpy(payload.data() + value.size(), key.data(), key.size());
      return Check(js_PublishAsync((*sender)->js(), "lat", payload.data(), static_cast<int>(payload.size()), nullptr),
                   "publish async");
    };
    hooks.flush = [&] { return (*sender)->Complete(); };
    hooks.receive = [&](std::vector<int64_t>* scheduled) -> absl::Status {
      return FetchAndAck(sub->get(), 100, [&](natsMsg* msg) {
               scheduled->push_back(ScheduledOf(natsMsg_GetData(msg)));
             }).status();
    };
    absl::StatusOr<LatencyRun> run = RunPeerLatency(c, hooks);
    sub->reset();
    return run;
  }
};

}  // namespace

std::unique_ptr<System> MakeNatsSystem() { return std::make_unique<NatsSystem>(); }

}  // namespace runnel::bench
