// IETF moq-transport draft-14 messages (src/ietf/message.h): round trips of
// every control message, the byte examples of docs/dialects.md §3 (derived
// from source), bytes captured from moq-cli 0.14.10 (docs/captures.md §7),
// and hostile input.
#include <gtest/gtest.h>

#include "support/spec_vectors.h"

#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "coding/writer.h"
#include "ietf/message.h"

namespace moq::ietf {
namespace {

std::vector<uint8_t> hex(const std::string& h) {
  return test::from_hex(h);
}

std::vector<uint8_t> encoded(const Control& m) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode(m, out)) << control_name(m);
  return out;
}

// Decodes `bytes` as exactly one control message of type T.
template <class T>
T decoded(const std::vector<uint8_t>& bytes) {
  DecodedControl d = decode_control(bytes);
  EXPECT_EQ(d.status, DecodeStatus::kOk) << d.error.reason;
  EXPECT_EQ(d.consumed, bytes.size());
  const T* m = std::get_if<T>(&d.message);
  EXPECT_NE(m, nullptr) << "decoded as " << control_name(d.message);
  return m ? *m : T{};
}

DecodeStatus status_of(const std::vector<uint8_t>& bytes) {
  return decode_control(bytes).status;
}

std::vector<uint8_t> object_bytes(const ObjectHeader& h, bool with_extensions) {
  std::vector<uint8_t> out;
  encode(h, with_extensions, out);
  return out;
}

// ---- round trips ----

std::vector<Control> one_of_each() {
  const std::vector<Param> params{{setup_param::kMaxRequestId, 100, {}},
                                  {setup_param::kImplementation, 0, {'x', 'y'}},
                                  {0x40b5a, 1, {}}};
  return {
      ClientSetup{{0xff0dad02, kDraft14}, params},
      ServerSetup{kDraft14, {{setup_param::kMaxRequestId, 100, {}}}},
      Subscribe{
          4, {"anon", "bbb.hang"}, "catalog.json", 100, 2, 1, filter::kLargestObject, {}, {}, {}},
      Subscribe{6, {"a"}, "video", 0, 1, 0, filter::kNextGroupStart, {}, {}, params},
      Subscribe{8, {}, "t", 255, 0, 1, filter::kAbsoluteStart, Location{7, 3}, {}, {}},
      Subscribe{10, {"a", ""}, "", 1, 2, 1, filter::kAbsoluteRange, Location{7, 0}, 9, {}},
      SubscribeOk{4, 4, 0, 2, {}, {}},
      SubscribeOk{5, 77, 1000, 1, Location{1 << 20, 300}, params},
      SubscribeError{4, request_error::kDoesNotExist, "not found"},
      SubscribeUpdate{12, 4, Location{3, 1}, 9, 7, 0, params},
      Unsubscribe{4},
      PublishDone{3, publish_done::kTrackEnded, 17, "ended"},
      PublishNamespace{1, {"bbb.hang"}, {}},
      PublishNamespace{3, {"a", "b", "c"}, params},
      PublishNamespaceOk{1},
      PublishNamespaceError{1, 409, "duplicate"},
      PublishNamespaceDone{{"bbb.hang"}},
      PublishNamespaceCancel{{"a", "b"}, 0x4, "gone"},
      SubscribeNamespace{2, {}, {}},
      SubscribeNamespace{2, {"anon"}, params},
      SubscribeNamespaceOk{2},
      SubscribeNamespaceError{2, 0x1, "unauthorized"},
      UnsubscribeNamespace{2, {}},
      UnsubscribeNamespace{std::nullopt, {"anon", "x"}},
      MaxRequestId{1000},
      RequestsBlocked{64},
      Goaway{"https://elsewhere.example/anon"},
      Goaway{""},
      Refusable{message_type::kFetch, 6, {1, 2, 3}},
      Refusable{message_type::kFetchCancel, 6, {}},
      Refusable{message_type::kPublish, 8, {0xff}},
      Refusable{message_type::kTrackStatusRequest, 10, {0, 1}},
      RequestError{message_type::kFetchError, 6, request_error::kNotSupported, "no FETCH"},
      RequestError{message_type::kPublishError, 8, request_error::kNotSupported, ""},
  };
}

TEST(IetfControl, EveryAlternativeRoundTrips) {
  std::set<size_t> seen;
  for (const Control& m : one_of_each()) {
    seen.insert(m.index());
    std::vector<uint8_t> bytes = encoded(m);
    ASSERT_GE(bytes.size(), 3u);
    // The u16 length is the payload's.
    EXPECT_EQ((size_t{bytes[1]} << 8 | bytes[2]) + 3, bytes.size()) << control_name(m);
    DecodedControl d = decode_control(bytes);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << control_name(m) << ": " << d.error.reason;
    EXPECT_EQ(d.consumed, bytes.size());
    EXPECT_EQ(d.message, m) << control_name(m);
    EXPECT_EQ(control_name(d.message), control_name(m));
  }
  EXPECT_EQ(seen.size(), std::variant_size_v<Control>);
}

