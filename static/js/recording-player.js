// The recording on the reviewer's timeline (rule K1): the PC camera and the
// screen side by side, each played from the WebM segment that holds the
// chosen moment (the server serves segments with HTTP Range, reviewers and
// administrators only). seek(t) puts both players at epoch second t.
import { api } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

const TRACKS = [['camera', t('recording_player.s1')], ['screen', t('recording_player.s2')]];

const clock = (t) => new Date(t * 1000).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });

/** The segment of `segments` (one track) that holds moment t, or the next one after it. */
export function segmentAt(segments, t) {
  const holding = segments.find((s) => s.start_t <= t && t <= s.end_t);
  if (holding) return holding;
  return segments.find((s) => s.start_t > t) || null;
}

export class RecordingPlayer {
  constructor(root, attemptId) {
    this.root = root;
    this.attemptId = attemptId;
    this.segments = { camera: [], screen: [] };
    this.videos = {};
    this.notes = {};
  }

  async load() {
    let data;
    try {
      data = await api('GET', `/api/attempts/${this.attemptId}/recording`);
    } catch (err) {
      this.root.replaceChildren(el('p', { class: 'meta', testid: 'rec-none' }, t('recording_player.rec-none', { message: err.message })));
      return false;
    }
    for (const s of data.segments) (this.segments[s.track] ||= []).push(s);
    if (!data.segments.length) {
      this.root.replaceChildren(el('p', { class: 'meta', testid: 'rec-none' }, t('recording_player.rec-none_2')));
      return false;
    }
    this.root.replaceChildren(...TRACKS.map(([track, title]) => {
      const video = el('video', { testid: `rec-${track}`, controls: true, muted: true, playsinline: true, preload: 'metadata' });
      const note = el('div', { class: 'meta', testid: `rec-${track}-note` }, t('recording_player.s5', { v: this.segments[track].length }));
      this.videos[track] = video;
      this.notes[track] = note;
      return el('figure', { class: 'rec' }, el('figcaption', {}, title), video, note);
    }));
    const first = Math.min(...data.segments.map((s) => s.start_t));
    this.seek(first);
    return true;
  }

  /** Both players at epoch second ``at`` (a violation's moment). */
  seek(at) {
    for (const [track] of TRACKS) {
      const video = this.videos[track];
      if (!video) continue;
      const segment = segmentAt(this.segments[track] || [], at);
      if (!segment) {
        video.removeAttribute('src');
        this.notes[track].textContent = t('recording_player.s6', { v: clock(at) });
        continue;
      }
      const offset = Math.max(0, at - segment.start_t);
      video.dataset.segment = String(segment.id);
      video.dataset.offset = offset.toFixed(2);
      const place = () => { video.currentTime = offset; };
      if (video.getAttribute('src') !== segment.url) {
        video.src = segment.url;
        video.addEventListener('loadedmetadata', place, { once: true });
      } else {
        place();
      }
      this.notes[track].textContent = t('recording_player.s7', { v: clock(segment.start_t), v2: clock(segment.end_t), v3: offset.toFixed(1) });
    }
  }
}
