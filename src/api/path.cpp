#include "api/path.h"

namespace moq::api {
namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string percent_encode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::string origin_path(std::string_view name) {
  return std::string(kOriginPrefix) + percent_encode(name);
}

std::optional<std::string> origin_name(std::string_view decoded_path) {
  if (!decoded_path.starts_with(kOriginPrefix)) return std::nullopt;
  auto name = decoded_path.substr(kOriginPrefix.size());
  if (name.empty()) return std::nullopt;
  return std::string(name);
}

}  // namespace moq::api