TEST(IetfControl, EncodeRefusesWhatDoesNotFit) {
  std::vector<uint8_t> out{0xaa};
  // A payload over 65535 bytes.
  EXPECT_FALSE(encode(Goaway{std::string(70000, 'x')}, out));
  // A value ≥ 2^62.
  EXPECT_FALSE(encode(MaxRequestId{uint64_t{1} << 62}, out));
  EXPECT_EQ(out, std::vector<uint8_t>{0xaa});  // nothing appended
  // The largest payload that fits: a 4-byte string length + 65531 bytes.
  EXPECT_TRUE(encode(Goaway{std::string(65531, 'x')}, out));
  EXPECT_EQ(out.size(), 1u + 3 + 65535);
  EXPECT_EQ(decoded<Goaway>(std::vector<uint8_t>(out.begin() + 1, out.end())).new_session_uri,
            std::string(65531, 'x'));
}

TEST(IetfControl, DecodesOneMessageFromTheFront) {
  auto bytes = hex("150002406412000102");  // MAX_REQUEST_ID 100, SUBSCRIBE_NAMESPACE_OK 2
  DecodedControl d = decode_control(bytes);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.consumed, 5u);
  EXPECT_EQ(d.message, Control(MaxRequestId{100}));
  DecodedControl e = decode_control(std::span(bytes).subspan(d.consumed));
  ASSERT_EQ(e.status, DecodeStatus::kOk);
  EXPECT_EQ(e.message, Control(SubscribeNamespaceOk{2}));
}

// ---- docs/dialects.md §3 (derived from source) ----

TEST(IetfDialects, ClientSetupFromMoqNet) {
  auto bytes =
      hex("200031"
          "03c0000000ff0dad02c0000000ff0dad01c0000000ff00000e"
          "03"
          "028000a455"
          "80040b5a01"
          "070b6d6f712d6c6974652d6a73");
  auto m = decoded<ClientSetup>(bytes);
  EXPECT_EQ(m.versions, (std::vector<uint64_t>{0xff0dad02, 0xff0dad01, kDraft14}));
  ASSERT_EQ(m.params.size(), 3u);
  EXPECT_EQ(find_param(m.params, setup_param::kMaxRequestId), 42069u);
  EXPECT_EQ(find_param(m.params, 0x40b5a), 1u);
  EXPECT_EQ(m.params[2].id, setup_param::kImplementation);
  EXPECT_EQ(std::string(m.params[2].bytes.begin(), m.params[2].bytes.end()), "moq-lite-js");
  EXPECT_FALSE(find_param(m.params, setup_param::kImplementation));  // odd: bytes, not a varint
  EXPECT_EQ(encoded(m), bytes);
}

TEST(IetfDialects, ServerSetup) {
  auto bytes = hex("21000cc0000000ff00000e01024064");
  auto m = decoded<ServerSetup>(bytes);
  EXPECT_EQ(m.version, kDraft14);
  EXPECT_EQ(find_param(m.params, setup_param::kMaxRequestId), 100u);
  EXPECT_EQ(encoded(m), bytes);
  EXPECT_EQ(encoded(ServerSetup{kDraft14, {{setup_param::kMaxRequestId, 100, {}}}}), bytes);
}

TEST(IetfDialects, Subscribe) {
  auto bytes =
      hex("03001d000108626262"
          "2e68616e670c636174616c6f672e6a736f6e6402010200");
  auto m = decoded<Subscribe>(bytes);
  EXPECT_EQ(m.request_id, 0u);
  EXPECT_EQ(m.track_namespace, Namespace{"bbb.hang"});
  EXPECT_EQ(m.track_name, "catalog.json");
  EXPECT_EQ(m.subscriber_priority, 100);
  EXPECT_EQ(m.group_order, 2);
  EXPECT_EQ(m.forward, 1);
  EXPECT_EQ(m.filter_type, filter::kLargestObject);
  EXPECT_FALSE(m.start);
  EXPECT_FALSE(m.end_group);
  EXPECT_TRUE(m.params.empty());
  EXPECT_EQ(encoded(m), bytes);
}

TEST(IetfDialects, SubscribeOkAndError) {
  auto none = hex("040006000000020000");
  EXPECT_EQ(decoded<SubscribeOk>(none), (SubscribeOk{0, 0, 0, 2, {}, {}}));
  EXPECT_EQ(encoded(SubscribeOk{0, 0, 0, 2, {}, {}}), none);
  auto largest = hex("0400080000000201070300");
  EXPECT_EQ(decoded<SubscribeOk>(largest), (SubscribeOk{0, 0, 0, 2, Location{7, 3}, {}}));
  EXPECT_EQ(encoded(SubscribeOk{0, 0, 0, 2, Location{7, 3}, {}}), largest);
  auto error = hex("05000c0004096e6f7420666f756e64");
  EXPECT_EQ(decoded<SubscribeError>(error),
            (SubscribeError{0, request_error::kDoesNotExist, "not found"}));
  EXPECT_EQ(encoded(SubscribeError{0, request_error::kDoesNotExist, "not found"}), error);
}

