#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moq::pubsub_test {

// A fragmented MP4 split the way moq-pub and moq-sub see it, for comparing
// what went in with what came out.
struct Mp4File {
  struct Fragment {
    uint32_t track_id = 0;
    uint64_t decode_ms = 0;  // tfdt in milliseconds
    bool keyframe = false;
    std::string bytes;  // moof + mdat, exactly as in the file
  };

  std::string init;                 // ftyp + moov
  std::vector<Fragment> fragments;  // in file order
  std::string error;                // empty when the file parsed

  // Each track's moof+mdat pairs in order: what the broadcast carries per
  // data track, independent of how the tracks interleave in the file.
  std::map<uint32_t, std::vector<std::string>> per_track() const;
};

Mp4File parse_mp4(const std::string& bytes);

}  // namespace moq::pubsub_test
