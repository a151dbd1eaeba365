// The PC camera: getUserMedia, preview, and a WebRTC offer to the hub.
// aiortc does not trickle ICE, so the offer is sent once gathering is complete.
import { api } from './api.js';

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export async function openCamera() {
  // Throws NotAllowedError / NotFoundError: the caller shows the D2 prompt.
  return navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
}

export async function sendCamera(stream, pcToken) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  const answer = await api('POST', '/api/rtc/offer',
    { token: pcToken, sdp: pc.localDescription.sdp, type: pc.localDescription.type });
  await pc.setRemoteDescription(answer);
  return pc;
}
