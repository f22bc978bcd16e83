// web/mp4-writer.js read back by the player's parser (web/mp4.js):
//   node --test tests/browser/mp4_writer_test.mjs
// (The browser test checks the same output against ffprobe/ffmpeg.)

import test from 'node:test';
import assert from 'node:assert/strict';
import { initSegment, fragment } from '../../web/mp4-writer.js';
import { parseInit, parseFragments } from '../../web/mp4.js';

const avcC = new Uint8Array([1, 0x42, 0xc0, 0x1f, 0xff, 0xe0, 0x00]);

test('the init segment carries both tracks as the player reads them', () => {
  const init = parseInit(
    initSegment([
      { id: 1, kind: 'video', timescale: 90000, width: 1280, height: 720, avcC },
      { id: 2, kind: 'audio', timescale: 48000, channelCount: 1, preSkip: 312 },
    ]),
  );
  const [video, audio] = init.tracks;
  assert.deepEqual([video.id, video.kind, video.codec, video.width, video.height, video.timescale], [1, 'video', 'avc1.42c01f', 1280, 720, 90000]);
  assert.deepEqual(Array.from(video.description), Array.from(avcC));
  assert.deepEqual([audio.id, audio.kind, audio.codec, audio.sampleRate, audio.channelCount, audio.timescale], [2, 'audio', 'opus', 48000, 1, 48000]);
});

test('fragments are self-contained: samples, times and keyframes survive concatenation', () => {
  const init = parseInit(initSegment([{ id: 1, kind: 'video', timescale: 90000, width: 640, height: 360, avcC }]));
  const key = fragment({ sequenceNumber: 1, trackId: 1, baseDecodeTime: 2 ** 33 + 90000, samples: [{ data: new Uint8Array([1, 2, 3]), duration: 3000, keyframe: true }] });
  const delta = fragment({ sequenceNumber: 2, trackId: 1, baseDecodeTime: 2 ** 33 + 93000, samples: [{ data: new Uint8Array([4]), duration: 3000, keyframe: false, compositionOffset: -1 }] });
  const segment = new Uint8Array(key.length + delta.length);
  segment.set(key);
  segment.set(delta, key.length);
  const samples = parseFragments(segment, init);
  assert.equal(samples.length, 2);
  assert.deepEqual(samples.map((s) => [Array.from(s.data), s.keyframe, s.decodeTime]), [
    [[1, 2, 3], true, 2 ** 33 + 90000],
    [[4], false, 2 ** 33 + 93000],
  ]);
  assert.equal(samples[0].duration, 33333);
});
