#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "coding/reader.h"
#include "coding/result.h"
#include "wire/announce.h"
#include "wire/goaway.h"
#include "wire/setup.h"
#include "wire/subscribe.h"

namespace moq::wire {

// Every message of the control stream. This type list is the one table that
// ties each type id (the alternative's kType) to its struct and name
// (kName): decode, encode, type_of() and name_of() are all derived from it,
// and std::visit over it makes a missing case a compile error.
using Message =
    std::variant<ClientSetup, ServerSetup, Subscribe, SubscribeOk, SubscribeReset, SubscribeStop,
                 Announce, AnnounceOk, AnnounceReset, AnnounceStop, GoAway>;

uint64_t type_of(const Message& m);
std::string_view name_of(const Message& m);

// Name for a raw type id ("unknown" when no message has it).
std::string_view message_name(uint64_t type);

// Appends the encoding (type varint + fields) to `out`. Fails only for values
// that cannot be encoded (a varint >= 2^62).
Result<void> encode(const Message& m, std::vector<uint8_t>& out);

// Decodes one message from the front of `r`'s bytes. Status kOk: `out` holds
// it and r.consumed() is its length. kNeedMore: a valid prefix. kError: an
// unknown type, a bad value or a too-long string (r.error() has code+reason).
DecodeStatus decode(Reader& r, Message& out);

}  // namespace moq::wire
