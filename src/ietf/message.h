#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "coding/error.h"
#include "coding/reader.h"

// IETF moq-transport draft-14, sans-IO: the control messages a relay needs
// and the subgroup data streams. Layouts, and where they come from, are in
// docs/dialects.md §3; bytes captured from moq-cli 0.14.10 are in
// docs/captures.md.

namespace moq::ietf {

// The version in CLIENT_SETUP / SERVER_SETUP.
inline constexpr uint64_t kDraft14 = 0xff00000e;
// WebTransport protocols that lead to a draft-14 SETUP: `moq-00` (the Rust
// tools), `moql` (the JS clients, which offer moq-lite-01/02 in the same
// SETUP; we answer draft-14).
inline constexpr std::string_view kProtocolMoq00 = "moq-00";
inline constexpr std::string_view kProtocolMoql = "moql";
bool is_ietf_protocol(std::string_view protocol);

// Limits on what a peer may make us hold.
inline constexpr size_t kMaxNamespaceParts = 32;
inline constexpr size_t kMaxParams = 64;
inline constexpr size_t kMaxVersions = 64;
inline constexpr uint64_t kMaxObjectSize = 64 * 1024 * 1024;

// Session close codes (draft-14 §13.1.1).
namespace close_code {
inline constexpr uint32_t kNoError = 0x0;
inline constexpr uint32_t kInternal = 0x1;
inline constexpr uint32_t kUnauthorized = 0x2;
inline constexpr uint32_t kProtocolViolation = 0x3;
inline constexpr uint32_t kInvalidRequestId = 0x4;
inline constexpr uint32_t kTooManyRequests = 0x7;
inline constexpr uint32_t kControlMessageTimeout = 0x11;
inline constexpr uint32_t kVersionNegotiationFailed = 0x15;
}  // namespace close_code
// SUBSCRIBE_ERROR / FETCH_ERROR / PUBLISH_ERROR codes (draft-14 registries).
namespace request_error {
inline constexpr uint64_t kInternal = 0x0;
inline constexpr uint64_t kUnauthorized = 0x1;
inline constexpr uint64_t kNotSupported = 0x3;
inline constexpr uint64_t kDoesNotExist = 0x4;
}  // namespace request_error
// PUBLISH_DONE status codes.
namespace publish_done {
inline constexpr uint64_t kInternal = 0x0;
inline constexpr uint64_t kTrackEnded = 0x2;
inline constexpr uint64_t kSubscriptionEnded = 0x3;
}  // namespace publish_done
// Stream reset codes for data streams.
namespace reset_code {
inline constexpr uint32_t kInternal = 0x0;
inline constexpr uint32_t kCancelled = 0x1;
inline constexpr uint32_t kDeliveryTimeout = 0x2;
}  // namespace reset_code

// A key-value pair: an even id carries a varint, an odd id bytes.
struct Param {
  uint64_t id = 0;
  uint64_t value = 0;          // even ids
  std::vector<uint8_t> bytes;  // odd ids
  friend bool operator==(const Param&, const Param&) = default;
};
namespace setup_param {
inline constexpr uint64_t kPath = 0x1;
inline constexpr uint64_t kMaxRequestId = 0x2;
inline constexpr uint64_t kAuthorizationToken = 0x3;
inline constexpr uint64_t kImplementation = 0x7;
}  // namespace setup_param
// The value of an even parameter, if present.
std::optional<uint64_t> find_param(const std::vector<Param>& params, uint64_t id);

// A track namespace: a tuple of byte strings. A relay path "a/b" is the
// tuple ["a", "b"]; "" is the empty tuple.
using Namespace = std::vector<std::string>;
Namespace namespace_of(std::string_view path);
std::string path_of(const Namespace& ns);

struct Location {
  uint64_t group = 0;
  uint64_t object = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

namespace filter {
inline constexpr uint64_t kNextGroupStart = 0x1;
inline constexpr uint64_t kLargestObject = 0x2;
inline constexpr uint64_t kAbsoluteStart = 0x3;
inline constexpr uint64_t kAbsoluteRange = 0x4;
}  // namespace filter

struct ClientSetup {
  std::vector<uint64_t> versions;
  std::vector<Param> params;
  friend bool operator==(const ClientSetup&, const ClientSetup&) = default;
};
struct ServerSetup {
  uint64_t version = kDraft14;
  std::vector<Param> params;
  friend bool operator==(const ServerSetup&, const ServerSetup&) = default;
};
struct Subscribe {
  uint64_t request_id = 0;
  Namespace track_namespace;
  std::string track_name;
  uint8_t subscriber_priority = 128;
  uint8_t group_order = 0;  // 0 publisher's choice, 1 ascending, 2 descending
  uint8_t forward = 1;
  uint64_t filter_type = filter::kLargestObject;
  std::optional<Location> start;      // AbsoluteStart, AbsoluteRange
  std::optional<uint64_t> end_group;  // AbsoluteRange
  std::vector<Param> params;
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};
struct SubscribeOk {
  uint64_t request_id = 0;
  uint64_t track_alias = 0;
  uint64_t expires = 0;
  uint8_t group_order = 1;
  std::optional<Location> largest;  // content_exists
  std::vector<Param> params;
  friend bool operator==(const SubscribeOk&, const SubscribeOk&) = default;
};
struct SubscribeError {
  uint64_t request_id = 0;
  uint64_t error_code = 0;
  std::string reason;
  friend bool operator==(const SubscribeError&, const SubscribeError&) = default;
};
struct SubscribeUpdate {
  uint64_t request_id = 0;
  uint64_t subscription_request_id = 0;
  Location start;
  uint64_t end_group = 0;
  uint8_t subscriber_priority = 0;
  uint8_t forward = 1;
  std::vector<Param> params;
  friend bool operator==(const SubscribeUpdate&, const SubscribeUpdate&) = default;
};
struct Unsubscribe {
  uint64_t request_id = 0;
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};
struct PublishDone {
  uint64_t request_id = 0;
  uint64_t status_code = 0;
  uint64_t stream_count = 0;
  std::string reason;
  friend bool operator==(const PublishDone&, const PublishDone&) = default;
};
struct PublishNamespace {
  uint64_t request_id = 0;
  Namespace track_namespace;
  std::vector<Param> params;
  friend bool operator==(const PublishNamespace&, const PublishNamespace&) = default;
};
struct PublishNamespaceOk {
  uint64_t request_id = 0;
  friend bool operator==(const PublishNamespaceOk&, const PublishNamespaceOk&) = default;
};
struct PublishNamespaceError {
  uint64_t request_id = 0;
  uint64_t error_code = 0;
  std::string reason;
  friend bool operator==(const PublishNamespaceError&, const PublishNamespaceError&) = default;
};
struct PublishNamespaceDone {
  Namespace track_namespace;
  friend bool operator==(const PublishNamespaceDone&, const PublishNamespaceDone&) = default;
};
struct PublishNamespaceCancel {
  Namespace track_namespace;
  uint64_t error_code = 0;
  std::string reason;
  friend bool operator==(const PublishNamespaceCancel&, const PublishNamespaceCancel&) = default;
};
struct SubscribeNamespace {
  uint64_t request_id = 0;
  Namespace prefix;
  std::vector<Param> params;
  friend bool operator==(const SubscribeNamespace&, const SubscribeNamespace&) = default;
};
struct SubscribeNamespaceOk {
  uint64_t request_id = 0;
  friend bool operator==(const SubscribeNamespaceOk&, const SubscribeNamespaceOk&) = default;
};
struct SubscribeNamespaceError {
  uint64_t request_id = 0;
  uint64_t error_code = 0;
  std::string reason;
  friend bool operator==(const SubscribeNamespaceError&, const SubscribeNamespaceError&) = default;
};
// Its body is a request id (the JS clients) or a namespace prefix (the
// draft's naming): both are accepted, whichever the bytes are.
struct UnsubscribeNamespace {
  std::optional<uint64_t> request_id;
  Namespace prefix;
  friend bool operator==(const UnsubscribeNamespace&, const UnsubscribeNamespace&) = default;
};
struct MaxRequestId {
  uint64_t request_id = 0;
  friend bool operator==(const MaxRequestId&, const MaxRequestId&) = default;
};
struct RequestsBlocked {
  uint64_t maximum_request_id = 0;
  friend bool operator==(const RequestsBlocked&, const RequestsBlocked&) = default;
};
struct Goaway {
  std::string new_session_uri;
  friend bool operator==(const Goaway&, const Goaway&) = default;
};
// Requests we refuse (FETCH, PUBLISH, TRACK_STATUS): only their request
// id is read (it leads every one of them); the rest is kept as it came.
struct Refusable {
  uint64_t type = 0;
  uint64_t request_id = 0;
  std::vector<uint8_t> rest;
  friend bool operator==(const Refusable&, const Refusable&) = default;
};
// The replies to them.
struct RequestError {
  uint64_t type = 0;  // FETCH_ERROR 0x19, PUBLISH_ERROR 0x1F, TRACK_STATUS_ERROR 0x0F
  uint64_t request_id = 0;
  uint64_t error_code = 0;
  std::string reason;
  friend bool operator==(const RequestError&, const RequestError&) = default;
};

namespace message_type {
inline constexpr uint64_t kSubscribeUpdate = 0x02;
inline constexpr uint64_t kSubscribe = 0x03;
inline constexpr uint64_t kSubscribeOk = 0x04;
inline constexpr uint64_t kSubscribeError = 0x05;
inline constexpr uint64_t kPublishNamespace = 0x06;
inline constexpr uint64_t kPublishNamespaceOk = 0x07;
inline constexpr uint64_t kPublishNamespaceError = 0x08;
inline constexpr uint64_t kPublishNamespaceDone = 0x09;
inline constexpr uint64_t kUnsubscribe = 0x0A;
inline constexpr uint64_t kPublishDone = 0x0B;
inline constexpr uint64_t kPublishNamespaceCancel = 0x0C;
inline constexpr uint64_t kTrackStatusRequest = 0x0D;
inline constexpr uint64_t kTrackStatus = 0x0E;  // TRACK_STATUS_OK in moq-net
inline constexpr uint64_t kTrackStatusError = 0x0F;
inline constexpr uint64_t kGoaway = 0x10;
inline constexpr uint64_t kSubscribeNamespace = 0x11;
inline constexpr uint64_t kSubscribeNamespaceOk = 0x12;
inline constexpr uint64_t kSubscribeNamespaceError = 0x13;
inline constexpr uint64_t kUnsubscribeNamespace = 0x14;
inline constexpr uint64_t kMaxRequestId = 0x15;
inline constexpr uint64_t kFetch = 0x16;
inline constexpr uint64_t kFetchCancel = 0x17;
inline constexpr uint64_t kFetchOk = 0x18;
inline constexpr uint64_t kFetchError = 0x19;
inline constexpr uint64_t kRequestsBlocked = 0x1A;
inline constexpr uint64_t kPublish = 0x1D;
inline constexpr uint64_t kPublishOk = 0x1E;
inline constexpr uint64_t kPublishError = 0x1F;
inline constexpr uint64_t kClientSetup = 0x20;
inline constexpr uint64_t kServerSetup = 0x21;
}  // namespace message_type

using Control = std::variant<
    ClientSetup, ServerSetup, Subscribe, SubscribeOk, SubscribeError, SubscribeUpdate, Unsubscribe,
    PublishDone, PublishNamespace, PublishNamespaceOk, PublishNamespaceError, PublishNamespaceDone,
    PublishNamespaceCancel, SubscribeNamespace, SubscribeNamespaceOk, SubscribeNamespaceError,
    UnsubscribeNamespace, MaxRequestId, RequestsBlocked, Goaway, Refusable, RequestError>;

// Appends `type (i) | length (u16) | payload`. false (nothing appended) for
// a message whose payload exceeds 65535 bytes or holds a value ≥ 2^62.
bool encode(const Control& message, std::vector<uint8_t>& out);

// Decodes one control message from the front of `in`. kNeedMore until the
// whole payload is there; kError (protocol violation) for an unknown type,
// a payload that is too short or has bytes left over, or a value out of
// range. `consumed` is the message's size on success.
struct DecodedControl {
  DecodeStatus status = DecodeStatus::kNeedMore;
  Control message;
  size_t consumed = 0;
  Error error;
};
DecodedControl decode_control(std::span<const uint8_t> in);
// The type of a control message, for logs.
std::string_view control_name(const Control& message);

// ---- data: subgroup streams (uni) ----
struct SubgroupHeader {
  uint64_t type = 0x18;  // 0x10–0x15, 0x18–0x1D
  uint64_t track_alias = 0;
  uint64_t group_id = 0;
  uint64_t subgroup_id = 0;  // sent only when type & 0x04
  uint8_t publisher_priority = 128;
  bool has_extensions() const { return (type & 0x01) != 0; }
  bool ends_group() const { return (type & 0x08) != 0; }
  friend bool operator==(const SubgroupHeader&, const SubgroupHeader&) = default;
};
bool is_subgroup_type(uint64_t type);
void encode(const SubgroupHeader& header, std::vector<uint8_t>& out);
struct DecodedSubgroupHeader {
  DecodeStatus status = DecodeStatus::kNeedMore;
  SubgroupHeader header;
  size_t consumed = 0;
  Error error;
};
DecodedSubgroupHeader decode_subgroup_header(std::span<const uint8_t> in);

// An object's header on a subgroup stream; its payload (payload_length
// bytes) follows.
struct ObjectHeader {
  uint64_t object_id_delta = 0;
  std::vector<uint8_t> extensions;  // the raw extension block (type & 0x01)
  uint64_t payload_length = 0;
  uint64_t status = 0;  // only when payload_length = 0
  friend bool operator==(const ObjectHeader&, const ObjectHeader&) = default;
};
namespace object_status {
inline constexpr uint64_t kNormal = 0x0;
inline constexpr uint64_t kDoesNotExist = 0x1;
inline constexpr uint64_t kEndOfGroup = 0x3;
inline constexpr uint64_t kEndOfTrack = 0x4;
}  // namespace object_status
void encode(const ObjectHeader& header, bool with_extensions, std::vector<uint8_t>& out);
struct DecodedObjectHeader {
  DecodeStatus status = DecodeStatus::kNeedMore;
  ObjectHeader header;
  size_t consumed = 0;
  Error error;
};
DecodedObjectHeader decode_object_header(std::span<const uint8_t> in, bool with_extensions);

}  // namespace moq::ietf
