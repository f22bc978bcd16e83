#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// WebTransport application protocol negotiation (draft-ietf-webtrans-http3
// §3.3): the client lists what it speaks in `wt-available-protocols`, an
// RFC 8941 structured-field List of Strings; the server names its choice in
// `wt-protocol`, a structured-field String. Today's MoQ clients use it to
// pick the dialect (moq-lite-05, moq-lite-04, ...; docs/dialects.md §1).

namespace moq::wt {

inline constexpr std::string_view kAvailableProtocolsHeader = "wt-available-protocols";
inline constexpr std::string_view kProtocolHeader = "wt-protocol";

// The strings of an SF List (`"a", "b";param, tok`): quoted strings are
// unescaped, bare tokens taken as they are, parameters dropped. nullopt when
// the value is not a well-formed list (the header is then ignored, as the
// RFC asks of a recipient that cannot parse a field).
std::optional<std::vector<std::string>> parse_protocol_list(std::string_view value);
// The one String of `wt-protocol` (quoted, or a bare token); nullopt if not.
std::optional<std::string> parse_protocol_item(std::string_view value);

// SF serialisation: `"a", "b"` and `"a"`. Protocol names are printable
// ASCII; a quote or backslash is escaped.
std::string serialize_protocol_list(const std::vector<std::string>& protocols);
std::string serialize_protocol_item(std::string_view protocol);

}  // namespace moq::wt
