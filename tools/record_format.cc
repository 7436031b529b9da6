#include "tools/record_format.h"

#include <iterator>

#include <fmt/format.h>

namespace runnel::tools {

namespace {

constexpr std::string_view kTokens = "tpoTkvKSh";

void AppendLength(const std::optional<std::string_view>& bytes, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{}",
                 bytes ? static_cast<int64_t>(bytes->size()) : int64_t{-1});
}

void AppendHeaders(std::span<const Header> headers, std::string& out) {
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0) out += ',';
    out += headers[i].key;
    if (headers[i].value) {
      out += '=';
      out += *headers[i].value;
    }
  }
}

}  // namespace

absl::StatusOr<RecordFormat> RecordFormat::Parse(std::string_view format) {
  RecordFormat result;
  auto literal = [&result](char c) {
    if (result.pieces_.empty() || result.pieces_.back().token != 0) result.pieces_.push_back({});
    result.pieces_.back().text += c;
  };
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%' && c != '\\') {
      literal(c);
      continue;
    }
    if (i + 1 == format.size()) {
      return absl::InvalidArgumentError(
          fmt::format("--format \"{}\" ends with a lone '{}'", format, c));
    }
    char next = format[++i];
    if (c == '\\') {
      switch (next) {
        case 'n': literal('\n'); break;
        case 't': literal('\t'); break;
        case 'r': literal('\r'); break;
        case '\\': literal('\\'); break;
        default:
          return absl::InvalidArgumentError(
              fmt::format("--format \"{}\": unknown escape \\{}", format, next));
      }
    } else if (next == '%') {
      literal('%');
    } else if (kTokens.find(next) != std::string_view::npos) {
      result.pieces_.push_back({next, {}});
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "--format \"{}\": unknown token %{} (known: %t %p %o %T %k %v %K %S %h %%)", format,
          next));
    }
  }
  return result;
}

void RecordFormat::Append(const ConsumerRecord& record, std::string& out) const {
  auto it = std::back_inserter(out);
  for (const Piece& piece : pieces_) {
    switch (piece.token) {
      case 0: out += piece.text; break;
      case 't': out += record.topic; break;
      case 'p': fmt::format_to(it, "{}", record.partition); break;
      case 'o': fmt::format_to(it, "{}", record.offset); break;
      case 'T': fmt::format_to(it, "{}", record.timestamp); break;
      case 'k': if (record.key) out += *record.key; break;
      case 'v': if (record.value) out += *record.value; break;
      case 'K': AppendLength(record.key, out); break;
      case 'S': AppendLength(record.value, out); break;
      case 'h': AppendHeaders(record.headers, out); break;
    }
  }
}

}  // namespace runnel::tools
