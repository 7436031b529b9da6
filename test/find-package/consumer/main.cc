// An application that found runnel with find_package and links runnel::runnel.
#include <iostream>

#include "runnel/version.h"

int main() {
  std::cout << "runnel " << runnel::Version() << "\n";
  return runnel::Version().empty() ? 1 : 0;
}
