#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cache/segment.h"
#include "coding/result.h"
#include "lite/framer.h"

namespace moq::lite {

// Pulls a segment's frames. A segment whose publisher marked its frames
// (moq-lite, IETF) gives them as they were sent; a KIXEL_00 object is cut
// by a Framer (fMP4 fragments, or the whole object).
class FrameReader {
 public:
  FrameReader(cache::SegmentReader segment, uint32_t timescale)
      : segment_(std::move(segment)), timescale_(timescale) {}

  // The next frame; nullopt after the last one; an error if the segment
  // was reset or is not well-formed.
  asio::awaitable<Result<std::optional<Frame>>> next() {
    for (;;) {
      if (!ready_.empty()) {
        Frame f = std::move(ready_.front());
        ready_.erase(ready_.begin());
        co_return std::optional<Frame>(std::move(f));
      }
      if (done_) co_return std::optional<Frame>();
      if (!framer_ && head_.empty() && (marked_ || segment_.frame_count() > 0)) {
        marked_ = true;
        auto r = co_await next_marked();
        if (!r) co_return r.error();
        continue;
      }
      const size_t index = segment_.next_chunk_index();
      auto chunk = co_await segment_.next_chunk();
      if (chunk && !framer_ && head_.empty() && segment_.frame_count() > 0) {
        // The frame starts came with this first chunk: a marked segment.
        marked_ = true;
        pending_ = std::make_pair(index, std::move(*chunk));
        continue;
      }
      if (!chunk) {
        if (!chunk.error().is_closed()) co_return chunk.error();
        if (segment_.frame_count() > 0 && !framer_ && head_.empty()) {
          marked_ = true;  // only zero-size frames
          continue;
        }
        if (auto r = cut(true); !r) co_return r.error();
        if (!framer_) framer_ = Framer::for_segment(Bytes(), timescale_);
        if (auto r = framer_->finish(ready_); !r) co_return r.error();
        done_ = true;
        continue;
      }
      if (framer_) {
        if (auto r = framer_->push(std::move(*chunk), ready_); !r) co_return r.error();
        continue;
      }
      // The cut is chosen from the first 8 bytes, which may come in pieces.
      head_bytes_ += chunk->size();
      head_.push_back(std::move(*chunk));
      if (head_bytes_ >= 8) {
        if (auto r = cut(false); !r) co_return r.error();
      }
    }
  }

 private:
  // Chooses the Framer from the head and feeds it the head.
  Result<void> cut(bool at_end) {
    if (framer_ || (head_.empty() && !at_end)) return {};
    framer_ = Framer::for_segment(join_head(), timescale_);
    for (auto& b : head_) {
      if (auto r = framer_->push(std::move(b), ready_); !r) return r;
    }
    head_.clear();
    return {};
  }

  // Marked frames: one frame start, then chunks until its size is reached.
  asio::awaitable<Result<void>> next_marked() {
    for (;;) {
      if (current_ && remaining_ == 0) {
        ready_.push_back(std::move(*current_));
        current_.reset();
        co_return Result<void>();
      }
      if (!current_ && next_mark_ < segment_.frame_count()) {
        const auto& [index, start] = segment_.frame(next_mark_);
        const size_t at = pending_ ? pending_->first : segment_.next_chunk_index();
        if (index == at) {
          ++next_mark_;
          current_ = Frame{{}, start.size, start.timestamp};
          remaining_ = start.size;
          continue;
        }
      }
      Result<Bytes> chunk = Error::closed();
      size_t index = segment_.next_chunk_index();
      if (pending_) {
        index = pending_->first;
        chunk = std::move(pending_->second);
        pending_.reset();
      } else {
        chunk = co_await segment_.next_chunk();
      }
      if (chunk && !current_ && next_mark_ < segment_.frame_count() &&
          segment_.frame(next_mark_).first == index) {
        // Its frame start came with it (it was not there before the wait).
        pending_ = std::make_pair(index, std::move(*chunk));
        continue;
      }
      if (!chunk) {
        if (!chunk.error().is_closed()) co_return chunk.error();
        if (current_ || next_mark_ < segment_.frame_count()) {
          // Zero-size frames at the very end are fine; a short one is not.
          if (!current_ && segment_.frame(next_mark_).first == segment_.next_chunk_index()) {
            continue;
          }
          co_return Error{code::kInternal, "segment ended inside a frame"};
        }
        done_ = true;
        co_return Result<void>();
      }
      if (!current_ || chunk->size() > remaining_) {
        co_return Error{code::kInternal, "segment bytes outside its frames (chunk " +
                                             std::to_string(segment_.next_chunk_index() - 1) +
                                             " of " + std::to_string(chunk->size()) + " bytes, " +
                                             std::to_string(remaining_) +
                                             " left in the frame, mark " +
                                             std::to_string(next_mark_) + "/" +
                                             std::to_string(segment_.frame_count()) + ")"};
      }
      remaining_ -= chunk->size();
      current_->parts.push_back(std::move(*chunk));
    }
  }

  Bytes join_head() const {
    if (head_.size() == 1) return head_[0];
    std::vector<uint8_t> v;
    for (const auto& b : head_)
      v.insert(v.end(), b.data(), b.data() + b.size());
    return Bytes(std::move(v));
  }
  cache::SegmentReader segment_;
  uint32_t timescale_;
  std::unique_ptr<Framer> framer_;
  std::vector<Bytes> head_;
  size_t head_bytes_ = 0;
  std::vector<Frame> ready_;
  bool done_ = false;
  // Marked frames.
  bool marked_ = false;
  size_t next_mark_ = 0;
  std::optional<Frame> current_;
  uint64_t remaining_ = 0;
  std::optional<std::pair<size_t, Bytes>> pending_;  // a chunk read before we knew
};

}  // namespace moq::lite
