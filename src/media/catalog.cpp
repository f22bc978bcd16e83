#include "media/catalog.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace moq::media {

std::string to_json(const Catalog& catalog) {
  using nlohmann::ordered_json;
  ordered_json tracks = ordered_json::array();
  for (const CatalogTrack& t : catalog.tracks) {
    ordered_json j;
    j["container"] = t.container;
    j["kind"] = t.kind;
    j["init_track"] = t.init_track;
    j["data_track"] = t.data_track;
    j["codec"] = t.codec;
    if (t.width) j["width"] = *t.width;
    if (t.height) j["height"] = *t.height;
    if (t.frame_rate) {
      const double fps = *t.frame_rate;
      if (std::isfinite(fps) && fps == std::floor(fps) && fps >= 0 && fps < 1e9) {
        j["frame_rate"] = static_cast<uint64_t>(fps);
      } else if (std::isfinite(fps)) {
        j["frame_rate"] = fps;
      }
    }
    if (t.channel_count) j["channel_count"] = *t.channel_count;
    if (t.sample_rate) j["sample_rate"] = *t.sample_rate;
    if (t.sample_size) j["sample_size"] = *t.sample_size;
    if (t.bit_rate) j["bit_rate"] = *t.bit_rate;
    tracks.push_back(std::move(j));
  }
  ordered_json root;
  root["tracks"] = std::move(tracks);
  return root.dump();
}

namespace {

template <class T>
std::optional<T> number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    return it->get<double>();
  } else {
    if (!it->is_number_unsigned()) return std::nullopt;
    const uint64_t v = it->get<uint64_t>();
    if (v > std::numeric_limits<T>::max()) return std::nullopt;
    return static_cast<T>(v);
  }
}

}  // namespace

Result<Catalog> parse_catalog(std::string_view text) {
  const nlohmann::json root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Error::internal("catalog: not valid JSON");
  if (!root.is_object()) return Error::internal("catalog: not a JSON object");
  auto tracks = root.find("tracks");
  if (tracks == root.end() || !tracks->is_array()) {
    return Error::internal("catalog: missing \"tracks\" array");
  }
  Catalog out;
  for (const auto& j : *tracks) {
    if (!j.is_object()) return Error::internal("catalog: track is not an object");
    CatalogTrack t;
    for (auto [key, field] :
         {std::pair{"container", &t.container}, std::pair{"kind", &t.kind},
          std::pair{"init_track", &t.init_track}, std::pair{"data_track", &t.data_track}}) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_string()) {
        return Error::internal(std::string("catalog: track without string \"") + key + "\"");
      }
      *field = it->get<std::string>();
    }
    if (auto it = j.find("codec"); it != j.end() && it->is_string())
      t.codec = it->get<std::string>();
    t.width = number<uint32_t>(j, "width");
    t.height = number<uint32_t>(j, "height");
    t.frame_rate = number<double>(j, "frame_rate");
    t.channel_count = number<uint32_t>(j, "channel_count");
    t.sample_rate = number<uint32_t>(j, "sample_rate");
    t.sample_size = number<uint32_t>(j, "sample_size");
    t.bit_rate = number<uint64_t>(j, "bit_rate");
    out.tracks.push_back(std::move(t));
  }
  return out;
}

}  // namespace moq::media
