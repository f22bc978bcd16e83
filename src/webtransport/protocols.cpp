#include "webtransport/protocols.h"

#include <cctype>

namespace moq::wt {

namespace {

// A cursor over an SF value (RFC 8941 §4.2).
struct SfParser {
  std::string_view in;
  size_t pos = 0;

  bool done() const { return pos >= in.size(); }
  char peek() const { return in[pos]; }
  void skip_ows() {
    while (!done() && (peek() == ' ' || peek() == '\t'))
      ++pos;
  }
  void skip_sp() {
    while (!done() && peek() == ' ')
      ++pos;
  }
  static bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    for (char t : std::string_view("!#$%&'*+-.^_`|~:/")) {
      if (c == t) return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    ++pos;  // the opening quote
    std::string out;
    while (!done()) {
      char c = in[pos++];
      if (c == '\\') {
        if (done()) return std::nullopt;
        c = in[pos++];
        if (c != '"' && c != '\\') return std::nullopt;
        out.push_back(c);
      } else if (c == '"') {
        return out;
      } else if (c < 0x20 || c > 0x7e) {
        return std::nullopt;
      } else {
        out.push_back(c);
      }
    }
    return std::nullopt;  // unterminated
  }
  std::optional<std::string> token() {
    const size_t start = pos;
    const char first = peek();
    if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '*')) {
      return std::nullopt;
    }
    while (!done() && is_tchar(peek()))
      ++pos;
    return std::string(in.substr(start, pos - start));
  }
  // A bare item we keep (string or token); other item kinds are skipped
  // over and reported as an empty optional string via `skipped`.
  std::optional<std::string> bare_item(bool& skipped) {
    skipped = false;
    if (done()) return std::nullopt;
    if (peek() == '"') return string();
    if (peek() == '*' || std::isalpha(static_cast<unsigned char>(peek()))) return token();
    // Numbers, byte sequences, booleans: not protocol names; skip them.
    const size_t start = pos;
    while (!done() && peek() != ';' && peek() != ',' && peek() != ' ' && peek() != '\t')
      ++pos;
    if (pos == start) return std::nullopt;
    skipped = true;
    return std::string();
  }
  // `;key[=value]` parameters, dropped.
  bool parameters() {
    while (!done() && peek() == ';') {
      ++pos;
      skip_sp();
      if (done() || !token()) return false;
      if (!done() && peek() == '=') {
        ++pos;
        bool skipped = false;
        if (!bare_item(skipped)) return false;
      }
    }
    return true;
  }
};

}  // namespace

std::optional<std::vector<std::string>> parse_protocol_list(std::string_view value) {
  SfParser p{value};
  std::vector<std::string> out;
  p.skip_sp();
  if (p.done()) return out;  // an empty list
  for (;;) {
    if (p.done() || p.peek() == '(') return std::nullopt;  // inner lists: not ours
    bool skipped = false;
    auto item = p.bare_item(skipped);
    if (!item || !p.parameters()) return std::nullopt;
    if (!skipped) out.push_back(std::move(*item));
    p.skip_ows();
    if (p.done()) return out;
    if (p.peek() != ',') return std::nullopt;
    ++p.pos;
    p.skip_ows();
    if (p.done()) return std::nullopt;  // a trailing comma
  }
}

std::optional<std::string> parse_protocol_item(std::string_view value) {
  SfParser p{value};
  p.skip_sp();
  bool skipped = false;
  auto item = p.bare_item(skipped);
  if (!item || skipped || !p.parameters()) return std::nullopt;
  p.skip_sp();
  if (!p.done()) return std::nullopt;
  return item;
}

std::string serialize_protocol_item(std::string_view protocol) {
  std::string out = "\"";
  for (char c : protocol) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string serialize_protocol_list(const std::vector<std::string>& protocols) {
  std::string out;
  for (const auto& p : protocols) {
    if (!out.empty()) out += ", ";
    out += serialize_protocol_item(p);
  }
  return out;
}

}  // namespace moq::wt
