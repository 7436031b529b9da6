// An application that found runnel with find_package and links runnel::runnel: it opens a
// data directory under the path given, produces one record and prints the version.
#include <iostream>
#include <string>

#include "runnel/broker.h"
#include "runnel/producer.h"
#include "runnel/version.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "find-package-data";
  auto broker = runnel::Broker::Open(dir);
  if (!broker.ok()) return 1;
  if (!(*broker)->CreateTopic("t", 1).ok()) return 1;
  auto producer = runnel::Producer::Create(**broker);
  if (!producer.ok()) return 1;
  auto sent = (*producer)->SendSync({.topic = "t", .value = "v"});
  if (!sent.ok()) return 1;
  std::cout << "runnel " << runnel::Version() << " wrote offset " << sent->offset << "\n";
  return (*broker)->Close().ok() ? 0 : 1;
}
