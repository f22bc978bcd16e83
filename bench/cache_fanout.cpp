// bench_cache_fanout [READERS] [SEGMENTS] [CHUNKS] [CHUNK_BYTES]
//
// One track writer, many readers polling the cache, as a relay's subscriber
// sessions do. Prints the time per chunk handed to a reader and the memory
// the cache holds, which must stay one copy of the media however many
// readers there are (chunks are shared, never copied per reader).

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cache/track.h"

namespace {

long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t readers = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  const size_t segments = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100;
  const size_t chunks = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 30;
  const size_t chunk_bytes = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 4096;

  const long rss_before = max_rss_kib();
  auto [writer, first] = moq::cache::make_track("video");
  std::vector<moq::cache::TrackReader> track_readers(readers, first);
  std::vector<std::optional<moq::cache::SegmentReader>> current(readers);

  size_t handed = 0;
  size_t shared = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t s = 0; s < segments; ++s) {
    auto seg = writer.create_segment({s, static_cast<int32_t>(s), std::nullopt});
    if (!seg) return 1;
    for (size_t c = 0; c < chunks; ++c) {
      const moq::Bytes chunk(std::vector<uint8_t>(chunk_bytes, static_cast<uint8_t>(c)));
      (void)seg->write(chunk);
      // Every reader catches up, as its session would when woken.
      for (size_t r = 0; r < readers; ++r) {
        if (!current[r]) {
          auto next = track_readers[r].try_next_segment();
          if (!next || !next.value()) continue;
          current[r] = std::move(*next.value());
        }
        for (;;) {
          auto got = current[r]->try_next_chunk();
          if (!got || !got.value()) break;
          ++handed;
          if (got.value()->shares_storage_with(chunk)) ++shared;
        }
      }
    }
    (void)seg->finish();
    for (auto& c : current)
      c.reset();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double media_mib = double(segments * chunks * chunk_bytes) / (1 << 20);
  std::printf("readers %zu, segments %zu x %zu chunks of %zu bytes (%.1f MiB of media)\n", readers,
              segments, chunks, chunk_bytes, media_mib);
  std::printf("chunks handed to readers: %zu in %.3f s = %.1f ns per chunk per reader\n", handed,
              secs, secs * 1e9 / double(handed ? handed : 1));
  std::printf("chunks that were the writer's own buffer (no copy): %zu of %zu\n", shared, handed);
  std::printf(
      "max RSS grew by %.1f MiB (the media itself: %.1f MiB; a copy per reader would be "
      "%.0f MiB)\n",
      double(max_rss_kib() - rss_before) / 1024, media_mib, media_mib * double(readers));
  return shared == handed ? 0 : 1;
}