TEST(IetfDialects, Namespaces) {
  auto sub_ns = hex("110003020000");
  EXPECT_EQ(decoded<SubscribeNamespace>(sub_ns), (SubscribeNamespace{2, {}, {}}));
  EXPECT_EQ(encoded(SubscribeNamespace{2, {}, {}}), sub_ns);

  auto sub_ns_ok = hex("12000102");
  EXPECT_EQ(decoded<SubscribeNamespaceOk>(sub_ns_ok).request_id, 2u);
  EXPECT_EQ(encoded(SubscribeNamespaceOk{2}), sub_ns_ok);

  auto pub_ns =
      hex("06000c01010862626"
          "22e68616e6700");
  auto p = decoded<PublishNamespace>(pub_ns);
  EXPECT_EQ(p.request_id, 1u);
  EXPECT_EQ(p.track_namespace, Namespace{"bbb.hang"});
  EXPECT_TRUE(p.params.empty());
  EXPECT_EQ(encoded(p), pub_ns);

  auto pub_ns_ok = hex("07000101");
  EXPECT_EQ(decoded<PublishNamespaceOk>(pub_ns_ok).request_id, 1u);
  EXPECT_EQ(encoded(PublishNamespaceOk{1}), pub_ns_ok);

  auto pub_ns_done =
      hex("09000a010862626"
          "22e68616e67");
  EXPECT_EQ(decoded<PublishNamespaceDone>(pub_ns_done).track_namespace, Namespace{"bbb.hang"});
  EXPECT_EQ(encoded(PublishNamespaceDone{{"bbb.hang"}}), pub_ns_done);
}

TEST(IetfDialects, SmallMessages) {
  auto done = hex("0b000400020000");
  EXPECT_EQ(decoded<PublishDone>(done), (PublishDone{0, publish_done::kTrackEnded, 0, ""}));
  EXPECT_EQ(encoded(PublishDone{0, publish_done::kTrackEnded, 0, ""}), done);
  auto max = hex("1500024064");
  EXPECT_EQ(decoded<MaxRequestId>(max).request_id, 100u);
  EXPECT_EQ(encoded(MaxRequestId{100}), max);
  auto unsubscribe = hex("0a000100");
  EXPECT_EQ(decoded<Unsubscribe>(unsubscribe).request_id, 0u);
  EXPECT_EQ(encoded(Unsubscribe{0}), unsubscribe);
  auto goaway = hex("10000100");
  EXPECT_EQ(decoded<Goaway>(goaway).new_session_uri, "");
  EXPECT_EQ(encoded(Goaway{}), goaway);
}

TEST(IetfDialects, SubgroupWithAndWithoutExtensions) {
  auto stream =
      hex("19000700"
          "000510800f424003658884");
  auto h = decode_subgroup_header(stream);
  ASSERT_EQ(h.status, DecodeStatus::kOk) << h.error.reason;
  EXPECT_EQ(h.consumed, 4u);
  EXPECT_EQ(h.header, (SubgroupHeader{0x19, 0, 7, 0, 0}));
  EXPECT_TRUE(h.header.has_extensions());
  EXPECT_TRUE(h.header.ends_group());
  std::vector<uint8_t> header;
  encode(h.header, header);
  EXPECT_EQ(header, hex("19000700"));

  auto rest = std::span(stream).subspan(h.consumed);
  auto o = decode_object_header(rest, true);
  ASSERT_EQ(o.status, DecodeStatus::kOk) << o.error.reason;
  EXPECT_EQ(o.consumed, 8u);  // the payload follows
  EXPECT_EQ(o.header.object_id_delta, 0u);
  EXPECT_EQ(o.header.extensions, hex("10800f4240"));  // Timestamp (0x10) = 1 000 000
  EXPECT_EQ(o.header.payload_length, 3u);
  EXPECT_EQ(std::vector<uint8_t>(rest.begin() + o.consumed, rest.end()), hex("658884"));
  EXPECT_EQ(object_bytes(o.header, true), hex("000510800f424003"));

  auto plain = hex("0003658884");
  auto p = decode_object_header(plain, false);
  ASSERT_EQ(p.status, DecodeStatus::kOk);
  EXPECT_EQ(p.consumed, 2u);
  EXPECT_EQ(p.header, (ObjectHeader{0, {}, 3, 0}));
  EXPECT_EQ(object_bytes(p.header, false), hex("0003"));
  SubgroupHeader no_ext{0x10, 0, 7, 0, 0};
  EXPECT_FALSE(no_ext.has_extensions());
  EXPECT_FALSE(no_ext.ends_group());
}

// ---- captured from moq-cli 0.14.10 (docs/captures.md §7) ----
// `moq --connect-version moq-transport-14` (moq-net 0.3.18) publishing
// (`import fmp4`) and subscribing (`export fmp4`) through our relay, which
// logged every control message and subgroup header it read at trace level.

