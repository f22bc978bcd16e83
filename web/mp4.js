// Fragmented MP4 (ISO BMFF) parsing for the player: just what a live fMP4
// stream from ffmpeg/moq-pub needs, in plain JavaScript, browser and Node alike.
//
//   parseInit(bytes)               ftyp+moov -> { tracks: [TrackInfo], trackById }
//   parseFragments(bytes, init)    one or more moof+mdat pairs -> samples
//   new FragmentStream(init)       the same, fed chunk by chunk as they arrive
//
// Every sample gets its time in microseconds (what WebCodecs wants):
// timestamp = decode time + composition offset, and a keyframe flag computed
// from trun/tfhd/trex sample flags.

function fourcc(bytes, at) {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

function viewOf(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// 64-bit big-endian unsigned as a Number (exact below 2^53, which media times are).
function readU64(view, at) {
  return view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
}

// The boxes directly inside bytes[start, end): [{ type, start, bodyStart, end }].
// A box that claims to run past `end` is an error: callers hand complete boxes.
export function listBoxes(bytes, start = 0, end = bytes.length) {
  const view = viewOf(bytes);
  const boxes = [];
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    const type = fourcc(bytes, at + 4);
    let bodyStart = at + 8;
    if (size === 1) {
      if (at + 16 > end) throw new Error(`mp4: truncated large size of '${type}'`);
      size = readU64(view, at + 8);
      bodyStart = at + 16;
    } else if (size === 0) {
      size = end - at; // "to the end of the enclosing container"
    }
    if (size < bodyStart - at || at + size > end) {
      throw new Error(`mp4: box '${type}' of size ${size} does not fit (at ${at}, end ${end})`);
    }
    boxes.push({ type, start: at, bodyStart, end: at + size });
    at += size;
  }
  return boxes;
}

function child(bytes, box, type) {
  return listBoxes(bytes, box.bodyStart, box.end).find((b) => b.type === type);
}

function children(bytes, box, type) {
  return listBoxes(bytes, box.bodyStart, box.end).filter((b) => b.type === type);
}

function path(bytes, box, ...types) {
  let at = box;
  for (const t of types) {
    if (!at) return undefined;
    at = child(bytes, at, t);
  }
  return at;
}

const hex2 = (n) => n.toString(16).padStart(2, '0');

// ---------------------------------------------------------------- init segment

// Sample entry layouts (ISO 14496-12 §12.1.3, §12.2.3): the fixed fields
// before the child boxes.
const VISUAL_SAMPLE_ENTRY_SIZE = 78;
const AUDIO_SAMPLE_ENTRY_SIZE = 28;

// MPEG-4 descriptors (ISO 14496-1 §7.2.2): tag, then a size in 1..4 bytes of 7 bits.
function readDescriptor(bytes, at, end) {
  const tag = bytes[at++];
  let size = 0;
  for (let i = 0; i < 4 && at < end; i++) {
    const b = bytes[at++];
    size = (size << 7) | (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { tag, bodyStart: at, end: Math.min(at + size, end) };
}

// esds -> { objectType, audioSpecificConfig }.
function parseEsds(bytes, box) {
  const end = box.end;
  let at = box.bodyStart + 4; // version + flags
  const es = readDescriptor(bytes, at, end);
  if (es.tag !== 0x03) throw new Error('mp4: esds without ES_Descriptor');
  at = es.bodyStart + 2; // ES_ID
  const esFlags = bytes[at++];
  if (esFlags & 0x80) at += 2; // streamDependenceFlag -> dependsOn_ES_ID
  if (esFlags & 0x40) at += 1 + bytes[at]; // URL_Flag -> URLlength, URLstring
  if (esFlags & 0x20) at += 2; // OCRstreamFlag -> OCR_ES_Id
  const dc = readDescriptor(bytes, at, es.end);
  if (dc.tag !== 0x04) throw new Error('mp4: esds without DecoderConfigDescriptor');
  const objectType = bytes[dc.bodyStart];
  let audioSpecificConfig = null;
  at = dc.bodyStart + 13;
  while (at < dc.end) {
    const d = readDescriptor(bytes, at, dc.end);
    if (d.tag === 0x05) audioSpecificConfig = bytes.slice(d.bodyStart, d.end);
    at = d.end;
  }
  return { objectType, audioSpecificConfig };
}

// The audio object type inside an AudioSpecificConfig (5 bits, 31 = escape).
function audioObjectType(asc) {
  if (!asc || asc.length < 1) return 2; // AAC-LC is what every encoder here writes
  const aot = asc[0] >> 3;
  if (aot === 31 && asc.length >= 2) return 32 + (((asc[0] & 0x07) << 3) | (asc[1] >> 5));
  return aot;
}

// RFC 6381 string for HEVC from hvcC (ISO 14496-15 §E.3).
function hevcCodec(entryType, hvcc) {
  const b = hvcc;
  const profileSpace = ['', 'A', 'B', 'C'][b[1] >> 6];
  const tier = b[1] & 0x20 ? 'H' : 'L';
  const profile = b[1] & 0x1f;
  let compat = ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0;
  let reversed = 0; // the compatibility flags are written bit-reversed
  for (let i = 0; i < 32; i++) {
    reversed = ((reversed << 1) | (compat & 1)) >>> 0;
    compat >>>= 1;
  }
  const level = b[12];
  const constraints = Array.from(b.slice(6, 12));
  while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [entryType, `${profileSpace}${profile}`, reversed.toString(16), `${tier}${level}`];
  for (const c of constraints) parts.push(c.toString(16).toUpperCase());
  return parts.join('.');
}

// RFC 6381-style string for AV1 from av1C (AV1-ISOBMFF §5.3).
function av1Codec(av1c, bitDepthFromEntry) {
  const profile = av1c[1] >> 5;
  const level = av1c[1] & 0x1f;
  const tier = av1c[2] & 0x80 ? 'H' : 'M';
  const highBitdepth = (av1c[2] >> 6) & 1;
  const twelveBit = (av1c[2] >> 5) & 1;
  const bitDepth = highBitdepth ? (twelveBit ? 12 : 10) : bitDepthFromEntry || 8;
  return `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(bitDepth).padStart(2, '0')}`;
}

function parseSampleEntry(bytes, view, entry, track) {
  const type = entry.type;
  if (['avc1', 'avc3', 'hvc1', 'hev1', 'av01', 'vp09'].includes(type)) {
    const body = entry.bodyStart;
    track.width = view.getUint16(body + 24);
    track.height = view.getUint16(body + 26);
    const kids = listBoxes(bytes, body + VISUAL_SAMPLE_ENTRY_SIZE, entry.end);
    const config = (t) => kids.find((k) => k.type === t);
    if (type === 'avc1' || type === 'avc3') {
      const avcC = config('avcC');
      if (!avcC) throw new Error(`mp4: ${type} without avcC`);
      const c = bytes.subarray(avcC.bodyStart, avcC.end);
      track.codec = `${type}.${hex2(c[1])}${hex2(c[2])}${hex2(c[3])}`;
      track.description = c.slice();
    } else if (type === 'hvc1' || type === 'hev1') {
      const hvcC = config('hvcC');
      if (!hvcC) throw new Error(`mp4: ${type} without hvcC`);
      const c = bytes.subarray(hvcC.bodyStart, hvcC.end);
      track.codec = hevcCodec(type, c);
      track.description = c.slice();
    } else if (type === 'av01') {
      const av1C = config('av1C');
      if (!av1C) throw new Error('mp4: av01 without av1C');
      const c = bytes.subarray(av1C.bodyStart, av1C.end);
      track.codec = av1Codec(c, view.getUint16(body + 74) === 24 ? 8 : 0);
      track.description = c.slice();
    } else {
      track.codec = 'vp09.00.10.08'; // vpcC parsing is not needed by anything here yet
    }
  } else if (type === 'mp4a' || type === 'Opus' || type === 'opus') {
    const body = entry.bodyStart;
    track.channelCount = view.getUint16(body + 16);
    track.sampleSize = view.getUint16(body + 18);
    track.sampleRate = view.getUint32(body + 24) >>> 16;
    const kids = listBoxes(bytes, body + AUDIO_SAMPLE_ENTRY_SIZE, entry.end);
    if (type === 'mp4a') {
      const esds = kids.find((k) => k.type === 'esds');
      if (!esds) throw new Error('mp4: mp4a without esds');
      const { objectType, audioSpecificConfig } = parseEsds(bytes, esds);
      track.codec = objectType === 0x40 ? `mp4a.40.${audioObjectType(audioSpecificConfig)}` : `mp4a.${hex2(objectType)}`;
      track.description = audioSpecificConfig;
    } else {
      track.codec = 'opus';
      // Opus in ISOBMFF: the sample rate field is always 48000; WebCodecs needs
      // no description for mono/stereo (dOps is not the OpusHead it would want).
      track.sampleRate = 48000;
      track.description = null;
    }
  } else {
    track.codec = type;
  }
}

// Parses ftyp+moov. Each track: { id, handler, kind, timescale, codec,
// description, width, height, sampleRate, channelCount, defaults } where
// defaults are the trex values used when a fragment leaves them out.
export function parseInit(bytes) {
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = viewOf(bytes);
  const moov = listBoxes(bytes).find((b) => b.type === 'moov');
  if (!moov) throw new Error('mp4: init segment without moov');
  const trex = new Map();
  const mvex = child(bytes, moov, 'mvex');
  if (mvex) {
    for (const t of children(bytes, mvex, 'trex')) {
      const b = t.bodyStart + 4;
      trex.set(view.getUint32(b), {
        sampleDuration: view.getUint32(b + 8),
        sampleSize: view.getUint32(b + 12),
        sampleFlags: view.getUint32(b + 16),
      });
    }
  }
  const tracks = [];
  for (const trak of children(bytes, moov, 'trak')) {
    const tkhd = child(bytes, trak, 'tkhd');
    const mdhd = path(bytes, trak, 'mdia', 'mdhd');
    const hdlr = path(bytes, trak, 'mdia', 'hdlr');
    const stsd = path(bytes, trak, 'mdia', 'minf', 'stbl', 'stsd');
    if (!tkhd || !mdhd || !hdlr || !stsd) throw new Error('mp4: trak without tkhd/mdhd/hdlr/stsd');
    const tkhdVersion = bytes[tkhd.bodyStart];
    const id = view.getUint32(tkhd.bodyStart + (tkhdVersion === 1 ? 20 : 12));
    const mdhdVersion = bytes[mdhd.bodyStart];
    const timescale = view.getUint32(mdhd.bodyStart + (mdhdVersion === 1 ? 20 : 12));
    const handler = fourcc(bytes, hdlr.bodyStart + 8);
    const track = {
      id,
      handler,
      kind: handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other',
      timescale,
      codec: null,
      description: null,
      defaults: trex.get(id) || { sampleDuration: 0, sampleSize: 0, sampleFlags: 0 },
    };
    // stsd: fullbox header (4), entry_count (4), then sample entries.
    const entries = listBoxes(bytes, stsd.bodyStart + 8, stsd.end);
    if (entries.length) parseSampleEntry(bytes, view, entries[0], track);
    tracks.push(track);
  }
  return { tracks, trackById: new Map(tracks.map((t) => [t.id, t])) };
}

// ---------------------------------------------------------------- fragments

// Sample flags (ISO 14496-12 §8.8.3.1): sample_depends_on in bits 24-25
// (1 = depends on others, 2 = depends on none), sample_is_non_sync_sample bit 16.
export function isKeyframeFlags(flags) {
  const dependsOn = (flags >>> 24) & 0x3;
  const nonSync = (flags >>> 16) & 0x1;
  return dependsOn === 2 || (dependsOn === 0 && !nonSync);
}

// One moof and the mdat that follows it. `moof`/`mdat` are box records of
// listBoxes() over `bytes`. Returns the samples of every traf.
function parseMoofPair(bytes, moof, mdat, init) {
  const view = viewOf(bytes);
  const samples = [];
  let nextDataStart = mdat ? mdat.bodyStart : moof.end + 8;
  for (const traf of children(bytes, moof, 'traf')) {
    const tfhd = child(bytes, traf, 'tfhd');
    if (!tfhd) throw new Error('mp4: traf without tfhd');
    const tfhdFlags = view.getUint32(tfhd.bodyStart) & 0xffffff;
    let at = tfhd.bodyStart + 4;
    const trackId = view.getUint32(at);
    at += 4;
    const track = init.trackById.get(trackId);
    if (!track) throw new Error(`mp4: fragment for unknown track ${trackId}`);
    const defaults = { ...track.defaults };
    let base = moof.start; // default-base-is-moof, and what omit_tfhd_offset means in practice
    let explicitBase = false;
    if (tfhdFlags & 0x1) {
      // An absolute file offset: meaningless once the fragment is cut out of
      // its file. Data then starts in the mdat right after this moof.
      explicitBase = true;
      at += 8;
    }
    if (tfhdFlags & 0x2) at += 4; // sample_description_index
    if (tfhdFlags & 0x8) (defaults.sampleDuration = view.getUint32(at)), (at += 4);
    if (tfhdFlags & 0x10) (defaults.sampleSize = view.getUint32(at)), (at += 4);
    if (tfhdFlags & 0x20) (defaults.sampleFlags = view.getUint32(at)), (at += 4);

    let decodeTime = 0;
    const tfdt = child(bytes, traf, 'tfdt');
    if (tfdt) {
      const v = bytes[tfdt.bodyStart];
      decodeTime = v === 1 ? readU64(view, tfdt.bodyStart + 4) : view.getUint32(tfdt.bodyStart + 4);
    }

    for (const trun of children(bytes, traf, 'trun')) {
      const version = bytes[trun.bodyStart];
      const flags = view.getUint32(trun.bodyStart) & 0xffffff;
      let p = trun.bodyStart + 4;
      const count = view.getUint32(p);
      p += 4;
      let dataStart = nextDataStart;
      if (flags & 0x1) {
        const offset = view.getInt32(p);
        p += 4;
        if (!explicitBase) dataStart = base + offset;
      }
      let firstFlags = null;
      if (flags & 0x4) (firstFlags = view.getUint32(p)), (p += 4);
      for (let i = 0; i < count; i++) {
        const duration = flags & 0x100 ? view.getUint32((p += 4) - 4) : defaults.sampleDuration;
        const size = flags & 0x200 ? view.getUint32((p += 4) - 4) : defaults.sampleSize;
        let sampleFlags = flags & 0x400 ? view.getUint32((p += 4) - 4) : defaults.sampleFlags;
        if (i === 0 && firstFlags !== null) sampleFlags = firstFlags;
        let compositionOffset = 0;
        if (flags & 0x800) {
          compositionOffset = version === 0 ? view.getUint32(p) : view.getInt32(p);
          p += 4;
        }
        if (dataStart + size > bytes.length) throw new Error(`mp4: sample of track ${trackId} runs past its mdat`);
        const ts = track.timescale;
        samples.push({
          trackId,
          decodeTime, // in track timescale units
          timestamp: Math.round(((decodeTime + compositionOffset) * 1e6) / ts), // µs
          duration: Math.round((duration * 1e6) / ts), // µs
          keyframe: track.kind === 'audio' ? true : isKeyframeFlags(sampleFlags),
          data: bytes.subarray(dataStart, dataStart + size),
        });
        decodeTime += duration;
        dataStart += size;
      }
      nextDataStart = dataStart;
    }
    base = nextDataStart;
  }
  return samples;
}

// Every moof+mdat pair in `bytes` (a whole MoQ object, say) -> samples.
export function parseFragments(bytes, init) {
  const boxes = listBoxes(bytes);
  const samples = [];
  for (let i = 0; i < boxes.length; i++) {
    if (boxes[i].type !== 'moof') continue;
    const mdat = boxes[i + 1]?.type === 'mdat' ? boxes[i + 1] : null;
    samples.push(...parseMoofPair(bytes, boxes[i], mdat, init));
  }
  return samples;
}

// Incremental version for payloads that arrive in chunks: push() each chunk,
// get the samples of every moof+mdat pair completed by it. Sample data
// slices stay valid (each completed pair is copied out once).
export class FragmentStream {
  constructor(init) {
    this.init = init;
    this.buffer = new Uint8Array(64 * 1024);
    this.length = 0;
    this.pendingMoof = null; // a complete moof waiting for its mdat
  }

  push(chunk) {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + chunk.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length += chunk.length;
    const samples = [];
    let consumed = 0;
    for (;;) {
      const box = this.#nextBox(consumed);
      if (!box) break;
      const bytes = this.buffer.subarray(consumed, box.end);
      if (box.type === 'moof') {
        this.pendingMoof = bytes.slice();
      } else if (box.type === 'mdat' && this.pendingMoof) {
        const pair = new Uint8Array(this.pendingMoof.length + bytes.length);
        pair.set(this.pendingMoof);
        pair.set(bytes, this.pendingMoof.length);
        const [moofBox, mdatBox] = listBoxes(pair);
        samples.push(...parseMoofPair(pair, moofBox, mdatBox, this.init));
        this.pendingMoof = null;
      } // styp, sidx, prft, free...: nothing a player needs
      consumed = box.end;
    }
    if (consumed > 0) {
      this.buffer.copyWithin(0, consumed, this.length);
      this.length -= consumed;
    }
    return samples;
  }

  // Bytes received but not yet part of a complete box (at the end of a
  // payload this should be 0).
  get leftover() {
    return this.length;
  }

  #nextBox(at) {
    if (this.length - at < 8) return null;
    const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + at, this.length - at);
    let size = view.getUint32(0);
    if (size === 1) {
      if (this.length - at < 16) return null;
      size = readU64(view, 8);
    }
    if (size < 8) throw new Error(`mp4: box size ${size} in a fragment`);
    if (this.length - at < size) return null;
    return { type: fourcc(this.buffer, at + 4), end: at + size };
  }
}

export function describeTrack(t) {
  if (t.kind === 'video') return `${t.codec} ${t.width}x${t.height}`;
  if (t.kind === 'audio') return `${t.codec} ${t.sampleRate} Hz ${t.channelCount} ch`;
  return `${t.handler} ${t.codec}`;
}
