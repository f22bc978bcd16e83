#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"
#include "origins.h"

namespace moq::relay {

// The relay's web pages (issue 11), served by its HTTP listener:
//   GET /                the live broadcasts (index.html, refreshing itself)
//   GET /watch/NAME      the player for broadcast NAME (watch.html)
//   GET /publish/NAME    publishing from the browser (publish.html)
//   GET /static/FILE     the pages' scripts and styles (the web/ folder,
//                        embedded at build time; ETag + revalidation)
//   GET /api/broadcasts  the index's data, JSON
// Each HTML page gets the relay's WebTransport URL and, for a development
// certificate, its SHA-256 (for serverCertificateHashes) in place of the
// marker <!--moq-config--> as <script id="moq-config" type="application/json">.
struct PagesConfig {
  uint16_t port = 0;                       // the relay's UDP port (WebTransport)
  std::optional<std::string> fingerprint;  // lowercase hex; null: a CA-signed certificate
  std::function<std::vector<Origins::Listing>()> broadcasts;
};

// The response for a page route, or nullopt when `request` is for another
// route. Only GET and HEAD reach it.
std::optional<http::Response> pages_response(const http::Request& request,
                                             const PagesConfig& config);

// The config JSON embedded into the pages, for the host the browser used
// (its Host header, so that a page opened by IP address connects there).
std::string page_config_json(std::string_view host_header, const PagesConfig& config,
                             std::string_view broadcast);

}  // namespace moq::relay
