// kcat's output format (-f) for consumed records: a string of text and %-tokens,
// compiled once and then applied to each record.
//
//   %t topic    %p partition    %o offset    %T timestamp (ms)
//   %k key      %v value        %K key length    %S value length (-1 when null)
//   %h headers as k=v pairs separated by commas (a null header value prints as k)
//   %% a percent sign;   \n newline, \t tab, \r carriage return, \\ backslash
//
// A null key or value prints as nothing under %k and %v.
#ifndef RUNNEL_TOOLS_RECORD_FORMAT_H_
#define RUNNEL_TOOLS_RECORD_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/consumer.h"

namespace runnel::tools {

class RecordFormat {
 public:
  // InvalidArgument naming the unknown token or escape.
  static absl::StatusOr<RecordFormat> Parse(std::string_view format);
  // Appends `record` formatted to `out`.
  void Append(const ConsumerRecord& record, std::string& out) const;

 private:
  struct Piece {
    char token = 0;    // 0: literal text
    std::string text;  // the literal
  };
  std::vector<Piece> pieces_;
};

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_RECORD_FORMAT_H_