TEST(IetfCaptured, ClientSetupFromMoqCli) {
  // 1 version (draft-14, an 8-byte varint: 0xff00000e ≥ 2^30), 4 params:
  // HIDDEN (0x40b5c) 1, SOLICIT (0x40b5a) 1, MAX_REQUEST_ID 2^32-1 and
  // IMPLEMENTATION "moq-lite-rs". The parameter order changes from run to
  // run (a hash map): the three orders seen all round-trip as they came.
  for (const char* h : {"20002a01c0000000ff00000e04"
                        "80040b5c0180040b5a0102c0000000ffffffff070b6d6f712d6c6974652d7273",
                        "20002a01c0000000ff00000e04"
                        "80040b5a0180040b5c0102c0000000ffffffff070b6d6f712d6c6974652d7273",
                        "20002a01c0000000ff00000e04"
                        "02c0000000ffffffff80040b5c0180040b5a01070b6d6f712d6c6974652d7273"}) {
    auto bytes = hex(h);
    auto m = decoded<ClientSetup>(bytes);
    EXPECT_EQ(m.versions, std::vector<uint64_t>{kDraft14});
    ASSERT_EQ(m.params.size(), 4u);
    EXPECT_EQ(find_param(m.params, setup_param::kMaxRequestId), 0xffffffffu);
    EXPECT_EQ(find_param(m.params, 0x40b5a), 1u);  // SOLICIT
    EXPECT_EQ(find_param(m.params, 0x40b5c), 1u);  // HIDDEN
    EXPECT_EQ(m.params[3].id, setup_param::kImplementation);
    EXPECT_EQ(std::string(m.params[3].bytes.begin(), m.params[3].bytes.end()), "moq-lite-rs");
    EXPECT_EQ(encoded(m), bytes);
  }
}

TEST(IetfCaptured, PublisherFromMoqCli) {
  // Its answer to our SUBSCRIBE_NAMESPACE (relay request 1, prefix ""),
  // then its PUBLISH_NAMESPACE (client request 0, ["cap"], no params).
  auto ok = hex("12000101");
  EXPECT_EQ(decoded<SubscribeNamespaceOk>(ok).request_id, 1u);
  EXPECT_EQ(encoded(SubscribeNamespaceOk{1}), ok);
  auto announce = hex("06000700010363617000");
  EXPECT_EQ(decoded<PublishNamespace>(announce), (PublishNamespace{0, {"cap"}, {}}));
  EXPECT_EQ(encoded(PublishNamespace{0, {"cap"}, {}}), announce);

  // SUBSCRIBE_OK to our SUBSCRIBEs 3 (catalog.json, nothing yet), 7
  // (1.m4s, largest {0, 2}) and 5 (0.m4s, largest {0, 0}): the track
  // alias is the request id, expires 0, group order 2 (descending), no
  // parameters (moq-net writes none on draft-14).
  auto catalog = hex("040006030300020000");
  EXPECT_EQ(decoded<SubscribeOk>(catalog), (SubscribeOk{3, 3, 0, 2, {}, {}}));
  EXPECT_EQ(encoded(SubscribeOk{3, 3, 0, 2, {}, {}}), catalog);
  auto audio = hex("0400080707000201000200");
  EXPECT_EQ(decoded<SubscribeOk>(audio), (SubscribeOk{7, 7, 0, 2, Location{0, 2}, {}}));
  EXPECT_EQ(encoded(SubscribeOk{7, 7, 0, 2, Location{0, 2}, {}}), audio);
  auto video = hex("0400080505000201000000");
  EXPECT_EQ(decoded<SubscribeOk>(video), (SubscribeOk{5, 5, 0, 2, Location{0, 0}, {}}));
  EXPECT_EQ(encoded(decoded<SubscribeOk>(video)), video);

  // At the end: PUBLISH_NAMESPACE_DONE ["cap"], then PUBLISH_DONE per
  // track: status 2 (track ended) with its stream count, or, when the
  // importer failed, status 0 "internal error".
  auto gone = hex("0900050103636170");
  EXPECT_EQ(decoded<PublishNamespaceDone>(gone).track_namespace, Namespace{"cap"});
  EXPECT_EQ(encoded(PublishNamespaceDone{{"cap"}}), gone);
  auto ended = hex("0b000f0702090b747261636b20656e646564");
  EXPECT_EQ(decoded<PublishDone>(ended),
            (PublishDone{7, publish_done::kTrackEnded, 9, "track ended"}));
  EXPECT_EQ(encoded(PublishDone{7, publish_done::kTrackEnded, 9, "track ended"}), ended);
  auto failed =
      hex("0b001203000"
          "70e696e7465726e616c206572726f72");
  EXPECT_EQ(decoded<PublishDone>(failed),
            (PublishDone{3, publish_done::kInternal, 7, "internal error"}));
  EXPECT_EQ(encoded(decoded<PublishDone>(failed)), failed);
}

