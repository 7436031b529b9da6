// runnel in process, through the public API, by the shared workloads of
// tools/bench_workload.h (the ones runnel_produce_bench and runnel_consume_bench run).
#include <fmt/format.h>

#include "bench/compare/system.h"
#include "runnel/broker.h"
#include "runnel/version.h"

namespace runnel::bench {
namespace {

class RunnelSystem : public System {
 public:
  std::string name() const override { return "runnel"; }
  std::string durability(bool durable) const override {
    return durable ? "sync.policy always: fsync before ack, group commit" : "sync.policy none: page cache";
  }
  std::string version() const override { return fmt::format("runnel {} (in process)", Version()); }

  absl::StatusOr<RunFigures> Produce(const ProduceCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    auto broker = Broker::Open(dir.Sub("data"));
    if (!broker.ok()) return broker.status();
    TopicConfig topic;
    topic.sync_policy = c.durable ? SyncPolicy::kAlways : SyncPolicy::kNone;
    if (absl::Status s = (*broker)->CreateTopic("bench", c.partitions, topic); !s.ok()) return s;
    ProduceSpec spec;
    spec.value_size = c.value_size;
    spec.threads = c.threads;
    spec.seconds = c.max_seconds;
    spec.progress = c.progress;
    absl::StatusOr<RunFigures> run = RunProduceWorkload(**broker, spec);
    if (!run.ok()) return run.status();
    if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
    return run;
  }

  absl::StatusOr<ConsumeFigures> Consume(const ConsumeCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    auto broker = Broker::Open(dir.Sub("data"));
    if (!broker.ok()) return broker.status();
    if (absl::Status s = (*broker)->CreateTopic("bench", c.partitions); !s.ok()) return s;
    ProduceSpec produce;
    produce.records = c.records;
    if (absl::StatusOr<RunFigures> run = RunProduceWorkload(**broker, produce); !run.ok()) {
      return run.status();
    }
    ConsumeFigures figures;
    for (bool group : {false, true}) {
      ConsumeSpec spec;
      spec.consumers = group ? 2 : 1;
      spec.group = group;
      spec.progress = c.progress;
      absl::StatusOr<RunFigures> run = RunConsumeWorkload(**broker, spec);
      if (!run.ok()) return run.status();
      (group ? figures.group : figures.one) = *run;
    }
    if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
    return figures;
  }

  absl::StatusOr<LatencyRun> Latency(const LatencyCase& c) override {
    TempDir dir;
    if (!dir.status().ok()) return dir.status();
    auto broker = Broker::Open(dir.Sub("data"));
    if (!broker.ok()) return broker.status();
    LatencySpec spec;
    spec.producer.linger_ms = 0;
    spec.rate = c.rate;
    spec.burst = c.burst;
    spec.seconds = c.seconds;
    spec.progress = c.progress;
    absl::StatusOr<LatencyFigures> figures = RunLatencyWorkload(**broker, spec);
    if (!figures.ok()) return figures.status();
    if (absl::Status s = (*broker)->Close(); !s.ok()) return s;
    const auto planned = static_cast<int64_t>(static_cast<double>(c.rate) * c.seconds);
    return LatencyRun{*figures, planned, figures->records};
  }
};

}  // namespace

std::unique_ptr<System> MakeRunnelSystem() { return std::make_unique<RunnelSystem>(); }

}  // namespace runnel::bench
