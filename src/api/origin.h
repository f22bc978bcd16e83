#pragma once

#include <string>
#include <string_view>

#include "coding/result.h"

namespace moq::api {

// Where a broadcast is published: the https:// URL of the relay that holds it
// (`{"url": "https://relay-host:port/name"}`). moq-api stores one per
// broadcast name; relays look it up to subscribe relay-to-relay.
struct Origin {
  std::string url;

  friend bool operator==(const Origin&, const Origin&) = default;
};

// Longest URL accepted; far above any real relay URL, low enough that a
// hostile body can't make the registry store megabytes per key.
inline constexpr size_t kMaxUrlLength = 2048;

// Checks that `url` is an absolute https:// URL with a host: printable ASCII
// only (no spaces or control bytes; non-ASCII must be percent-encoded), at
// most kMaxUrlLength bytes. The scheme is matched case-insensitively.
// Errors are code 400 with a reason that says what is wrong.
Result<void> validate_url(std::string_view url);

// Parses and validates `{"url": "https://..."}`. The body must be a JSON
// object whose "url" member is a string that passes validate_url(); other
// members are ignored (like the original's serde model), so newer writers can
// add fields. The scheme is normalised to lower case. Never throws: any
// malformed input is an Error with code 400 and a readable reason.
Result<Origin> parse_origin(std::string_view json);

// The canonical JSON form, `{"url":"..."}`. The origin must be valid
// (validate_url), which guarantees the output is well-formed JSON.
std::string to_json(const Origin& origin);

}  // namespace moq::api