TEST(IetfCaptured, SubscriberFromMoqCli) {
  // `moq export`: it answers our SUBSCRIBE_NAMESPACE too (it is a
  // publisher of nothing), then sends its own: request 0, prefix "".
  auto sub_ns = hex("110003000000");
  EXPECT_EQ(decoded<SubscribeNamespace>(sub_ns), (SubscribeNamespace{0, {}, {}}));
  EXPECT_EQ(encoded(SubscribeNamespace{0, {}, {}}), sub_ns);
  // PUBLISH_NAMESPACE_OK to our PUBLISH_NAMESPACEs 3 ("cap") and 5 ("cap.hang").
  EXPECT_EQ(decoded<PublishNamespaceOk>(hex("07000103")).request_id, 3u);
  EXPECT_EQ(encoded(PublishNamespaceOk{5}), hex("07000105"));
  // SUBSCRIBE 2 ["cap"] "catalog.json": priority 255, group order 2
  // (descending), forward 1, filter 2 (LargestObject), no parameters.
  auto catalog =
      hex("0300180201036361700c63617461"
          "6c6f672e6a736f6eff02010200");
  auto s = decoded<Subscribe>(catalog);
  EXPECT_EQ(s.request_id, 2u);
  EXPECT_EQ(s.track_namespace, Namespace{"cap"});
  EXPECT_EQ(s.track_name, "catalog.json");
  EXPECT_EQ(s.subscriber_priority, 255);
  EXPECT_EQ(s.group_order, 2);
  EXPECT_EQ(s.forward, 1);
  EXPECT_EQ(s.filter_type, filter::kLargestObject);
  EXPECT_FALSE(s.start);
  EXPECT_TRUE(s.params.empty());
  EXPECT_EQ(encoded(s), catalog);
  // Then 4 "1.m4s" and 6 "0.m4s" (their order varies), same fields.
  auto audio =
      hex("030011040103636170053"
          "12e6d3473ff02010200");
  auto a = decoded<Subscribe>(audio);
  EXPECT_EQ(a.request_id, 4u);
  EXPECT_EQ(a.track_name, "1.m4s");
  EXPECT_EQ(encoded(a), audio);
  // UNSUBSCRIBE of the tracks left when one of them got PUBLISH_DONE.
  EXPECT_EQ(decoded<Unsubscribe>(hex("0a000104")).request_id, 4u);
  EXPECT_EQ(encoded(Unsubscribe{2}), hex("0a000102"));
}

TEST(IetfCaptured, SubgroupsFromMoqCli) {
  // Video (0.m4s, alias 5 = our request id): type 0x19, group 0, publisher
  // priority 0xc3; audio (alias 7) 0xaf; catalog (alias 3) 0x9b. One
  // stream per group, subgroup 0, no zero-length status objects: the FIN
  // of a 0x19 stream ends the group.
  const std::vector<std::pair<std::string, SubgroupHeader>> headers{
      {"190500c3", {0x19, 5, 0, 0, 0xc3}},
      {"190700af", {0x19, 7, 0, 0, 0xaf}},
      {"1903009b", {0x19, 3, 0, 0, 0x9b}},
      {"1903069b", {0x19, 3, 6, 0, 0x9b}},
  };
  for (const auto& [h, want] : headers) {
    auto bytes = hex(h);
    auto d = decode_subgroup_header(bytes);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << h;
    EXPECT_EQ(d.header, want) << h;
    std::vector<uint8_t> out;
    encode(d.header, out);
    EXPECT_EQ(out, bytes);
  }

  // The first two video objects of group 0: id delta 0 both times (the
  // second is object 1: delta = id - previous - 1), a 5-BYTE extension
  // block holding one KVP, Timestamp (0x10) = 155722 then 156234 (+512:
  // 30 fps in the mdhd timescale 15360), payloads of 5193 and 1413 bytes
  // (moof+mdat).
  auto stream =
      hex("190500c3"
          "0005108002604a5449"
          "0000006c6d6f6f66");
  auto h = decode_subgroup_header(stream);
  ASSERT_EQ(h.status, DecodeStatus::kOk);
  auto first = decode_object_header(std::span(stream).subspan(h.consumed), true);
  ASSERT_EQ(first.status, DecodeStatus::kOk) << first.error.reason;
  EXPECT_EQ(first.consumed, 9u);
  EXPECT_EQ(first.header, (ObjectHeader{0, hex("108002604a"), 5193, 0}));
  EXPECT_EQ(object_bytes(first.header, true), hex("0005108002604a5449"));
  auto second = decode_object_header(hex("0005108002624a4585"), true);
  ASSERT_EQ(second.status, DecodeStatus::kOk);
  EXPECT_EQ(second.header, (ObjectHeader{0, hex("108002624a"), 1413, 0}));
  EXPECT_EQ(object_bytes(second.header, true), hex("0005108002624a4585"));

  // Audio: Timestamp 486633 at 48000 Hz (then +1024 per AAC frame), 324 bytes.
  auto audio = decode_object_header(hex("00051080076ce94144"), true);
  ASSERT_EQ(audio.status, DecodeStatus::kOk);
  EXPECT_EQ(audio.header, (ObjectHeader{0, hex("1080076ce9"), 324, 0}));
  EXPECT_EQ(object_bytes(audio.header, true), hex("00051080076ce94144"));

  // Catalog: a 9-byte block, Timestamp as an 8-byte varint = 218234831075
  // (ms since 2020-01-01, moq-net's wall clock), then 2341 bytes of JSON.
  auto catalog =
      hex("000910c000003"
          "2cfcf40e34925"
          "7b22766964656f");
  auto c = decode_object_header(catalog, true);
  ASSERT_EQ(c.status, DecodeStatus::kOk);
  EXPECT_EQ(c.consumed, 13u);
  EXPECT_EQ(c.header, (ObjectHeader{0, hex("10c0000032cfcf40e3"), 2341, 0}));
  EXPECT_EQ(object_bytes(c.header, true), hex("000910c0000032cfcf40e34925"));
  // Read as a COUNT of extensions (moqtap-codec's draft-14 reading), the
  // 05 of the video object would announce 5 KVPs and run into the payload.
}

