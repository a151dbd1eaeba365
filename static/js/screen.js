// The PC's whole-screen share (rule J1): asked with getDisplayMedia, refused
// unless it is a whole screen (displaySurface "monitor", not a window or a
// tab), sent as the second video of the camera's peer connection (camera.js)
// at a low frame rate. The server measures it by the frames that arrive;
// what this page says about it can only lower its state.
import { tx } from './exam-text.js';

export const SCREEN_IDLE_FPS = 1;

export const SCREEN_TEXT = {
  how: tx('exam.screen.how'),
  notMonitor: tx('exam.screen.notMonitor'),
  refused: tx('exam.screen.refused'),
  unsupported: tx('exam.screen.unsupported'),
  stopped: tx('exam.screen.stopped'),
  waiting: tx('exam.screen.waiting'),
  live: tx('exam.screen.live'),
};

/** An error whose .prompt is the candidate's zh-CN explanation. */
function screenError(prompt, name) {
  return Object.assign(new Error(prompt), { prompt, name });
}

/** Ask for the whole screen; throws an error with a zh-CN .prompt otherwise. */
export async function openScreen() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    throw screenError(SCREEN_TEXT.unsupported, 'NotSupportedError');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({
      // a hint for the browser's picker; the check below is what counts
      video: { displaySurface: 'monitor', frameRate: { ideal: SCREEN_IDLE_FPS, max: 5 } },
      audio: false,
      selfBrowserSurface: 'exclude',
      surfaceSwitching: 'exclude',
      monitorTypeSurfaces: 'include',
    });
  } catch (err) {
    throw screenError(SCREEN_TEXT.refused, err && err.name);
  }
  const track = stream.getVideoTracks()[0];
  const surface = track && track.getSettings ? track.getSettings().displaySurface : undefined;
  if (surface !== 'monitor') {
    for (const t of stream.getTracks()) t.stop();
    throw screenError(SCREEN_TEXT.notMonitor, 'NotMonitorError');
  }
  track.contentHint = 'text';  // sharp text over smooth motion
  return stream;
}
