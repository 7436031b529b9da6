#include "runnel/version.h"

namespace runnel {

std::string_view Version() {
#define RUNNEL_STR2(x) #x
#define RUNNEL_STR(x) RUNNEL_STR2(x)
  return RUNNEL_STR(RUNNEL_VERSION_MAJOR) "." RUNNEL_STR(RUNNEL_VERSION_MINOR) "." RUNNEL_STR(
      RUNNEL_VERSION_PATCH);
#undef RUNNEL_STR
#undef RUNNEL_STR2
}

}  // namespace runnel
