// Fragmented MP4 (ISO BMFF) writing for the publish page: the init segment
// (ftyp+moov with every track and empty sample tables) and one moof+mdat per
// fragment, as the ecosystem's publishers produce them (see the spec's
// "Publishing conventions"). Plain JavaScript, browser and Node alike; the
// reading side is mp4.js.
//
//   initSegment([TrackDescription])        -> Uint8Array ftyp+moov
//   fragment({ sequenceNumber, trackId, baseDecodeTime, samples }) -> Uint8Array moof+mdat
//
// A TrackDescription is
//   { id, kind: 'video', timescale, width, height, avcC }           (H.264, avc1)
//   { id, kind: 'audio', timescale: 48000, channelCount, preSkip }  (Opus, ISO/IEC 23003-5 style 'Opus'+'dOps')

const encoder = new TextEncoder();

// Big-endian field writer that grows as needed.
class Fields {
  constructor() {
    this.bytes = new Uint8Array(128);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
  }

  #reserve(n) {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v) {
    this.#reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
    return this;
  }

  u16(v) {
    this.#reserve(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  i16(v) {
    this.#reserve(2);
    this.view.setInt16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v) {
    this.#reserve(4);
    this.view.setUint32(this.length, v >>> 0);
    this.length += 4;
    return this;
  }

  i32(v) {
    this.#reserve(4);
    this.view.setInt32(this.length, v);
    this.length += 4;
    return this;
  }

  // Media times stay below 2^53 µs, so a Number carries them exactly.
  u64(v) {
    this.u32(Math.floor(v / 2 ** 32));
    return this.u32(v % 2 ** 32);
  }

  zeros(n) {
    this.#reserve(n);
    this.bytes.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  fourcc(s) {
    return this.raw(encoder.encode(s));
  }

  raw(bytes) {
    this.#reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  finish() {
    return this.bytes.slice(0, this.length);
  }
}

