// The PC's whole-screen share (rule J1): asked with getDisplayMedia, refused
// unless it is a whole screen (displaySurface "monitor", not a window or a
// tab), sent as the second video of the camera's peer connection (camera.js)
// at a low frame rate. The server measures it by the frames that arrive;
// what this page says about it can only lower its state.

export const SCREEN_IDLE_FPS = 1;

export const SCREEN_TEXT = {
  how: '请共享整个屏幕：点击“共享整个屏幕”，在浏览器弹出的窗口中选择“整个屏幕”（不要选择“窗口”或“标签页”），选中屏幕画面后点击“分享”。考试期间请不要点击浏览器下方的“停止共享”。',
  notMonitor: '您共享的是窗口或标签页，不是整个屏幕。请点击“共享整个屏幕”，在弹出的窗口中选择“整个屏幕”后点击“分享”。',
  refused: '未能共享屏幕：您取消了共享或浏览器禁止了屏幕共享。请点击“共享整个屏幕”，选择“整个屏幕”后点击“分享”。未共享整个屏幕无法答题。',
  unsupported: '当前浏览器不支持屏幕共享，请使用最新版 Chrome 或 360 浏览器（极速模式）。',
  stopped: '屏幕共享已停止，答题已暂停。请点击“共享整个屏幕”，选择“整个屏幕”后点击“分享”，即可继续答题。',
  waiting: '屏幕已共享，正在接入监考服务…',
  live: '正常（整个屏幕已接入监考服务）',
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
