// libFuzzer target: the relay's --dev request-head parser on arbitrary bytes.
// It must never crash; a parsed head fits the size cap, and the response is
// always a complete HTTP/1.1 message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Every prefix, as bytes trickle in over TCP.
  for (size_t n : {size / 3, size / 2, size}) {
    auto head = moq::relay::parse_request_head(input.substr(0, n));
    using Status = moq::relay::HttpRequestHead::Status;
    if (head.status == Status::kOk &&
        (head.method.empty() || head.target.empty() || head.target.size() > n)) {
      std::abort();
    }
    const std::string reply = moq::relay::fingerprint_response(head, "00ff");
    if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.find("\r\n\r\n") == std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