function concat(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

// A box: 32-bit size, type, then the body parts (Uint8Arrays or Fields).
function box(type, ...parts) {
  const body = concat(parts.map((p) => (p instanceof Fields ? p.finish() : p)));
  return new Fields().u32(8 + body.length).fourcc(type).raw(body).finish();
}

// A FullBox: version and 24 bits of flags before the body.
function fullBox(type, version, flags, ...parts) {
  return box(type, new Fields().u8(version).u8((flags >> 16) & 0xff).u16(flags & 0xffff), ...parts);
}

// The identity transform of mvhd/tkhd (16.16 and 2.30 fixed point).
function unityMatrix(f) {
  for (const v of [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000]) f.u32(v);
  return f;
}

// ---------------------------------------------------------------- init segment

function ftyp() {
  const f = new Fields().fourcc('isom').u32(0x200);
  for (const brand of ['isom', 'iso6', 'mp41', 'avc1', 'Opus']) f.fourcc(brand);
  return box('ftyp', f);
}

function mvhd(nextTrackId) {
  const f = new Fields()
    .u32(0) // creation_time
    .u32(0) // modification_time
    .u32(1000) // timescale: only durations here, and those are 0 (live)
    .u32(0) // duration
    .u32(0x00010000) // rate 1.0
    .u16(0x0100) // volume 1.0
    .zeros(10);
  unityMatrix(f).zeros(24).u32(nextTrackId);
  return fullBox('mvhd', 0, 0, f);
}

function tkhd(track) {
  const f = new Fields()
    .u32(0) // creation_time
    .u32(0) // modification_time
    .u32(track.id)
    .u32(0) // reserved
    .u32(0) // duration: unknown, fragments follow
    .zeros(8)
    .u16(0) // layer
    .u16(0) // alternate_group
    .u16(track.kind === 'audio' ? 0x0100 : 0) // volume
    .u16(0);
  unityMatrix(f);
  f.u32((track.width || 0) * 0x10000).u32((track.height || 0) * 0x10000);
  return fullBox('tkhd', 0, 0x3, f); // enabled | in movie
}

function mdhd(track) {
  const f = new Fields()
    .u32(0)
    .u32(0)
    .u32(track.timescale)
    .u32(0)
    .u16(0x55c4) // language 'und', three 5-bit letters
    .u16(0);
  return fullBox('mdhd', 0, 0, f);
}

function hdlr(track) {
  const handler = track.kind === 'video' ? 'vide' : 'soun';
  const name = track.kind === 'video' ? 'VideoHandler' : 'SoundHandler';
  const f = new Fields().u32(0).fourcc(handler).zeros(12).raw(encoder.encode(name)).u8(0);
  return fullBox('hdlr', 0, 0, f);
}

// avc1 VisualSampleEntry (ISO 14496-12 §12.1.3) with its avcC (14496-15).
function avc1(track) {
  const f = new Fields()
    .zeros(6)
    .u16(1) // data_reference_index
    .u16(0)
    .u16(0)
    .zeros(12)
    .u16(track.width)
    .u16(track.height)
    .u32(0x00480000) // 72 dpi
    .u32(0x00480000)
    .u32(0)
    .u16(1) // frame_count
    .zeros(32) // compressorname
    .u16(0x0018) // depth
    .i16(-1);
  return box('avc1', f, box('avcC', track.avcC));
}

// Opus AudioSampleEntry and its OpusSpecificBox (the Opus-in-ISOBMFF
// encapsulation): the sample rate field is always 48000, the real input
// rate goes in dOps.
function opus(track) {
  const f = new Fields()
    .zeros(6)
    .u16(1) // data_reference_index
    .zeros(8)
    .u16(track.channelCount)
    .u16(16) // samplesize
    .u16(0)
    .u16(0)
    .u32(48000 * 0x10000);
  const dOps = new Fields()
    .u8(0) // Version
    .u8(track.channelCount) // OutputChannelCount
    .u16(track.preSkip) // PreSkip, in 48 kHz samples
    .u32(track.inputSampleRate || 48000) // InputSampleRate
    .i16(0) // OutputGain
    .u8(0); // ChannelMappingFamily 0: mono or stereo, no mapping table
  return box('Opus', f, box('dOps', dOps));
}

function stbl(track) {
  const entry = track.kind === 'video' ? avc1(track) : opus(track);
  return box(
    'stbl',
    fullBox('stsd', 0, 0, new Fields().u32(1), entry),
    // Empty sample tables: every sample is in the fragments.
    fullBox('stts', 0, 0, new Fields().u32(0)),
    fullBox('stsc', 0, 0, new Fields().u32(0)),
    fullBox('stsz', 0, 0, new Fields().u32(0).u32(0)),
    fullBox('stco', 0, 0, new Fields().u32(0)),
  );
}

function trak(track) {
  const mediaHeader =
    track.kind === 'video'
      ? fullBox('vmhd', 0, 1, new Fields().u16(0).u16(0).u16(0).u16(0))
      : fullBox('smhd', 0, 0, new Fields().u16(0).u16(0));
  const dinf = box('dinf', fullBox('dref', 0, 0, new Fields().u32(1), fullBox('url ', 0, 1)));
  return box('trak', tkhd(track), box('mdia', mdhd(track), hdlr(track), box('minf', mediaHeader, dinf, stbl(track))));
}

function trex(track) {
  // Defaults are all 0: every fragment states its samples' duration, size and flags.
  return fullBox('trex', 0, 0, new Fields().u32(track.id).u32(1).u32(0).u32(0).u32(0));
}

export function initSegment(tracks) {
  if (!tracks.length) throw new Error('mp4: an init segment needs at least one track');
  const nextTrackId = Math.max(...tracks.map((t) => t.id)) + 1;
  const moov = box('moov', mvhd(nextTrackId), ...tracks.map(trak), box('mvex', ...tracks.map(trex)));
  return concat([ftyp(), moov]);
}

// ---------------------------------------------------------------- fragments

// Sample flags (ISO 14496-12 §8.8.3.1): a keyframe depends on no other sample
// (sample_depends_on = 2); anything else depends on others and is not a sync
// sample.
export const SYNC_SAMPLE_FLAGS = 0x02000000;
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

// One moof+mdat. samples: [{ data: Uint8Array, duration, keyframe,
// compositionOffset = 0 }] with duration and baseDecodeTime in the track's
// timescale. tfhd says default-base-is-moof, so the fragment is
// self-contained: the trun's data offset counts from the moof's first byte,
// wherever the fragment ends up.
export function fragment({ sequenceNumber, trackId, baseDecodeTime, samples }) {
  const TRUN_FLAGS = 0x1 | 0x100 | 0x200 | 0x400 | 0x800; // data offset, duration, size, flags, composition offset
  const mfhdSize = 16;
  const tfhdSize = 16;
  const tfdtSize = 20;
  const trunSize = 20 + 16 * samples.length;
  const moofSize = 8 + mfhdSize + 8 + tfhdSize + tfdtSize + trunSize;

  const trun = new Fields().u32(samples.length).i32(moofSize + 8); // data starts after the mdat header
  for (const s of samples) {
    trun
      .u32(s.duration)
      .u32(s.data.length)
      .u32(s.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS)
      .i32(s.compositionOffset || 0);
  }
  const moof = box(
    'moof',
    fullBox('mfhd', 0, 0, new Fields().u32(sequenceNumber)),
    box(
      'traf',
      fullBox('tfhd', 0, 0x020000, new Fields().u32(trackId)), // default-base-is-moof
      fullBox('tfdt', 1, 0, new Fields().u64(baseDecodeTime)),
      fullBox('trun', 1, TRUN_FLAGS, trun), // version 1: signed composition offsets
    ),
  );
  if (moof.length !== moofSize) throw new Error(`mp4: moof is ${moof.length} bytes, expected ${moofSize}`);
  const mdat = box('mdat', ...samples.map((s) => s.data));
  return concat([moof, mdat]);
}