// ---- hostile input ----

TEST(IetfHostile, UnknownTypesAreErrors) {
  // Besides types draft-14 does not have: 0x0e/0x0f (TRACK_STATUS_OK and
  // _ERROR in moq-net's draft-14), 0x18 FETCH_OK and 0x1e PUBLISH_OK,
  // which only answer requests the relay never sends, and 0x2f00 (SETUP
  // of draft-17+).
  for (uint64_t type : {0x00, 0x01, 0x0e, 0x0f, 0x18, 0x1b, 0x1e, 0x22, 0x40, 0x2f00}) {
    std::vector<uint8_t> bytes;
    Writer w(bytes);
    w.varint(type);
    bytes.insert(bytes.end(), {0x00, 0x01, 0x00});
    DecodedControl d = decode_control(bytes);
    EXPECT_EQ(d.status, DecodeStatus::kError) << type;
    EXPECT_EQ(d.error.code, close_code::kProtocolViolation) << type;
  }
}

TEST(IetfHostile, NeedsMoreUntilTheWholePayload) {
  for (const Control& m : one_of_each()) {
    std::vector<uint8_t> bytes = encoded(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_EQ(decode_control(std::span(bytes).first(n)).status, DecodeStatus::kNeedMore)
          << control_name(m) << " " << n;
    }
    EXPECT_EQ(decode_control(bytes).status, DecodeStatus::kOk) << control_name(m);
  }
}

TEST(IetfHostile, PayloadWithBytesLeftOver) {
  EXPECT_EQ(status_of(hex("150003406400")), DecodeStatus::kError);  // MAX_REQUEST_ID + 1 byte
  EXPECT_EQ(status_of(hex("0a00020000")), DecodeStatus::kError);    // UNSUBSCRIBE + 1 byte
  EXPECT_EQ(status_of(hex("04000700000002000000")), DecodeStatus::kError);
  DecodedControl d =
      decode_control(hex("09000b010862626"
                         "22e68616e6700"));
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.code, close_code::kProtocolViolation);
  EXPECT_NE(d.error.reason.find("left over"), std::string::npos) << d.error.reason;
}

TEST(IetfHostile, PayloadShorterThanItsFields) {
  // A 2-byte varint cut by the length; a SUBSCRIBE_OK without its params;
  // an empty CLIENT_SETUP; a string longer than the payload.
  for (const char* h : {"15000140", "0400050000000200", "200000", "10000105", "0a0000",
                        "03001c000108626262"
                        "2e68616e670c636174616c6f672e6a736f6e64020102"}) {
    DecodedControl d = decode_control(hex(h));
    EXPECT_EQ(d.status, DecodeStatus::kError) << h;
    EXPECT_EQ(d.error.code, close_code::kProtocolViolation) << h;
  }
  // Whole messages never need more than their length says.
  EXPECT_EQ(status_of(hex("06000101")), DecodeStatus::kError);
}

TEST(IetfHostile, StringLongerThanTheReaderCapIsAViolation) {
  // GOAWAY whose URI claims 65 536 bytes: the reader's string cap, not the
  // payload, refuses it, and the session must still see a protocol
  // violation (it treats any other code as a reset control stream).
  DecodedControl d = decode_control(hex("10000480010001"));
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.code, close_code::kProtocolViolation) << d.error.reason;
}

std::vector<uint8_t> publish_namespace_of_parts(size_t parts) {
  std::vector<uint8_t> out;
  PublishNamespace m{1, Namespace(parts, "p"), {}};
  // encode() itself does not check the limit: the peer's bytes are what count.
  EXPECT_TRUE(encode(m, out));
  return out;
}

