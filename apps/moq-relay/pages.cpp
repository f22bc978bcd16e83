#include "pages.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <string_view>

#include "web_assets.h"

namespace moq::relay {
namespace {

constexpr std::string_view kConfigMarker = "<!--moq-config-->";

// The host part of a Host header ("example.com:4443" -> "example.com",
// "[::1]:80" -> "[::1]"); "localhost" when it is absent or not a plain host
// name or address (it ends up in a URL inside the page).
std::string host_of(std::string_view host_header) {
  std::string_view host = host_header;
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    host = close == std::string_view::npos ? std::string_view() : host.substr(0, close + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty() || host.size() > 253) return "localhost";
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return "localhost";
  }
  return std::string(host);
}

// JSON that is safe inside a <script> element: "<" only ever occurs inside
// JSON strings, where \u003c means the same.
std::string script_safe(std::string json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

http::Response html_page(const web::Asset& page, const http::Request& request,
                         const PagesConfig& config, std::string_view broadcast) {
  std::string body(page.body);
  const std::string script =
      "<script id=\"moq-config\" type=\"application/json\">" +
      page_config_json(request.header("host").value_or(""), config, broadcast) + "</script>";
  if (const size_t at = body.find(kConfigMarker); at != std::string::npos) {
    body.replace(at, kConfigMarker.size(), script);
  }
  http::Response response{200, "text/html; charset=utf-8", {}, std::move(body)};
  // The config inside depends on the request (host) and the certificate.
  response.headers.push_back({"Cache-Control", "no-store"});
  response.headers.push_back({"X-Content-Type-Options", "nosniff"});
  return response;
}

http::Response static_file(const web::Asset& asset, const http::Request& request) {
  const std::string etag = "\"" + std::string(asset.sha256) + "\"";
  http::Response response;
  response.content_type = std::string(web::content_type(asset.path));
  // Embedded in the binary: a new relay may serve new bytes under the same
  // name, so browsers revalidate (a cheap 304) rather than trust an age.
  response.headers.push_back({"Cache-Control", "no-cache"});
  response.headers.push_back({"ETag", etag});
  response.headers.push_back({"X-Content-Type-Options", "nosniff"});
  if (request.header("if-none-match") == etag) {
    response.status = 304;
    return response;
  }
  response.body = std::string(asset.body);
  return response;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, n);
}

http::Response broadcasts_json(const PagesConfig& config) {
  nlohmann::json list = nlohmann::json::array();
  const auto now = std::chrono::system_clock::now();
  for (const Origins::Listing& b :
       config.broadcasts ? config.broadcasts() : std::vector<Origins::Listing>{}) {
    nlohmann::json entry{
        {"name", b.name},
        {"started", iso8601(b.started)},
        {"uptime_seconds",
         std::chrono::duration_cast<std::chrono::seconds>(now - b.started).count()},
        {"viewers", b.viewers},
        {"catalog", nullptr},
    };
    if (b.catalog) {
      // The publisher's bytes: listed when they are JSON, flagged otherwise.
      auto parsed = nlohmann::json::parse(*b.catalog, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        entry["catalog_error"] = "not JSON";
      } else {
        entry["catalog"] = std::move(parsed);
      }
    }
    list.push_back(std::move(entry));
  }
  nlohmann::json body{{"broadcasts", std::move(list)}};
  http::Response response{200,
                          "application/json",
                          {},
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  response.headers.push_back({"Cache-Control", "no-store"});
  response.headers.push_back({"Access-Control-Allow-Origin", "*"});
  return response;
}

http::Response not_found() {
  http::Response response = http::Response::text(404, "not found\n");
  response.headers.push_back({"Cache-Control", "no-store"});
  return response;
}

}  // namespace

std::string page_config_json(std::string_view host_header, const PagesConfig& config,
                             std::string_view broadcast) {
  nlohmann::json json{
      {"url", "https://" + host_of(host_header) + ":" + std::to_string(config.port)},
      {"fingerprint", config.fingerprint ? nlohmann::json(*config.fingerprint) : nullptr},
  };
  if (!broadcast.empty()) json["name"] = std::string(broadcast);
  return script_safe(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::optional<http::Response> pages_response(const http::Request& request,
                                             const PagesConfig& config) {
  const std::string_view path = request.path;
  auto page = [&](std::string_view file, std::string_view broadcast) -> http::Response {
    const web::Asset* asset = web::find_asset(file);
    return asset ? html_page(*asset, request, config, broadcast) : not_found();
  };
  if (path == "/" || path == "/index.html") return page("/index.html", "");
  for (std::string_view prefix : {std::string_view("/watch/"), std::string_view("/publish/")}) {
    if (!path.starts_with(prefix)) continue;
    const std::string name = broadcast_name(path.substr(prefix.size()));
    if (name.empty()) return not_found();
    return page(prefix == "/watch/" ? "/watch.html" : "/publish.html", name);
  }
  if (path.starts_with("/static/")) {
    const web::Asset* asset = web::find_asset(path.substr(std::string_view("/static").size()));
    return asset ? static_file(*asset, request) : not_found();
  }
  if (path == "/api/broadcasts") return broadcasts_json(config);
  return std::nullopt;
}

}  // namespace moq::relay
