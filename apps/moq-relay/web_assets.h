#pragma once

#include <span>
#include <string_view>

namespace moq::web {

// A file of the relay's web pages (the project's web/ folder), embedded into
// the binary at build time (cmake/embed_files.cmake).
struct Asset {
  std::string_view path;    // "/watch.js": its path under web/, with a leading "/"
  std::string_view body;    // its bytes
  std::string_view sha256;  // lowercase hex of the bytes: the ETag
};

// Every embedded file.
std::span<const Asset> assets();

// The file at `path` ("/watch.js"), or null.
const Asset* find_asset(std::string_view path);

// The Content-Type for a file name, by its extension.
std::string_view content_type(std::string_view path);

}  // namespace moq::web