TEST(IetfHostile, NamespaceOf33Parts) {
  EXPECT_EQ(status_of(publish_namespace_of_parts(32)), DecodeStatus::kOk);
  DecodedControl d = decode_control(publish_namespace_of_parts(33));
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.code, close_code::kProtocolViolation);
  // Also where the count alone is absurd (no parts follow).
  EXPECT_EQ(status_of(hex("09000480ffffff")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("110003002100")), DecodeStatus::kError);  // SUBSCRIBE_NAMESPACE
  EXPECT_EQ(status_of(hex("0900022100")), DecodeStatus::kError);    // PUBLISH_NAMESPACE_DONE
}

TEST(IetfHostile, MoreThan64Params) {
  auto with_params = [](size_t n) {
    SubscribeNamespace m{2, {}, std::vector<Param>(n, Param{2, 1, {}})};
    std::vector<uint8_t> out;
    EXPECT_TRUE(encode(m, out));
    return out;
  };
  EXPECT_EQ(status_of(with_params(64)), DecodeStatus::kOk);
  EXPECT_EQ(status_of(with_params(65)), DecodeStatus::kError);
  // A huge count with nothing after it.
  EXPECT_EQ(status_of(hex("210010c0000000ff00000ec0ffffffffffffff") /* 8-byte count */),
            DecodeStatus::kError);
  // Versions: none, or more than 64.
  EXPECT_EQ(status_of(hex("2000020000")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("2000024041")), DecodeStatus::kError);
  // An odd parameter longer than the payload.
  EXPECT_EQ(status_of(hex("2100070e010305616263")), DecodeStatus::kError);
}

TEST(IetfHostile, BadGroupOrderForwardAndFlags) {
  // SUBSCRIBE with group order 3; forward 2; then valid for contrast.
  const std::string head = "03000b00010161017464";
  EXPECT_EQ(status_of(hex(head + "03010200")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex(head + "02020200")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex(head + "00000200")), DecodeStatus::kOk);
  // SUBSCRIBE_OK with group order 3, and with content_exists 2.
  EXPECT_EQ(status_of(hex("040006000000030000")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("0400080000000202070300")), DecodeStatus::kError);
  // SUBSCRIBE_UPDATE with forward 2.
  EXPECT_EQ(status_of(hex("0200080204000000640200")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("0200080204000000640100")), DecodeStatus::kOk);
}

TEST(IetfHostile, InvalidFilterType) {
  const std::string head = "03000b000101610174640201";
  for (const char* type : {"00", "05", "06"}) {
    DecodedControl d = decode_control(hex(head + type + "00"));
    EXPECT_EQ(d.status, DecodeStatus::kError) << type;
    EXPECT_NE(d.error.reason.find("filter type"), std::string::npos) << d.error.reason;
  }
  // AbsoluteStart and AbsoluteRange read their locations.
  auto start = decoded<Subscribe>(hex("03000d00010161017464020103070300"));
  EXPECT_EQ(start.start, (Location{7, 3}));
  EXPECT_FALSE(start.end_group);
  auto range = decoded<Subscribe>(hex("03000e0001016101746402010407000900"));
  EXPECT_EQ(range.start, (Location{7, 0}));
  EXPECT_EQ(range.end_group, 9u);
  // AbsoluteStart without its location.
  EXPECT_EQ(status_of(hex("03000b0001016101746402010300")), DecodeStatus::kError);
}

TEST(IetfSubgroup, TypesOfDraft14) {
  for (uint64_t type = 0; type < 0x40; ++type) {
    const bool valid = (type >= 0x10 && type <= 0x15) || (type >= 0x18 && type <= 0x1d);
    EXPECT_EQ(is_subgroup_type(type), valid) << type;
    SubgroupHeader h{type, 5, 9, (type & 0x04) ? 2u : 0u, 64};
    std::vector<uint8_t> bytes;
    encode(h, bytes);
    auto d = decode_subgroup_header(bytes);
    if (valid) {
      ASSERT_EQ(d.status, DecodeStatus::kOk) << type;
      EXPECT_EQ(d.header, h);
      EXPECT_EQ(d.consumed, bytes.size());
      EXPECT_EQ(bytes.size(), (type & 0x04) ? 5u : 4u);
      for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_EQ(decode_subgroup_header(std::span(bytes).first(n)).status,
                  DecodeStatus::kNeedMore);
      }
    } else {
      EXPECT_EQ(d.status, DecodeStatus::kError) << type;
      // Rejected on the type alone, before the rest arrives.
      EXPECT_EQ(decode_subgroup_header(std::span(bytes).first(1)).status, DecodeStatus::kError)
          << type;
    }
  }
  for (const char* h : {"16000700", "17000700", "1e000700", "1f000700"}) {
    EXPECT_EQ(decode_subgroup_header(hex(h)).status, DecodeStatus::kError) << h;
  }
}

