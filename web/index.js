// The relay's index page: the live broadcasts with their tracks, viewers and
// uptime, from GET /api/broadcasts, refreshed every two seconds.

const REFRESH_MS = 2000;

function formatBitrate(bitsPerSecond) {
  if (!Number.isFinite(bitsPerSecond) || bitsPerSecond <= 0) return '';
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

// One line per catalog track: "video avc1.64001f 1280×720 30 fps 1.5 Mbit/s".
function describeTrack(track) {
  const parts = [track.codec ?? track.container ?? '?'];
  if (track.width && track.height) parts.push(`${track.width}×${track.height}`);
  if (track.frame_rate) parts.push(`${Math.round(track.frame_rate)} fps`);
  if (track.sample_rate) parts.push(`${track.sample_rate / 1000} kHz`);
  if (track.channel_count) parts.push(track.channel_count === 1 ? 'mono' : `${track.channel_count} ch`);
  const bitrate = formatBitrate(track.bit_rate);
  if (bitrate) parts.push(bitrate);
  return parts.join(' ');
}

function pagePath(page, name) {
  return `/${page}/` + name.split('/').map(encodeURIComponent).join('/');
}

function row(broadcast) {
  const tr = document.createElement('tr');
  const nameCell = document.createElement('td');
  const link = document.createElement('a');
  link.href = pagePath('watch', broadcast.name);
  link.textContent = broadcast.name;
  nameCell.append(link);

  const tracksCell = document.createElement('td');
  const tracks = broadcast.catalog?.tracks;
  if (Array.isArray(tracks) && tracks.length > 0) {
    const list = document.createElement('ul');
    list.className = 'tracks';
    for (const track of tracks) {
      const item = document.createElement('li');
      const kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = track.kind ?? '';
      item.append(kind, describeTrack(track));
      list.append(item);
    }
    tracksCell.append(list);
  } else {
    tracksCell.textContent = broadcast.catalog_error ? 'catalog unreadable' : 'no catalog yet';
  }

  const viewers = document.createElement('td');
  viewers.className = 'number';
  viewers.textContent = String(broadcast.viewers);
  const uptime = document.createElement('td');
  uptime.className = 'number';
  uptime.textContent = formatDuration(broadcast.uptime_seconds);
  tr.append(nameCell, tracksCell, viewers, uptime);
  return tr;
}

async function refresh() {
  const summary = document.getElementById('summary');
  try {
    const response = await fetch('/api/broadcasts', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { broadcasts } = await response.json();
    const table = document.getElementById('broadcasts');
    table.tBodies[0].replaceChildren(...broadcasts.map(row));
    table.hidden = broadcasts.length === 0;
    document.getElementById('empty').hidden = broadcasts.length !== 0;
    summary.textContent = `${broadcasts.length} live broadcast${broadcasts.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    summary.textContent = `Cannot reach the relay (${error.message}); retrying…`;
  }
}

document.getElementById('publish').addEventListener('submit', () => {
  const name = document.getElementById('publish-name').value.trim();
  if (name) location.href = pagePath('publish', name);
});

refresh();
setInterval(refresh, REFRESH_MS);
