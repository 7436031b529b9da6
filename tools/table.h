// A plain-text table with a header row and columns padded to line up, as
// kafka-consumer-groups prints them: easy to read, and to cut with awk.
#ifndef RUNNEL_TOOLS_TABLE_H_
#define RUNNEL_TOOLS_TABLE_H_

#include <string>
#include <vector>

namespace runnel::tools {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Every row as one line; columns separated by at least two spaces, the last unpadded.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_TABLE_H_
