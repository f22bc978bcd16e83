#include "cache/segment.h"

#include <algorithm>

namespace moq::cache {
namespace detail {

Result<void> Segment::write(Bytes chunk) {
  if (closed) return *closed;
  bytes += chunk.size();
  chunks.push_back(std::move(chunk));
  changed.notify_all();
  return {};
}

Result<void> Segment::start_frame(FrameStart frame) {
  if (closed) return *closed;
  frames.emplace_back(chunks.size(), frame);
  changed.notify_all();
  return {};
}

Result<void> Segment::close(Error error) {
  if (closed) return *closed;
  closed = std::move(error);
  changed.notify_all();
  return {};
}

}  // namespace detail

SegmentWriter::SegmentWriter(std::shared_ptr<detail::Segment> segment)
    : token_(std::make_shared<detail::WriterToken<detail::Segment>>(std::move(segment))) {}

Result<void> SegmentWriter::write(Bytes chunk) {
  if (!token_) return detail::empty_handle();
  return segment()->write(std::move(chunk));
}

Result<void> SegmentWriter::start_frame(FrameStart frame) {
  if (!token_) return detail::empty_handle();
  return segment()->start_frame(frame);
}

Result<void> SegmentWriter::close(Error error) {
  if (!token_) return detail::empty_handle();
  return segment()->close(std::move(error));
}

SegmentReader SegmentWriter::reader() const {
  return SegmentReader(segment());
}

SegmentReader::SegmentReader(std::shared_ptr<detail::Segment> segment)
    : segment_(std::move(segment)) {}

Result<std::optional<Bytes>> SegmentReader::try_next_chunk() {
  if (!segment_) return detail::empty_handle();
  if (next_chunk_ < segment_->chunks.size())
    return std::optional<Bytes>(segment_->chunks[next_chunk_++]);
  if (segment_->closed) return *segment_->closed;
  return std::optional<Bytes>();
}

asio::awaitable<Result<Bytes>> SegmentReader::next_chunk() {
  for (;;) {
    auto polled = try_next_chunk();
    if (!polled) co_return polled.error();
    if (*polled) co_return std::move(**polled);
    // Keep the state alive while parked, whatever happens to other handles.
    auto segment = segment_;
    const bool woke = co_await segment->changed.wait();
    if (!woke) co_return detail::cancelled();
  }
}

std::vector<FrameStart> SegmentReader::frames_at(size_t index) const {
  std::vector<FrameStart> out;
  if (!segment_) return out;
  const auto& frames = segment_->frames;
  auto it = std::lower_bound(frames.begin(), frames.end(), index,
                             [](const auto& f, size_t i) { return f.first < i; });
  for (; it != frames.end() && it->first == index; ++it)
    out.push_back(it->second);
  return out;
}

std::optional<Error> SegmentReader::closed() const {
  return segment_ ? segment_->closed : std::optional<Error>(detail::empty_handle());
}

std::pair<SegmentWriter, SegmentReader> make_segment(SegmentInfo info) {
  auto segment = std::make_shared<detail::Segment>(std::move(info));
  return {SegmentWriter(segment), SegmentReader(segment)};
}

}  // namespace moq::cache
