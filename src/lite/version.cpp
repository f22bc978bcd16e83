#include "lite/version.h"

namespace moq::lite {

std::string_view protocol_name(Version v) {
  switch (v) {
    case Version::kLite03:
      return "moq-lite-03";
    case Version::kLite04:
      return "moq-lite-04";
    case Version::kLite05:
      return "moq-lite-05";
  }
  return "";
}

std::optional<Version> version_from_protocol(std::string_view name) {
  if (name == "moq-lite-03") return Version::kLite03;
  if (name == "moq-lite-04") return Version::kLite04;
  if (name == "moq-lite-05") return Version::kLite05;
  return std::nullopt;
}

const std::vector<std::string_view>& supported_protocols() {
  static const std::vector<std::string_view> kProtocols = {"moq-lite-05", "moq-lite-04",
                                                           "moq-lite-03"};
  return kProtocols;
}

}  // namespace moq::lite
