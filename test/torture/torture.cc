#include "torture/torture.h"

#include "util/formatters.h"

namespace runnel::torture {

static std::vector<TortureInfo>& Registry() {
  static auto* registry = new std::vector<TortureInfo>();
  return *registry;
}

bool Register(TortureInfo info) {
  Registry().push_back(std::move(info));
  return true;
}

const std::vector<TortureInfo>& Registered() { return Registry(); }

absl::Status Failure(const Options& opts, std::string_view what) {
  return absl::InternalError(fmt::format("(replay with --seed {}) {}", opts.run_seed, what));
}

}  // namespace runnel::torture