TEST(IetfSubgroup, ObjectSizesAndStatus) {
  // payload_length exactly 64 MiB is accepted, one more byte is not.
  std::vector<uint8_t> at_cap = object_bytes(ObjectHeader{0, {}, kMaxObjectSize, 0}, false);
  EXPECT_EQ(decode_object_header(at_cap, false).status, DecodeStatus::kOk);
  std::vector<uint8_t> over = object_bytes(ObjectHeader{0, {}, kMaxObjectSize + 1, 0}, false);
  auto d = decode_object_header(over, false);
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.code, close_code::kProtocolViolation);
  EXPECT_EQ(decode_object_header(hex("00c0ffffffffffffff"), false).status, DecodeStatus::kError);
  // An empty object carries a status: end of group.
  auto end = decode_object_header(hex("010003"), false);
  ASSERT_EQ(end.status, DecodeStatus::kOk);
  EXPECT_EQ(end.header, (ObjectHeader{1, {}, 0, object_status::kEndOfGroup}));
  EXPECT_EQ(object_bytes(end.header, false), hex("010003"));
  EXPECT_EQ(decode_object_header(hex("0100"), false).status, DecodeStatus::kNeedMore);
  // Extension blocks: empty, truncated (need more), over 64 KiB (error).
  auto empty = decode_object_header(hex("02000105"), true);
  ASSERT_EQ(empty.status, DecodeStatus::kOk);
  EXPECT_EQ(empty.header, (ObjectHeader{2, {}, 1, 0}));
  EXPECT_EQ(empty.consumed, 3u);
  EXPECT_EQ(decode_object_header(hex("000510800f42"), true).status, DecodeStatus::kNeedMore);
  EXPECT_EQ(decode_object_header(hex("0080010001"), true).status, DecodeStatus::kError);
  // Every prefix of a header needs more.
  auto full = object_bytes(ObjectHeader{3, hex("10800f4240"), 1000, 0}, true);
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(decode_object_header(std::span(full).first(n), true).status, DecodeStatus::kNeedMore)
        << n;
  }
  EXPECT_EQ(decode_object_header(full, true).consumed, full.size());
}

TEST(IetfHostile, UnsubscribeNamespaceTakesAnIdOrATuple) {
  // @moq/net 0.2.8 and moq-net 0.3.18: the SUBSCRIBE_NAMESPACE request id.
  auto id = decoded<UnsubscribeNamespace>(hex("14000102"));
  EXPECT_EQ(id.request_id, 2u);
  EXPECT_TRUE(id.prefix.empty());
  EXPECT_EQ(encoded(id), hex("14000102"));
  auto big =
      decoded<UnsubscribeNamespace>(hex("140002"
                                        "4123"));
  EXPECT_EQ(big.request_id, 0x123u);
  // The draft's naming: the namespace prefix tuple.
  auto tuple =
      decoded<UnsubscribeNamespace>(hex("140008"
                                        "020461"
                                        "6e6f6e0178"));
  EXPECT_FALSE(tuple.request_id);
  EXPECT_EQ(tuple.prefix, (Namespace{"anon", "x"}));
  EXPECT_EQ(encoded(tuple), hex("140008020461"
                                "6e6f6e0178"));
  // One empty part: two bytes, so a tuple.
  auto one_empty = decoded<UnsubscribeNamespace>(hex("1400020100"));
  EXPECT_FALSE(one_empty.request_id);
  EXPECT_EQ(one_empty.prefix, Namespace{""});
  // Ambiguous: the empty tuple is the single byte 00, read as request id 0.
  EXPECT_EQ(decoded<UnsubscribeNamespace>(hex("14000100")).request_id, 0u);
  // Neither: a tuple of 33 parts, a truncated tuple.
  EXPECT_EQ(status_of(hex("1400022100")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("140003020161")), DecodeStatus::kError);
  EXPECT_EQ(status_of(hex("140000")), DecodeStatus::kError);
}

// ---- helpers ----

TEST(IetfNamespace, PathsAndTuples) {
  EXPECT_EQ(namespace_of(""), Namespace{});
  EXPECT_EQ(namespace_of("bbb.hang"), Namespace{"bbb.hang"});
  EXPECT_EQ(namespace_of("anon/bbb.hang"), (Namespace{"anon", "bbb.hang"}));
  EXPECT_EQ(namespace_of("/a//b/"), (Namespace{"a", "b"}));
  EXPECT_EQ(path_of({}), "");
  EXPECT_EQ(path_of({"anon", "bbb.hang"}), "anon/bbb.hang");
  EXPECT_EQ(path_of({"", "a", "", "b"}), "a/b");
  for (const char* path : {"", "a", "anon/bbb.hang", "a/b/c/d"}) {
    EXPECT_EQ(path_of(namespace_of(path)), path);
  }
  EXPECT_TRUE(is_ietf_protocol("moq-00"));
  EXPECT_TRUE(is_ietf_protocol("moql"));
  EXPECT_FALSE(is_ietf_protocol("moqt-15"));
  EXPECT_FALSE(is_ietf_protocol("moq-lite-05"));
}

}  // namespace
}  // namespace moq::ietf
